"""The AP intake over real HTTP: uvicorn on a loopback port serving the web app with the intake mounted, signed
canonical events and real UBL/PEPPOL documents pushed to it, the input files it appends, and `recon run` over
them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from reconstream.models.events import Stream
from reconstream.shells.formats.ingest import ingest_file
from reconstream.shells.intake import (
    EVENTS_PATH,
    UBL_PATH,
    Accepted,
    FileIntakeWriter,
    Intake,
    IntakeConfigError,
    IntakeSettings,
    Platform,
    intake_app,
)
from reconstream.shells.intake import writer as writer_module
from reconstream.shells.secrets import SecretError
from reconstream.shells.serve import BackgroundServer
from reconstream.shells.web import RunFolder, create_app
from reconstream.shells.webhooks.signing import signature

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "tests" / "fixtures" / "bank"
UBL_INVOICE = BANK / "ubl_invoice_peppol.xml"
UBL_NO_BUYER = BANK / "real" / "connectingeurope-en16931" / "ubl-tc434-example7.xml"
COUPA_SECRET = "whsec-coupa-0123456789abcdef"
CONCUR_SECRET = "whsec-concur-fedcba9876543210"
MAX_BODY = 256 * 1024


# One client for every request: httpx.post would build a TLS context per call (a tenth of a second each).
CLIENT = httpx.Client(timeout=10)


@dataclass
class Served:
    base: str
    input_dir: Path
    intake: Intake

    def lines(self, stream: str) -> list[dict[str, Any]]:
        path = self.input_dir / f"{stream}.jsonl"
        return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []

    def post(
        self,
        path: str,
        body: bytes,
        platform: str = "coupa",
        secret: str = COUPA_SECRET,
        at: int | None = None,
        **headers: str | bytes,
    ) -> httpx.Response:
        signed = signature(secret.encode(), int(time.time()) if at is None else at, body)
        sent = {"Recon-Platform": platform, "Recon-Signature": signed, **headers}
        # httpx takes str and bytes values side by side; its hints take one or the other. Bytes are sent on purpose.
        return CLIENT.post(f"{self.base}{path}", content=body, headers=sent)  # type: ignore[arg-type]

    def events(self, *events: Any, **kwargs: Any) -> httpx.Response:
        body = orjson.dumps(events[0] if len(events) == 1 else list(events))
        return self.post(EVENTS_PATH, body, **kwargs)


@contextmanager
def serving(folder: Path) -> Iterator[Served]:
    """The web service's own app (an empty run folder) with the intake router included, as `recon serve` would,
    on a loopback port; platform coupa's secret from the environment, concur's from a file."""
    (folder / "concur.secret").write_text(CONCUR_SECRET + "\n")
    all_streams = (
        Stream.VENDORS,
        Stream.PURCHASE_ORDERS,
        Stream.GOODS_RECEIPTS,
        Stream.INVOICES,
        Stream.INVOICE_STATUS,
    )
    settings = IntakeSettings(
        input_dir=folder / "in",
        platforms=(
            Platform("coupa", secret_env="TEST_COUPA_SECRET", streams=all_streams),
            Platform("concur", secret_file=folder / "concur.secret", streams=(Stream.INVOICES,)),
        ),
        max_body_bytes=MAX_BODY,
        max_events=50,
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TEST_COUPA_SECRET", COUPA_SECRET)
        intake = Intake.open(settings)
    (folder / "out").mkdir()
    app = create_app(RunFolder(folder / "out"))
    app.include_router(intake.router())
    server = BackgroundServer(app, "127.0.0.1", 0).start()
    try:
        yield Served(f"http://127.0.0.1:{server.port}", settings.input_dir, intake)
    finally:
        server.stop()
        intake.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A server of its own, for a test that stores events."""
    with serving(tmp_path) as server:
        yield server


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the tests of what is refused: none of them stores anything, so its folder stays empty."""
    with serving(tmp_path_factory.mktemp("refusing")) as server:
        yield server
        assert list(server.input_dir.glob("*.jsonl")) == []


def envelope(event_id: str, event_type: str, at: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "source_system": "coupa",
        "event_time": at,
        "payload": payload,
    }


def invoice(event_id: str = "coupa-inv-1", invoice_id: str = "I1", net: str = "100.00") -> dict[str, Any]:
    payload = {
        "invoice_id": invoice_id,
        "supplier_invoice_number": f"INV-{invoice_id}",
        "vendor_id": "V1",
        "company_code": "1000",
        "invoice_date": "2026-11-03",
        "currency": "EUR",
        "net_amount": net,
        "tax_amount": "19.00",
        "gross_amount": f"{Decimal(net) + Decimal('19.00')}",
    }
    return envelope(event_id, "invoice.captured", "2026-11-03T09:00:00Z", payload)


def nordwind_master_data() -> list[dict[str, Any]]:
    """The vendor, order and receipt the PEPPOL fixture invoice refers to, so the engine can validate it."""
    vendor = {
        "vendor_id": "DE123456789",
        "name": "Nordwind Logistik GmbH",
        "bank_accounts": [{"iban": "DE89370400440532013000"}],
    }
    order = {
        "po_number": "PO-4500000042",
        "vendor_id": "DE123456789",
        "company_code": "MUSTER-HOLDING-1000",
        "currency": "EUR",
        "order_date": "2026-10-20",
        "lines": [
            {"line_no": 10, "quantity": "8", "unit_price": "100.00"},
            {"line_no": 20, "quantity": "4", "unit_price": "50.00"},
        ],
    }
    receipt = {
        "gr_number": "GR-77",
        "po_number": "PO-4500000042",
        "receipt_date": "2026-10-30",
        "lines": [{"po_line_no": 10, "quantity": "8"}, {"po_line_no": 20, "quantity": "4"}],
    }
    return [
        envelope("coupa-v-1", "vendor.upserted", "2026-10-01T00:00:00Z", vendor),
        envelope("coupa-po-1", "purchase_order.created", "2026-10-20T00:00:00Z", order),
        envelope("coupa-gr-1", "goods_receipt.posted", "2026-10-30T00:00:00Z", receipt),
    ]


# -- accepted ---------------------------------------------------------------------------------------------------
def test_a_signed_event_is_stored_durably_before_202(served: Served) -> None:
    response = served.events(invoice())
    assert response.status_code == 202, response.text
    assert response.json() == {
        "accepted": 1,
        "duplicate": 0,
        "refused": 0,
        "results": [{"index": 0, "event_id": "coupa-inv-1", "status": "accepted", "stream": "invoices"}],
    }
    [line] = served.lines("invoices")
    assert line["event_id"] == "coupa-inv-1" and line["payload"]["net_amount"] == "100.00"
    assert line["ingest_time"].endswith("Z")  # stamped on receipt: the engine's clock-skew check reads it


def test_a_body_of_many_events_answers_each_and_stores_only_the_valid(served: Served) -> None:
    bad = invoice("coupa-inv-bad", "I2", net="1e2")
    not_an_object = ["coupa-inv-3"]
    response = served.events(*nordwind_master_data(), bad, not_an_object, invoice("coupa-inv-4", "I4"))
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], body["refused"]) == (4, 2)
    refused = {result["index"]: result for result in body["results"] if result["status"] == "refused"}
    assert refused[3]["event_id"] == "coupa-inv-bad" and refused[3]["field"] == "payload.net_amount"
    assert refused[4]["field"] == "<json>" and "expected a JSON object" in refused[4]["reason"]
    assert [line["event_id"] for line in served.lines("invoices")] == ["coupa-inv-4"]
    assert [line["event_id"] for line in served.lines("vendors")] == ["coupa-v-1"]
    assert [line["event_id"] for line in served.lines("goods_receipts")] == ["coupa-gr-1"]


def test_jsonl_body_refuses_a_torn_line_alone(served: Served) -> None:
    body = orjson.dumps(invoice("coupa-inv-5", "I5")) + b'\n{"event_id": "coupa-inv-6", "event_t\n'
    ndjson: dict[str, Any] = {"Content-Type": "application/x-ndjson"}  # a header name, no Python identifier
    response = served.post(EVENTS_PATH, body, **ndjson)
    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "refused"]
    assert [line["event_id"] for line in served.lines("invoices")] == ["coupa-inv-5"]


# -- authentication ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Recon-Signature": "sign:" + COUPA_SECRET}, "no timestamp"),
        ({"Recon-Signature": "t={now},v1=" + "0" * 64}, "signature does not match"),
        ({"Recon-Signature": "t={now},v1=ä".encode("latin-1")}, "no signature"),
        ({"Recon-Signature": "t=١٢٣,v1=00".encode()}, "no timestamp"),
        ({"Recon-Platform": "basware"}, "unknown platform"),
        ({"Recon-Platform": ""}, "no Recon-Platform header"),
    ],
)
def test_an_unproven_sender_is_refused_401_with_a_reason(
    refusing: Served, headers: dict[str, str | bytes], reason: str
) -> None:
    # The time is taken when the test runs, not when it is collected: a long suite would make it a replay.
    now = str(int(time.time()))
    stamped: dict[str, Any] = {
        name: value.replace("{now}", now) if isinstance(value, str) else value.replace(b"{now}", now.encode())
        for name, value in headers.items()
    }
    response = refusing.post(EVENTS_PATH, orjson.dumps(invoice()), **stamped)
    assert response.status_code == 401
    assert reason in response.json()["reason"]
    assert COUPA_SECRET not in response.text and CONCUR_SECRET not in response.text
    assert refusing.lines("invoices") == []


def test_a_body_signed_with_another_platforms_secret_is_refused(served: Served) -> None:
    response = served.events(invoice(), platform="coupa", secret=CONCUR_SECRET)
    assert response.status_code == 401 and response.json()["reason"] == "signature does not match"
    assert served.events(invoice(), platform="concur", secret=CONCUR_SECRET).status_code == 202  # its own, from a file


def test_a_changed_body_no_longer_matches_its_signature(refusing: Served) -> None:
    body = orjson.dumps(invoice())
    signed = signature(COUPA_SECRET.encode(), int(time.time()), body)
    tampered = body.replace(b"100.00", b"900.00")
    headers = {"Recon-Platform": "coupa", "Recon-Signature": signed}
    response = CLIENT.post(f"{refusing.base}{EVENTS_PATH}", content=tampered, headers=headers)
    assert response.status_code == 401 and refusing.lines("invoices") == []


@pytest.mark.parametrize("skew", [-3600, 301, 3600])
def test_a_timestamp_outside_the_tolerance_is_a_replay(refusing: Served, skew: int) -> None:
    response = refusing.events(invoice(), at=int(time.time()) - skew)
    assert response.status_code == 401 and "timestamp" in response.json()["reason"]
    assert refusing.lines("invoices") == []


# -- bounds and hostile input -----------------------------------------------------------------------------------
def test_an_oversize_body_is_413_declared_or_streamed(refusing: Served) -> None:
    big = b"[" + b" " * MAX_BODY + b"]"
    assert refusing.post(EVENTS_PATH, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(5):
            yield b" " * (MAX_BODY // 4)

    headers = {"Recon-Platform": "coupa", "Recon-Signature": "t=1,v1=00"}
    response = CLIENT.post(f"{refusing.base}{EVENTS_PATH}", content=chunks(), headers=headers)
    assert response.status_code == 413 and response.json()["field"] == "<body>"


def test_too_many_events_in_one_body_is_413(refusing: Served) -> None:
    events = [invoice(f"coupa-many-{n}", f"M{n}") for n in range(51)]
    response = refusing.events(*events)
    assert response.status_code == 413 and "51 events" in response.json()["reason"]
    assert refusing.lines("invoices") == []


def test_a_bad_event_is_422_naming_its_field(refusing: Served) -> None:
    event = invoice()
    del event["payload"]["currency"]
    response = refusing.events(event)
    assert response.status_code == 422
    [result] = response.json()["results"]
    assert result["field"] == "payload.currency" and result["status"] == "refused" and result["reason"]
    assert refusing.lines("invoices") == []


def test_a_platform_sends_only_its_streams(refusing: Served) -> None:
    status = envelope("concur-st-1", "invoice.status_changed", "2026-11-04T00:00:00Z", {"invoice_id": "I1",
                                                                                    "status": "approved"})  # fmt: skip
    response = refusing.events(status, platform="concur", secret=CONCUR_SECRET)
    assert response.status_code == 422
    [result] = response.json()["results"]
    assert result["field"] == "event_type" and "'concur' may not send" in result["reason"]


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\xff\xfe garbage",
        b"[" * 5000 + b"]" * 5000,
        b'{"event_id": "x", "event_type": ["invoice.captured"]}',
        b'{"event_id": "\\u0000", "event_type": "invoice.captured"}',
        b'[1, null, true, "s", {}]',
        b"   ",
        b'{"event_id": "' + b"x" * 100_000 + b'", "event_type": "invoice.captured"}',
        orjson.dumps({**invoice(), "event_time": "2026-11-03T09:00:00"}),
    ],
)
def test_hostile_json_is_refused_never_crashes(refusing: Served, body: bytes) -> None:
    response = refusing.post(EVENTS_PATH, body)
    assert response.status_code == 422, response.text
    assert len(response.content) < 20_000  # a refusal never quotes a hostile body back whole
    assert refusing.lines("invoices") == []


# -- idempotency ------------------------------------------------------------------------------------------------
def test_the_same_event_id_twice_is_accepted_and_written_once(served: Served) -> None:
    first = served.events(invoice())
    again = served.events(invoice(), invoice())  # a retry, carrying the copy twice
    assert first.status_code == again.status_code == 202
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert len(served.lines("invoices")) == 1


def test_the_same_event_id_with_other_content_is_refused(served: Served) -> None:
    assert served.events(invoice()).status_code == 202
    response = served.events(invoice(net="99.00"))
    assert response.status_code == 422
    assert response.json()["results"][0]["field"] == "event_id"
    assert [line["payload"]["net_amount"] for line in served.lines("invoices")] == ["100.00"]


def test_concurrent_retries_write_one_line(served: Served) -> None:
    body = orjson.dumps([invoice(f"coupa-burst-{n}", f"B{n}") for n in range(20)])
    codes: list[int] = []

    def push() -> None:
        codes.append(served.post(EVENTS_PATH, body).status_code)

    threads = [threading.Thread(target=push) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [202] * 8
    ids = [line["event_id"] for line in served.lines("invoices")]
    assert sorted(ids) == sorted(f"coupa-burst-{n}" for n in range(20))


def test_ids_are_remembered_across_a_restart(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    assert served.events(invoice()).status_code == 202
    served.intake.close()
    monkeypatch.setenv("TEST_COUPA_SECRET", COUPA_SECRET)
    reopened = Intake.open(served.intake.settings)
    try:
        platform = reopened.platforms["coupa"]
        answer = reopened.receive_json(platform, orjson.dumps(invoice()))
        assert answer.status == 202 and answer.body["duplicate"] == 1
    finally:
        reopened.close()
    assert len(served.lines("invoices")) == 1


# -- UBL ------------------------------------------------------------------------------------------------------
def test_ubl_invoice_and_credit_note_are_converted_as_recon_ingest_does(served: Served) -> None:
    for fixture in (UBL_INVOICE, BANK / "ubl_creditnote_peppol.xml"):
        xml: dict[str, Any] = {"Content-Type": "application/xml"}  # a header name, no Python identifier
        response = served.post(UBL_PATH, fixture.read_bytes(), **xml)
        assert response.status_code == 202, response.text
    ingested = [result.event["event_id"] for path in (UBL_INVOICE, BANK / "ubl_creditnote_peppol.xml")
                for result in ingest_file(path, "ubl") if result.event]  # fmt: skip
    lines = served.lines("invoices")
    assert [line["event_id"] for line in lines] == ingested
    assert lines[0]["payload"]["invoice_id"] == "DE123456789/NW-2026-0042"
    assert lines[1]["payload"]["document_type"] == "credit_note"
    assert lines[0]["source_system"].startswith("ubl:coupa-")
    again = served.post(UBL_PATH, UBL_INVOICE.read_bytes())
    assert again.json()["results"][0]["status"] == "duplicate" and len(served.lines("invoices")) == 2


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (UBL_NO_BUYER.read_bytes(), "AccountingCustomerParty/Party"),  # a real EN 16931 sample: no buyer id
        ((BANK / "bad" / "xxe_pain002.xml").read_bytes(), "<xml>"),
        ((BANK / "bad" / "billion_laughs_camt053.xml").read_bytes(), "<xml>"),
        ((BANK / "bad" / "truncated_camt054.xml").read_bytes(), "<xml>"),
        (b"<Invoice xmlns='urn:example'/>", "namespace"),
        (b"", "<xml>"),
    ],
)
def test_a_ubl_document_that_does_not_convert_is_422_with_its_field(
    refusing: Served, document: bytes, field: str
) -> None:
    response = refusing.post(UBL_PATH, document)
    assert response.status_code == 422, response.text
    assert response.json()["results"][0]["field"] == field
    assert refusing.lines("invoices") == []


# -- the files the intake wrote are a run's input -----------------------------------------------------------------
def test_recon_run_over_the_intake_folder_validates_the_invoices(served: Served, tmp_path: Path) -> None:
    assert served.events(*nordwind_master_data()).status_code == 202
    assert served.post(UBL_PATH, UBL_INVOICE.read_bytes()).status_code == 202
    out = tmp_path / "run"
    recon = Path(sys.executable).with_name("recon")
    done = subprocess.run(
        [str(recon), "run", "--input", str(served.input_dir), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    updates = [orjson.loads(line) for line in (out / "status_updates.jsonl").read_bytes().splitlines()]
    assert [(u["invoice_id"], u["status"]) for u in updates] == [("DE123456789/NW-2026-0042", "validated")]
    assert (out / "dead_letters.jsonl").read_bytes() == b""


# -- the pieces ---------------------------------------------------------------------------------------------------
def test_the_standalone_intake_app_serves_health_and_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_COUPA_SECRET", COUPA_SECRET)
    settings = IntakeSettings(tmp_path / "in", (Platform("coupa", secret_env="TEST_COUPA_SECRET"),))
    intake = Intake.open(settings)
    server = BackgroundServer(intake_app(intake), "127.0.0.1", 0).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert CLIENT.get(f"{base}/healthz").status_code == 200
        assert Served(base, settings.input_dir, intake).events(invoice()).status_code == 202
        assert EVENTS_PATH in CLIENT.get(f"{base}/openapi.json").json()["paths"]
    finally:
        server.server.should_exit = True  # not stop(): that also closes the web app's case store, absent here
        server.thread.join(10)
        for sock in server.sockets:
            sock.close()
    assert (tmp_path / "in" / ".intake-ids.sqlite").exists()
    closed = intake.receive_json(intake.platforms["coupa"], orjson.dumps(invoice("coupa-late", "L1")))
    assert closed.status == 503  # the app's shutdown closed the intake: nothing is stored after it


def test_a_torn_tail_stays_a_line_of_its_own_and_appends_are_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "invoices.jsonl").write_bytes(b'{"event_id": "a"}\n{"event_id": "to')
    synced: list[int] = []
    monkeypatch.setattr(writer_module.os, "fsync", synced.append)
    writer = FileIntakeWriter(tmp_path)
    writer.append([Accepted(Stream.INVOICES, "b", b'{"event_id": "b"}'), Accepted(Stream.VENDORS, "v", b"{}")])
    assert (tmp_path / "invoices.jsonl").read_bytes().splitlines() == [
        b'{"event_id": "a"}',
        b'{"event_id": "to',
        b'{"event_id": "b"}',
    ]
    assert len(synced) == 3  # each file, and the folder that got a new one (vendors.jsonl)


class FullDisk:
    def append(self, events: Sequence[Accepted]) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


def test_a_store_that_fails_acknowledges_nothing_and_the_retry_goes_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_COUPA_SECRET", COUPA_SECRET)
    settings = IntakeSettings(tmp_path, (Platform("coupa", secret_env="TEST_COUPA_SECRET"),))
    failing = Intake.open(settings, writer=FullDisk())
    answer = failing.receive_json(failing.platforms["coupa"], orjson.dumps(invoice()))
    failing.close()
    assert answer.status == 503 and "send them again" in answer.body["reason"]
    working = Intake.open(settings)
    answer = working.receive_json(working.platforms["coupa"], orjson.dumps(invoice()))
    working.close()
    assert answer.status == 202 and answer.body["accepted"] == 1  # the failed attempt was not remembered


def test_settings_refuse_what_cannot_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_MISSING_SECRET", raising=False)
    with pytest.raises(SecretError, match=r"intake.platforms.coupa.secret: \$TEST_MISSING_SECRET is not set"):
        IntakeSettings(tmp_path, (Platform("coupa", secret_env="TEST_MISSING_SECRET"),)).secrets()
    monkeypatch.setenv("TEST_SHORT_SECRET", "short")
    with pytest.raises(IntakeConfigError, match="shorter than 16") as refused:
        IntakeSettings(tmp_path, (Platform("coupa", secret_env="TEST_SHORT_SECRET"),)).secrets()
    assert "short'" not in str(refused.value)
    with pytest.raises(IntakeConfigError, match="is not one of"):
        Platform("coupa", secret_env="X", streams=("settlements",))  # type: ignore[arg-type]
    with pytest.raises(IntakeConfigError, match="once"):
        Platform("coupa", secret_env="X", secret_file=tmp_path / "s")
