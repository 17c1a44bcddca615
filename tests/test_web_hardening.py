"""The web service hardened (issue #15, item 7 and the security headers of item 10): the pages and the API
show only what the engine decided, whatever the input folder beside the run holds (refused payment lines
naming a real payment, amounts that are no decimal string, bank acks the engine refused); invoice ids of
UBL invoices (vendor/number, with whatever characters the supplier's number has) resolve from every link
to them; every response carries the browser's security headers, and the pages render under their policy.

One generated month is run twice: as generated (the clean run, which picks the payments and invoices the
hostile lines aim at), and with those invoices renamed to UBL ids and the hostile lines added (the hostile
run, with a case store). The engine refuses every hostile line, so both runs decide the same payments."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from reconstream.shells.cases.store import CaseStore
from reconstream.shells.embedded import run
from reconstream.shells.serve import BackgroundServer
from reconstream.shells.sinks.cases import CaseStoreSink
from reconstream.shells.web import RunFolder, create_app
from reconstream.synthetic import generate
from servers import free_port, wait_until_healthy
from test_cases_browser import browser  # noqa: F401  (the headless Chromium fixture)
from test_serve_auth import RECON
from test_web import lines

if TYPE_CHECKING:
    import httpx2  # what fastapi.testclient answers with (plain httpx is deprecated there)

# Supplier invoice numbers as UBL invoices carry them; the engine's id of such an invoice is vendor/number.
UBL_NUMBERS = ("INV/2026/0042", "RE 2026#17", "Q1%20/7", "../0008", "A?b=1")
PLANTED = ("Attacker Ltd", "9999999.99", "9,999,999.99", "Object Amount")
IN_FLIGHT_API = "/api/payments/in-flight"


@dataclass(frozen=True)
class Month:
    clean_out: Path
    hostile_in: Path
    hostile_out: Path
    float_e2e: str  # in flight; a refused line before its batch names it with creditor "Attacker Ltd"
    object_e2e: str  # in flight; a refused line names it with an amount that is a JSON object
    renamed: dict[str, str]  # the generated invoice id -> the UBL id it carries in the hostile run
    queued_invoice: str  # a renamed invoice with an open exception in the AP queue


def client_of(out_dir: Path, input_dir: Path | None = None, store: CaseStore | None = None) -> TestClient:
    return TestClient(create_app(RunFolder(out_dir, input_dir), case_store=store), raise_server_exceptions=False)


def rename(value: Any, renamed: dict[str, str]) -> Any:
    """`value` with every generated invoice id replaced by its UBL id (what the hostile run calls it)."""
    return orjson.loads(
        re.sub(
            rb'"(AP-[0-9]+)"',
            lambda found: orjson.dumps(renamed.get(found.group(1).decode(), found.group(1).decode())),
            orjson.dumps(value),
        )
    )


def hostile_batch(real: dict[str, Any], e2e: str, amount: Any, creditor: str, name: str) -> dict[str, Any]:
    """A batch the engine refuses (its amount is no decimal string) naming a payment of `real`."""
    instruction = next(i for i in real["payload"]["instructions"] if i["end_to_end_id"] == e2e)
    payload = {
        **real["payload"],
        "batch_id": f"HOSTILE-{name}",
        "instructions": [{**instruction, "amount": amount, "creditor_name": creditor}],
    }
    return {**real, "event_id": f"evt-hostile-{name}", "payload": payload}


def events(path: Path) -> list[dict[str, Any] | bytes]:
    """The lines of an input file: events as dicts, and the generator's planted malformed lines as they are."""
    read: list[dict[str, Any] | bytes] = []
    for line in path.read_bytes().splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            event = None
        read.append(event if isinstance(event, dict) and isinstance(event.get("payload"), dict) else line)
    return read


def write_events(path: Path, records: list[dict[str, Any] | bytes]) -> None:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records))


