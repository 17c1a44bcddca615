"""A booked invoice (and an open instruction) is built for payment matching once per version of its records,
and rebuilt when its state or its payee's record changes: a stale open item is never matched against."""

from __future__ import annotations

from decimal import Decimal

from factories import batch, invoice, posted, settlement, vendor
from reconstream.matchers.payment_model import BankLine, OpenInstruction
from reconstream.models.payments import Settlement
from reconstream.streams import Engine
from reconstream.streams.open_items import OpenItems
from reconstream.streams.payment_index import candidates, open_invoice
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState


def booked() -> Engine:
    engine = Engine(EngineState(MemoryStore()))
    for event in (vendor(), invoice(), posted("2026-11-03T06:00:00Z")):
        engine.process(event, source="test")
    return engine


def test_the_same_records_give_the_same_open_item() -> None:
    engine = booked()
    state = engine.state.invoices["I1"]
    first = open_invoice(state, engine.ctx)
    assert open_invoice(state, engine.ctx) is first
    assert first.open_amount == state.invoice.gross_amount


def test_a_changed_state_or_payee_is_built_again() -> None:
    engine = booked()
    state = engine.state.invoices["I1"]
    first = open_invoice(state, engine.ctx)
    partly_paid = state.model_copy(update={"paid_amount": Decimal("19.00")})
    assert open_invoice(partly_paid, engine.ctx).open_amount == first.open_amount - Decimal("19.00")
    engine.process(vendor(at="2026-11-04T00:00:00Z"), source="test")  # the payee's record is replaced
    rebuilt = open_invoice(state, engine.ctx)
    assert rebuilt is not first and rebuilt == first


def test_paid_invoices_are_forgotten_and_the_cache_stays_bounded() -> None:
    engine = booked()
    items = OpenItems(capacity=4)
    state = engine.state.invoices["I1"]
    vendor_record = engine.state.vendors.get("V1")
    items.of(state, vendor_record)
    items.forget("I1")
    assert len(items) == 0
    for n in range(10):
        copy = state.model_copy(update={"invoice": state.invoice.model_copy(update={"invoice_id": f"I{n}"})})
        items.of(copy, vendor_record)
        assert len(items) <= 4


def released() -> Engine:
    engine = booked()
    engine.process(batch("2026-11-04T06:00:00Z"), source="test")
    return engine


def test_an_open_instruction_is_built_once_per_version_of_its_state() -> None:
    engine = released()
    state = engine.state.instructions["E1"]
    first = engine.ctx.open_items.instruction(state)
    assert engine.ctx.open_items.instruction(state) is first
    assert first == OpenInstruction.of(state)
    part_settled = state.model_copy(update={"settled_amount": Decimal("19.00")})
    again = engine.ctx.open_items.instruction(part_settled)
    assert again.amount == first.amount - Decimal("19.00")


def test_a_settled_instruction_is_forgotten_and_leaves_the_candidates() -> None:
    engine = released()
    items = engine.ctx.open_items
    entry = settlement("2026-11-05T08:00:00Z", e2e="E1").payload
    assert isinstance(entry, Settlement)
    line = BankLine.of(entry)
    instructions, invoices = candidates(line, engine.ctx)
    assert [i.end_to_end_id for i in instructions] == ["E1"] and [i.invoice_id for i in invoices] == ["I1"]
    assert len(items) == 2
    engine.process(settlement("2026-11-05T08:00:00Z"), source="test")
    assert len(items) == 0  # the settled instruction and the paid invoice hold nothing alive here
    assert candidates(line, engine.ctx) == ([], [])
