"""The web service: JSON API, OpenAPI, /metrics, treasury and owner-queue pages over a run's output folder."""

from __future__ import annotations

import argparse
import html
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from reconstream.shells.cli_serve import add_serve_commands, add_serve_option, parse_address, serving
from reconstream.shells.embedded import run
from reconstream.shells.metrics import SLA_METRICS, RunMetrics
from reconstream.shells.serve import build_app, start_background
from reconstream.shells.web import RunFolder, create_app
from test_metrics import observed_month

OWNERS = ("ap", "vendor_master", "treasury", "integration")
MONEY_FIELDS = ("amount", "booked_balance", "in_flight_outgoing", "projected_balance")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, RunMetrics]:
    input_dir, out_dir, metrics, _ = observed_month(tmp_path_factory.mktemp("web"))
    return input_dir, out_dir, metrics


@pytest.fixture(scope="module")
def client(month: tuple[Path, Path, RunMetrics]) -> TestClient:
    input_dir, out_dir, metrics = month
    return TestClient(create_app(RunFolder(out_dir, input_dir), metrics.registry))


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def latest_exceptions(out_dir: Path) -> dict[str, dict]:
    return {record["exception_id"]: record for record in lines(out_dir / "exceptions.jsonl")}


def assert_no_float_money(value: object) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in MONEY_FIELDS and inner is not None:
                assert isinstance(inner, str), f"{key}={inner!r} must be a decimal string"
            assert_no_float_money(inner)
    elif isinstance(value, list):
        for inner in value:
            assert_no_float_money(inner)


def test_cash_positions(client: TestClient, month: tuple[Path, Path, RunMetrics]) -> None:
    body = client.get("/api/cash-positions").json()
    expected = orjson.loads((month[1] / "cash_positions.json").read_bytes())
    assert body["as_of"] == expected["as_of"]
    assert {(p["account"], p["currency"], p["projected_balance"]) for p in body["positions"]} == {
        (p["account"], p["currency"], p["projected_balance"]) for p in expected["positions"]
    }
    assert_no_float_money(body)