def hostile_copies(batch: dict[str, Any], float_e2e: str, object_e2e: str) -> list[dict[str, Any]]:
    instructions = batch["payload"].get("instructions")
    carried = {i.get("end_to_end_id") for i in instructions if isinstance(i, dict)} if instructions else set()
    copies = []
    if float_e2e in carried:
        copies.append(hostile_batch(batch, float_e2e, 9999999.99, "Attacker Ltd", "float"))
    if object_e2e in carried:
        copies.append(hostile_batch(batch, object_e2e, {"value": "1.00"}, "Object Amount", "object"))
    return copies


def add_hostile_batches(input_dir: Path, float_e2e: str, object_e2e: str) -> None:
    """Each refused line just before the real batch it copies: earlier in the input than the real row."""
    records: list[dict[str, Any] | bytes] = []
    for batch in events(input_dir / "payment_batches.jsonl"):
        if isinstance(batch, dict):
            records.extend(hostile_copies(batch, float_e2e, object_e2e))
        records.append(batch)
    write_events(input_dir / "payment_batches.jsonl", records)


def add_hostile_acks(input_dir: Path) -> None:
    """Mid-stream (after valid events): a bank ack without a timezone, and one naming its batch by a list."""
    acks = events(input_dir / "bank_acks.jsonl")
    half = len(acks) // 2
    middle = next(a for a in acks[half:] if isinstance(a, dict))
    naive = {**middle, "event_id": "evt-hostile-naive-ack", "event_time": middle["event_time"].rstrip("Z")}
    listed = {
        **middle,
        "event_id": "evt-hostile-listed-ack",
        "payload": {**middle["payload"], "original_batch_id": [middle["payload"]["original_batch_id"]]},
    }
    write_events(input_dir / "bank_acks.jsonl", [*acks[:half], naive, listed, *acks[half:]])


def rename_invoices(input_dir: Path, renamed: dict[str, str]) -> None:
    for path in input_dir.glob("*.jsonl"):
        text = path.read_bytes()
        for old, new in renamed.items():
            text = text.replace(orjson.dumps(old), orjson.dumps(new))
        path.write_bytes(text)


def ubl_ids(input_dir: Path, invoice_ids: list[str]) -> dict[str, str]:
    captured = [i["payload"] for i in events(input_dir / "invoices.jsonl") if isinstance(i, dict)]
    vendors = {i.get("invoice_id"): i.get("vendor_id") for i in captured}
    return {old: f"{vendors[old]}/{number}" for old, number in zip(invoice_ids, UBL_NUMBERS, strict=True)}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    root = tmp_path_factory.mktemp("hardening")
    clean_in, clean_out, hostile_in, hostile_out = root / "in", root / "out", root / "hostile-in", root / "hostile-out"
    generate(clean_in, invoices=300, seed=3)
    run(clean_in, clean_out)
    in_flight = client_of(clean_out).get(IN_FLIGHT_API).json()
    queued = next(
        e["refs"][0]
        for e in lines(clean_out / "exceptions.jsonl")
        if e["owner_queue"] == "ap" and e["status"] == "open" and e["refs"][0].startswith("AP-")
    )
    targets = [p["invoice_ids"][0] for p in in_flight[2:6] if queued not in p["invoice_ids"]][:4]
    renamed = ubl_ids(clean_in, [*targets, queued])
    shutil.copytree(clean_in, hostile_in)
    rename_invoices(hostile_in, renamed)
    float_e2e, object_e2e = in_flight[0]["end_to_end_id"], in_flight[1]["end_to_end_id"]
    add_hostile_batches(hostile_in, float_e2e, object_e2e)
    add_hostile_acks(hostile_in)
    hostile_out.mkdir()
    store = CaseStore.open(f"sqlite:///{hostile_out / 'cases.sqlite'}")
    try:
        run(hostile_in, hostile_out, sinks=lambda run_id: [CaseStoreSink(store, f"run:{run_id}")])
    finally:
        store.close()
    refused = {letter.get("event_id") for letter in lines(hostile_out / "dead_letters.jsonl")}
    hostile_ids = {"evt-hostile-float", "evt-hostile-object", "evt-hostile-naive-ack", "evt-hostile-listed-ack"}
    assert hostile_ids <= refused, "the engine must refuse every hostile line"
    return Month(clean_out, hostile_in, hostile_out, float_e2e, object_e2e, renamed, renamed[queued])


