"""A manual match made on a case goes back into the engine as an input event: the next `recon run` pays
the invoice, settles the instruction (the cash in flight drops) and resolves the exception; people's
actions join the run's hash-chained audit log; a fresh run from the same inputs and case store agrees; a
match the engine refuses reopens the case with the reason. Real processes, a real SQLite case store."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from factories import HOUSE_IBAN, ack, batch, settlement
from reconstream.models.cases import ActionKind, Actor, CaseCommand, CaseStatus, Role
from reconstream.models.events import EVENT_TYPE_OF, Event
from reconstream.shells.cases.store import CaseQuery, CaseStore
from reconstream.shells.inputs import file_name
from test_engine import booked_invoices

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
TREASURY = Actor(name="tina.treasury", role=Role.TREASURY_ANALYST)
STREAM_OF = {event_type: stream for stream, event_type in EVENT_TYPE_OF.items()}


def write_inputs(folder: Path, events: list[Event]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for event in events:
        with (folder / file_name(STREAM_OF[event.event_type])).open("ab") as handle:
            handle.write(event.model_dump_json(exclude_none=True).encode() + b"\n")


def scenario() -> list[Event]:
    """Two invoices paid by our run; the bank dropped the end-to-end ids and took charges: two lines no rule
    takes (114.50 for I1, sent as E1; 233.00 for I2, sent as E2)."""
    instructions = [
        {
            "end_to_end_id": e2e,
            "invoice_ids": [i],
            "vendor_id": "V1",
            "amount": "119.00",
            "currency": "EUR",
            "creditor_iban": "DE89370400440532013000",
        }
        for e2e, i in (("E1", "I1"), ("E2", "I2"))
    ]
    return [
        *booked_invoices("INV-1", "INV-2"),
        batch("2026-11-04T06:00:00Z", instructions=instructions),
        ack("2026-11-04T06:10:00Z"),
        settlement("2026-11-05T08:00:00Z", entry_id="S-CHG", amount="114.50", e2e=None, counterparty=None),
        settlement("2026-11-05T09:00:00Z", entry_id="S-TWO", amount="113.00", e2e=None, counterparty=None),
    ]


def recon_run(inputs: Path, out: Path, state: Path, *extra: str) -> None:
    command = [*RECON, "run", "--input", str(inputs), "--out", str(out), "--state-dir", str(state), "--quiet"]
    subprocess.run([*command, *extra], check=True, timeout=120)


def lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def in_flight(out: Path) -> Decimal:
    positions = orjson.loads((out / "cash_positions.json").read_bytes())["positions"]
    return sum((Decimal(p["in_flight_outgoing"]) for p in positions if p["account"] == HOUSE_IBAN), Decimal(0))


def unmatched_case(store: CaseStore, entry_id: str):  # type: ignore[no-untyped-def]
    [case] = [c for c in store.find(CaseQuery(category="unmatched_settlement")).cases if c.refs[0] == entry_id]
    return case


@pytest.fixture
def first_run(tmp_path: Path) -> tuple[Path, Path, Path]:
    inputs, out, state = tmp_path / "in", tmp_path / "out", tmp_path / "state"
    write_inputs(inputs, scenario())
    recon_run(inputs, out, state)
    return inputs, out, state


def test_the_next_run_applies_the_match_and_a_fresh_run_agrees(first_run: tuple[Path, Path, Path], tmp_path: Path):
    inputs, out, state = first_run
    assert in_flight(out) == Decimal("238.00")
    store = CaseStore.open(f"sqlite:///{out / 'cases.sqlite'}")
    try:
        case = unmatched_case(store, "S-CHG")
        assert case.company_code == "1000"  # the house account's company code, from the payment run
        command = CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=("I1",), note="charges taken by the bank")
        done = store.act(case.exception_id, command, TREASURY, datetime.now(UTC))
        assert not hasattr(done, "code"), done
    finally:
        store.close()

    recon_run(inputs, out, state)
    [match] = [m for m in lines(out / "matches.jsonl") if m["method"] == "manual"]
    assert (match["settlement_entry_id"], match["end_to_end_id"], match["invoice_ids"]) == ("S-CHG", "E1", ["I1"])
    assert [u["status"] for u in lines(out / "status_updates.jsonl") if u["invoice_id"] == "I1"][-1] == "paid"
    assert in_flight(out) == Decimal("119.00")  # E1 settled; E2 still in flight
    audit = lines(out / "audit.jsonl")
    [person] = [a for a in audit if a.get("outcome") == "case_action"]
    assert person["actor"] == "tina.treasury" and person["event_type"] == "case.manually_matched"
    [applied] = [a for a in audit if a.get("event_type") == "settlement.matched_manually"]
    assert applied["outcome"] == "applied" and applied["seq"] > person["seq"]
    verified = subprocess.run([*RECON, "audit", "verify", str(out)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    store = CaseStore(f"sqlite:///{out / 'cases.sqlite'}")
    try:
        closed = unmatched_case(store, "S-CHG")
        assert (closed.status, closed.resolution_code, closed.engine_status) == (
            CaseStatus.RESOLVED,
            "manually_matched",
            "resolved",
        )
    finally:
        store.close()

    # The next run from scratch (no state), on the same inputs and case store, decides the same.
    config = tmp_path / "recon.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{out / "cases.sqlite"}"\n')
    again = tmp_path / "again"
    recon_run(inputs, again, tmp_path / "state-again", "--config", str(config))
    assert [m for m in lines(again / "matches.jsonl") if m["method"] == "manual"] == [match]
    assert in_flight(again) == Decimal("119.00")


def test_a_match_the_engine_refuses_reopens_the_case_with_the_reason(first_run: tuple[Path, Path, Path]) -> None:
    inputs, out, state = first_run
    store = CaseStore.open(f"sqlite:///{out / 'cases.sqlite'}")
    try:
        case = unmatched_case(store, "S-TWO")
        command = CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=("I2", "I-NOPE"))
        store.act(case.exception_id, command, TREASURY, datetime.now(UTC))
    finally:
        store.close()
    recon_run(inputs, out, state)
    [dead] = [d for d in lines(out / "dead_letters.jsonl") if d["source"].startswith("cases/engine_events")]
    assert dead["field"] == "payload.invoice_ids[1]" and "I-NOPE is not open" in dead["reason"]
    store = CaseStore(f"sqlite:///{out / 'cases.sqlite'}")
    try:
        reopened = unmatched_case(store, "S-TWO")
        assert reopened.status is CaseStatus.OPEN and "refused: invoice I-NOPE" in reopened.reason
        assert store.timeline(reopened.exception_id)[-1][1].kind is ActionKind.CAUSE_CHANGED
    finally:
        store.close()
    assert in_flight(out) == Decimal("238.00")