def test_exceptions_latest_record_filtered_and_oldest_first(
    client: TestClient, month: tuple[Path, Path, RunMetrics]
) -> None:
    everything = latest_exceptions(month[1])
    body = client.get("/api/exceptions").json()
    assert body["total"] == len(everything) == len(body["items"])
    assert {e["exception_id"]: e["status"] for e in body["items"]} == {k: v["status"] for k, v in everything.items()}
    for owner in OWNERS:
        items = client.get("/api/exceptions", params={"owner": owner, "status": "open"}).json()["items"]
        assert items and all(e["owner_queue"] == owner and e["status"] == "open" for e in items)
        seen = [datetime.fromisoformat(e["first_seen"]) for e in items]
        assert seen == sorted(seen)
    resolved = client.get("/api/exceptions", params={"status": "resolved"}).json()["items"]
    assert [e["category"] for e in resolved] == ["erp_posting_failed"]
    assert resolved[0]["resolution"].startswith("posted as")
    by_category = client.get("/api/exceptions", params={"category": "duplicate_invoice"}).json()
    assert by_category["total"] == sum(1 for e in everything.values() if e["category"] == "duplicate_invoice") > 0
    page = client.get("/api/exceptions", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == len(everything) and len(page["items"]) == 2
    assert client.get("/api/exceptions", params={"owner": "nobody"}).status_code == 422
    assert_no_float_money(body)


def paid_invoice(out_dir: Path) -> str:
    statuses: dict[str, list[str]] = {}
    for update in lines(out_dir / "status_updates.jsonl"):
        statuses.setdefault(update["invoice_id"], []).append(update["status"])
    return next(
        i for i, s in statuses.items() if s[:4] == ["validated", "approved", "booked", "payment_sent"] and "paid" in s
    )


def test_invoice_timeline_in_time_order(client: TestClient, month: tuple[Path, Path, RunMetrics]) -> None:
    out_dir = month[1]
    invoice_id = paid_invoice(out_dir)
    body = client.get(f"/api/invoices/{invoice_id}").json()
    assert body["status"] == "paid"
    own = [u for u in lines(out_dir / "status_updates.jsonl") if u["invoice_id"] == invoice_id]
    shown = [e["record"]["update_id"] for e in body["timeline"] if e["kind"] == "status_update"]
    assert [u["update_id"] for u in own] == [u for u in shown if u in {o["update_id"] for o in own}]
    times = [datetime.fromisoformat(e["at"]) for e in body["timeline"]]
    assert times == sorted(times)
    matches = [e for e in body["timeline"] if e["kind"] == "match"]
    assert matches and invoice_id in matches[0]["record"]["invoice_ids"]
    assert all(
        e["record"].get("correlation_id") in body["correlation_ids"] or invoice_id in orjson.dumps(e["record"]).decode()
        for e in body["timeline"]
    )
    assert_no_float_money(body)
    assert client.get("/api/invoices/AP-NOT-THERE").status_code == 404


def test_invoice_timeline_shows_its_exceptions_raised_and_resolved(
    client: TestClient, month: tuple[Path, Path, RunMetrics]
) -> None:
    resolved = next(e for e in latest_exceptions(month[1]).values() if e["status"] == "resolved")
    body = client.get(f"/api/invoices/{resolved['refs'][0]}").json()
    kinds = [e["kind"] for e in body["timeline"] if e["kind"].startswith("exception")]
    assert kinds == ["exception_raised", "exception_resolved"]
    assert body["status"] == "booked"
    page = client.get(f"/invoices/{resolved['refs'][0]}")
    assert page.status_code == 200 and "exception resolved" in page.text


def test_openapi_document_describes_the_api(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert {"/api/cash-positions", "/api/exceptions", "/api/invoices/{invoice_id}", "/metrics"} <= set(
        document["paths"]
    )
    parameters = {p["name"] for p in document["paths"]["/api/exceptions"]["get"]["parameters"]}
    assert {"owner", "category", "status"} <= parameters
    schemas = document["components"]["schemas"]
    exception_schema = next(v for k, v in schemas.items() if k.startswith("ReconException"))
    amount = exception_schema["properties"]["amount"]
    assert "number" not in orjson.dumps(amount).decode()  # money is a decimal string in the API
    assert not any(path.startswith(("/treasury", "/queues")) for path in document["paths"])  # pages are not API


def test_metrics_endpoint_parses(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "recon_events_processed",
        "recon_exceptions_open",
        "recon_exception_open_age_seconds",
        *SLA_METRICS,
    } <= names


def test_pages(client: TestClient, month: tuple[Path, Path, RunMetrics]) -> None:
    index = client.get("/")
    assert index.status_code == 200 and all(f'href="/queues/{owner}"' in index.text for owner in OWNERS)
    treasury = client.get("/treasury")
    assert treasury.status_code == 200
    for position in orjson.loads((month[1] / "cash_positions.json").read_bytes())["positions"]:
        assert position["account"] in treasury.text and position["projected_balance"] in treasury.text
    in_flight = client.get("/api/payments/in-flight").json()
    assert in_flight and all(p["end_to_end_id"] in treasury.text for p in in_flight)
    assert all(p["amount"] and p["currency"] and p["batch_id"] for p in in_flight)  # as the engine applied them
    assert client.get("/queues/nobody").status_code == 404


@pytest.mark.parametrize("owner", OWNERS)
def test_owner_queue_shows_its_open_exceptions_oldest_first(
    client: TestClient, month: tuple[Path, Path, RunMetrics], owner: str
) -> None:
    page = client.get(f"/queues/{owner}")
    assert page.status_code == 200
    rows = re.findall(r'<tr id="(exc-[0-9a-f]+)">', page.text)
    expected = sorted(
        (e for e in latest_exceptions(month[1]).values() if e["owner_queue"] == owner and e["status"] == "open"),
        key=lambda e: (datetime.fromisoformat(e["first_seen"]), e["exception_id"]),
    )
    assert rows == [e["exception_id"] for e in expected] and rows
    first = expected[0]
    assert html.escape(first["reason"].split(":")[0]) in page.text and first["category"] in page.text


def test_a_running_folder_is_tailed_and_a_restarted_one_reindexed(
    month: tuple[Path, Path, RunMetrics], tmp_path: Path
) -> None:
    source = month[1]
    live = tmp_path / "out"
    live.mkdir()
    full = (source / "status_updates.jsonl").read_bytes()
    half = full[: full.index(b"\n", len(full) // 2) + 1]
    (live / "status_updates.jsonl").write_bytes(half + b'{"partial line')  # a line still being written
    folder = RunFolder(live, min_refresh_interval=0)
    before = sum(folder.counts()["status_updates"].values())
    assert before == half.count(b"\n")
    (live / "status_updates.jsonl").write_bytes(full)
    shutil.copy(source / "exceptions.jsonl", live / "exceptions.jsonl")
    assert sum(folder.counts()["status_updates"].values()) == full.count(b"\n")
    assert folder.counts()["exceptions"] > 0
    (live / "status_updates.jsonl").write_bytes(half)  # a new run (or a resume) cut the file back
    (live / "exceptions.jsonl").write_bytes(b"")
    assert sum(folder.counts()["status_updates"].values()) == half.count(b"\n")
    assert folder.counts()["exceptions"] == 0
    assert folder.cash_positions()["positions"] == []  # not written until the run ends
    rewritten = full.replace(b'"validated"', b'"on_hold"  ', 1)  # a new run: same length or longer, new content
    (live / "status_updates.jsonl").write_bytes(rewritten)
    assert folder.counts()["status_updates"].get("on_hold", 0) == full.count(b'"on_hold"') + 1


def test_serve_a_finished_folder_in_the_background(month: tuple[Path, Path, RunMetrics]) -> None:
    input_dir, out_dir, _ = month
    replayed = TestClient(build_app(out_dir, input_dir=input_dir)).get("/metrics").text  # rebuilt from the folder
    assert 'recon_events_processed_total{outcome="applied",stream="invoices"} 300.0' in replayed
    server = start_background(out_dir, "127.0.0.1", 0, RunMetrics().registry, input_dir)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/api/exceptions?owner=treasury", timeout=5)
        assert response.status_code == 200 and response.json()["total"] > 0
        assert httpx.get(f"http://127.0.0.1:{server.port}/treasury", timeout=5).status_code == 200
    finally:
        server.stop()
    assert not server.thread.is_alive()


def test_cli_arguments() -> None:
    assert parse_address("0.0.0.0:9108") == ("0.0.0.0", 9108)
    assert parse_address(":8080") == ("127.0.0.1", 8080)
    assert parse_address("8080") == ("127.0.0.1", 8080)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_address("host:port")
    parser = argparse.ArgumentParser(prog="recon")
    commands = parser.add_subparsers(required=True)
    add_serve_commands(commands)
    run = commands.add_parser("run")
    add_serve_option(run)
    args = parser.parse_args(["serve", "--out", "x", "--port", "9"])
    assert (args.out, args.host, args.port) == (Path("x"), "127.0.0.1", 9)
    assert parser.parse_args(["run", "--serve", "0.0.0.0:9000"]).serve == ("0.0.0.0", 9000)
    assert parser.parse_args(["run"]).serve is None


def test_serve_option_serves_live_metrics_while_the_run_goes_on(
    month: tuple[Path, Path, RunMetrics], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    input_dir = month[0]
    with serving(("127.0.0.1", 0), tmp_path / "out", input_dir, keep_serving=False) as metrics:
        assert metrics is not None
        url = re.search(r"http://[^/]+/", capsys.readouterr().err).group(0)  # type: ignore[union-attr]
        run(input_dir, tmp_path / "out", metrics=metrics)  # what `recon run --serve` does
        scraped = httpx.get(url + "metrics", timeout=5).text
        assert 'recon_events_processed_total{outcome="applied",stream="invoices"} 300.0' in scraped
        deadline = time.monotonic() + 5
        while httpx.get(url + "api/exceptions?owner=ap", timeout=5).json()["total"] == 0:  # a live view may lag
            assert time.monotonic() < deadline, "the run's exceptions never showed"
            time.sleep(0.05)
    with serving(None, tmp_path / "unused", None) as nothing:
        assert nothing is None
