"""A bank line the rules left unmatched, matched by a person: applied as an automatic match would be.

The line is one our payment run sent (the bank dropped the end-to-end id and deducted a charge, so no rule
could take it): matched by hand, the instruction is settled and leaves the cash in flight, the invoice is
paid with a status update to AP, and the unmatched_settlement exception is resolved. A match the engine
cannot apply is dead-lettered naming the field, with nothing half-applied.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from factories import HOUSE_IBAN, ack, batch, manual_match, settlement
from reconstream.models.events import EventError, parse
from reconstream.streams import Engine, Output
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState
from test_engine import booked_invoices, of, run

SENT = [*booked_invoices("INV-1", "INV-2"), batch("2026-11-04T06:00:00Z"), ack("2026-11-04T06:10:00Z")]
# 119.00 sent; the bank booked 114.50 (a 4.50 charge taken), no end-to-end id, no counterparty account.
CHARGED = settlement("2026-11-05T08:00:00Z", entry_id="S-CHG", amount="114.50", e2e=None, counterparty=None)


def _in_flight(engine: Engine) -> Decimal:
    return sum((p.in_flight_outgoing for p in engine.cash_positions() if p.account == HOUSE_IBAN), Decimal(0))


def _unmatched(outputs: list[Output]) -> list:  # type: ignore[type-arg]
    return [e for e in of(outputs, "exceptions") if e.category.value == "unmatched_settlement"]


def test_a_line_matched_by_hand_settles_the_instruction_and_pays_the_invoice() -> None:
    engine, outputs = run([*SENT, CHARGED])
    [raised] = _unmatched(outputs)
    assert raised.status == "open" and _in_flight(engine) == Decimal("119.00")

    after = engine.process(manual_match("2026-11-20T10:00:00Z", "S-CHG", ("I1",)), source="case-store")
    [match] = of(after, "matches")
    assert (match.method, match.end_to_end_id, match.invoice_ids) == ("manual", "E1", ("I1",))
    assert match.settles == "short" and match.confidence == 100
    assert "matched by hand by tina.treasury" in match.evidence
    assert [u.status for u in of(after, "status_updates")] == ["paid"]
    [resolved] = _unmatched(after)
    assert resolved.status == "resolved" and "tina.treasury" in (resolved.resolution or "")
    assert _in_flight(engine) == Decimal(0)  # the money left the bank: no longer counted as in flight
    paid = engine.state.invoices.get("I1")
    assert paid is not None and paid.stage == "paid"
    assert engine.watermark.isoformat().startswith("2026-11-05")  # a person's decision moves no event time


def test_a_line_outside_any_payment_run_is_applied_in_the_order_named() -> None:
    stray = settlement("2026-11-06T08:00:00Z", entry_id="S-TWO", amount="200.00", e2e=None, counterparty=None)
    engine, outputs = run([*booked_invoices("INV-1", "INV-2"), stray])
    assert len(_unmatched(outputs)) == 1
    after = engine.process(manual_match("2026-11-20T10:00:00Z", "S-TWO", ("I2", "I1")), source="case-store")
    [match] = of(after, "matches")
    assert match.end_to_end_id is None and match.invoice_ids == ("I2", "I1") and match.settles == "partly"
    paid = engine.state.invoices.get("I2")
    assert paid is not None and paid.stage == "paid"  # 119.00 of 200.00: covered
    first = engine.state.invoices.get("I1")
    assert first is not None and first.stage == "booked" and first.paid_amount == Decimal("81.00")  # 38.00 still open
    assert [u.invoice_id for u in of(after, "status_updates")] == ["I2"]


@pytest.mark.parametrize(
    ("entry_id", "invoice_ids", "field", "said"),
    [
        ("S-NONE", ("I1",), "payload.entry_id", "not waiting for a match"),
        ("S-CHG", ("I1", "I-NOPE"), "payload.invoice_ids[1]", "I-NOPE is not open"),
    ],
)
def test_a_match_that_cannot_be_applied_is_a_dead_letter_and_changes_nothing(
    entry_id: str, invoice_ids: tuple[str, ...], field: str, said: str
) -> None:
    engine, _ = run([*SENT, CHARGED])
    after = engine.process(manual_match("2026-11-20T10:00:00Z", entry_id, invoice_ids), source="case-store")
    [dead] = of(after, "dead_letters")
    assert dead.field == field and said in dead.reason
    assert not of(after, "matches") and _in_flight(engine) == Decimal("119.00")
    assert engine.state.unmatched_lines.get("S-CHG") is not None  # still waiting for a match that fits
    if entry_id == "S-CHG":  # the line's exception says so: the case a person closed reopens with the reason
        [told] = _unmatched(after)
        assert told.status == "open" and "manual match by tina.treasury refused: invoice I-NOPE" in told.reason


def test_the_same_match_again_changes_nothing_and_a_second_match_of_the_line_is_refused() -> None:
    engine, _ = run([*SENT, CHARGED])
    decision = manual_match("2026-11-20T10:00:00Z", "S-CHG", ("I1",), event_id="mm-1")
    assert of(engine.process(decision, source="case-store"), "matches")
    assert engine.process(decision, source="case-store") == []  # a replay of the same event
    other = engine.process(manual_match("2026-11-21T10:00:00Z", "S-CHG", ("I2",)), source="case-store")
    assert of(other, "dead_letters")[0].field == "payload.entry_id"


def test_an_unmatched_line_is_kept_for_the_bank_entry_window_only() -> None:
    engine, _ = run([*SENT, CHARGED])
    engine.advance_to(engine.watermark_us + 401 * 86_400_000_000)
    assert engine.state.unmatched_lines.get("S-CHG") is None


def test_a_manual_match_is_a_version_3_event() -> None:
    raw: dict[str, Any] = {
        "event_id": "mm-v2",
        "event_type": "settlement.matched_manually",
        "schema_version": 2,
        "source_system": "cases",
        "event_time": "2026-11-20T10:00:00Z",
        "payload": {"entry_id": "S1", "invoice_ids": ["I1"], "matched_by": "tina"},
    }
    with pytest.raises(EventError) as caught:
        parse(orjson.dumps(raw))
    assert caught.value.field == "schema_version"
    raw["schema_version"] = 3
    raw["payload"]["invoice_ids"] = ["I1", "I1"]
    with pytest.raises(EventError) as twice:
        parse(orjson.dumps(raw))
    assert twice.value.field == "payload.invoice_ids" and "twice" in twice.value.reason


def test_state_is_unchanged_by_a_refused_match() -> None:
    engine = Engine(EngineState(MemoryStore()))
    for event in [*SENT, CHARGED]:
        engine.process(event, source="t")
    before = dict(engine.state.invoices.items())
    engine.process(manual_match("2026-11-20T10:00:00Z", "S-CHG", ("I1", "I-NOPE")), source="case-store")
    assert dict(engine.state.invoices.items()) == before