@pytest.fixture(scope="module")
def store(month: Month) -> Iterator[CaseStore]:
    opened = CaseStore.open(f"sqlite:///{month.hostile_out / 'cases.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def served(month: Month) -> Iterator[str]:
    """`recon serve --input` over the hostile run, as a real process (no [auth]: loopback, local operator)."""
    port = free_port()
    command = [*RECON, "serve", "--out", str(month.hostile_out), "--input", str(month.hostile_in)]
    server = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="module")
def live(month: Month) -> Iterator[str]:
    """The hostile run's folder without its case store (so the owner queue pages render), on a real uvicorn:
    the test client decodes a path twice, a server once."""
    server = BackgroundServer(create_app(RunFolder(month.hostile_out)), "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


# -- item 7: what the engine decided, never the raw input ------------------------------------------------


def test_a_refused_payment_line_never_replaces_the_engines_row_on_treasury(month: Month) -> None:
    page = client_of(month.hostile_out, month.hostile_in).get("/treasury")
    assert page.status_code == 200
    assert month.float_e2e in page.text and month.object_e2e in page.text  # the engine's payments are listed
    assert not [planted for planted in PLANTED if planted in page.text]


def test_an_amount_that_is_no_string_never_breaks_the_in_flight_api(month: Month) -> None:
    client = client_of(month.hostile_out, month.hostile_in)
    for _ in range(3):  # it answered 500 on every call
        response = client.get(IN_FLIGHT_API)
        assert response.status_code == 200
        assert {month.float_e2e, month.object_e2e} <= {p["end_to_end_id"] for p in response.json()}


def test_refused_lines_change_no_payment_the_pages_show(month: Month) -> None:
    """The hostile run's payments in flight and cash are the clean run's: the engine refused every added line."""
    hostile = client_of(month.hostile_out, month.hostile_in)
    clean = client_of(month.clean_out)
    assert hostile.get(IN_FLIGHT_API).json() == rename(clean.get(IN_FLIGHT_API).json(), month.renamed)
    assert hostile.get("/api/cash-positions").json() == clean.get("/api/cash-positions").json()


def test_the_input_folder_changes_nothing_the_pages_and_api_show(month: Month) -> None:
    with_input, without = client_of(month.hostile_out, month.hostile_in), client_of(month.hostile_out)
    for path in ("/treasury", "/", IN_FLIGHT_API, "/api/cash-positions", "/queues/treasury"):
        assert with_input.get(path).text == without.get(path).text, path


def test_recon_serve_starts_whatever_bank_acks_it_is_given(served: str, month: Month) -> None:
    """The run's input holds bank acks the engine refused (no timezone; a list for a batch id)."""
    assert httpx.get(f"{served}/metrics", timeout=10).status_code == 200
    treasury = httpx.get(f"{served}/treasury", timeout=10)
    assert treasury.status_code == 200 and not [p for p in PLANTED if p in treasury.text]


# -- item 7: ids with "/" ---------------------------------------------------------------------------------

INVOICE_LINK = re.compile(r'<a class="id" href="(/invoices/[^"]*)">([^<]*)</a>')


def test_ubl_invoice_ids_resolve_from_every_link_to_them(live: str, month: Month) -> None:
    pages = ["/treasury", "/queues/ap", *(f"/invoices/{quote(i, safe='')}" for i in month.renamed.values())]
    links: dict[str, str] = {}
    with httpx.Client(base_url=live, timeout=10) as client:
        for path in pages:
            page = client.get(path)
            assert page.status_code == 200, path
            links.update((html.unescape(text), html.unescape(href)) for href, text in INVOICE_LINK.findall(page.text))
        assert set(month.renamed.values()) <= set(links)  # every renamed invoice is linked from some page
        for invoice_id, href in links.items():
            target = client.get(href)  # as a browser follows it: no fragment, no dot segments
            assert target.status_code == 200, (invoice_id, href)
            assert f'<span class="id">{html.escape(invoice_id)}</span>' in target.text, (invoice_id, href)


def test_the_api_takes_ubl_invoice_ids_encoded_or_with_their_slashes(live: str, month: Month) -> None:
    for invoice_id in month.renamed.values():
        body = httpx.get(f"{live}/api/invoices/{quote(invoice_id, safe='')}", timeout=10).json()
        assert body["invoice_id"] == invoice_id and body["timeline"]
    plain = next(i for i in month.renamed.values() if i.endswith("INV/2026/0042"))
    assert httpx.get(f"{live}/api/invoices/{plain}", timeout=10).json()["invoice_id"] == plain


# -- item 10: security headers ----------------------------------------------------------------------------


def policy_of(response: httpx2.Response) -> dict[str, list[str]]:
    policy = response.headers.get("content-security-policy", "")
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def served_paths(month: Month) -> list[str]:
    exception_id = lines(month.hostile_out / "exceptions.jsonl")[0]["exception_id"]
    invoice = quote(month.queued_invoice, safe="")
    return [
        "/", "/treasury", "/queues/ap", f"/invoices/{invoice}", "/login", "/cases", f"/cases/{exception_id}",
        "/cases/export.csv", "/api/cases", f"/api/cases/{exception_id}", "/api/exceptions", "/api/cash-positions",
        IN_FLIGHT_API, f"/api/invoices/{invoice}", "/api/audit/cases", "/openapi.json", "/metrics", "/docs",
        "/healthz", "/readyz", "/no-such-page", "/api/invoices/no-such-invoice",
    ]  # fmt: skip


def test_every_response_carries_the_security_headers(month: Month, store: CaseStore) -> None:
    client = client_of(month.hostile_out, store=store)
    for path in [*served_paths(month), "/docs-static/swagger-ui.css"]:
        response = client.get(path)
        headers = response.headers
        assert headers.get("x-frame-options") == "DENY", path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "no-referrer", path
        policy = policy_of(response)
        assert policy.get("frame-ancestors") == ["'none'"], path
        assert policy.get("script-src", policy.get("default-src")), path
        assert not {"'unsafe-inline'", "'unsafe-eval'"} & {v for values in policy.values() for v in values}, path
        if not path.startswith("/docs-static/"):  # case data and API answers are never kept in a cache
            assert headers.get("cache-control") == "no-store", path


def test_an_unhandled_error_is_answered_with_the_headers_too(month: Month) -> None:
    app = create_app(RunFolder(month.hostile_out))

    def failing() -> None:
        raise RuntimeError("a bug in a route")

    app.add_api_route("/failing", failing)
    response = TestClient(app, raise_server_exceptions=False).get("/failing")
    assert response.status_code == 500
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("cache-control") == "no-store"
    assert policy_of(response).get("frame-ancestors") == ["'none'"]


def test_inline_style_and_script_are_only_what_the_policy_names(month: Month, store: CaseStore) -> None:
    client = client_of(month.hostile_out, store=store)
    for path in served_paths(month):
        response = client.get(path)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        policy = policy_of(response)
        for tag, directive in (("style", "style-src"), ("script", "script-src")):
            for inline in re.findall(rf"<{tag}>(.*?)</{tag}>", response.text, re.DOTALL):
                assert sha256_source(inline) in policy.get(directive, []), (path, tag)
        assert not re.search(r"<[^>]+\sstyle=", response.text), path  # no style attributes: no 'unsafe-inline'


def test_pages_render_under_their_policy_in_a_browser(served: str, browser: Browser) -> None:  # noqa: F811
    page = browser.new_context().new_page()
    page.add_init_script(
        "window.refused = []; document.addEventListener('securitypolicyviolation', "
        "e => window.refused.push(`${e.violatedDirective} ${e.blockedURI}`))"
    )
    for path in ("/cases", "/treasury"):
        page.goto(f"{served}{path}")
        assert page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor") == "rgb(29, 36, 48)"
        assert page.evaluate("window.refused") == [], path
    page.goto(f"{served}/docs")
    page.wait_for_selector("#swagger-ui .swagger-ui")  # Swagger UI's bundle and start-up script ran
    assert page.evaluate("window.refused") == []
