"""A paid invoice leaves the state a retention window after its payment; until then copies of it are caught."""

from __future__ import annotations

from datetime import timedelta

from factories import invoice, paid_invoice_flow, record_of, settlement
from reconstream.models.base import to_micros
from reconstream.models.events import Event
from reconstream.models.exceptions import ReconException
from reconstream.streams import Engine, Output
from reconstream.streams.context import Settings
from reconstream.tables import MemoryStore
from reconstream.tables.memory import DigestKeyedTable
from reconstream.tables.state import EngineState


def paid_invoice(engine: Engine) -> None:
    for event in paid_invoice_flow():
        engine.process(event)


def copy_of_it(at: str) -> Event:
    return invoice(at=at, invoice_id="I1-COPY", number="INV-1", po="PO-1", net="100.00")


def categories(outputs: list[Output]) -> list[str]:
    return [record_of(ReconException, o.record).category.value for o in outputs if o.stream == "exceptions"]


def engine_with(retention: timedelta | None) -> Engine:
    engine = Engine(EngineState(MemoryStore()), Settings(paid_invoice_retention=retention))
    paid_invoice(engine)
    assert engine.state.invoices["I1"].stage.value == "paid"
    return engine


def test_a_copy_inside_the_retention_window_is_caught_as_a_duplicate() -> None:
    engine = engine_with(timedelta(days=30))
    assert categories(engine.process(copy_of_it("2026-11-30T09:00:00Z"))) == ["duplicate_invoice"]
    assert "I1" in engine.state.invoices


def test_after_the_window_the_paid_invoice_and_its_index_entries_are_gone() -> None:
    engine = engine_with(timedelta(days=30))
    index = engine.state.invoice_index  # never listed: what it holds, under digests of its keys, is read here
    assert isinstance(index, DigestKeyedTable)

    def buckets_filing_it() -> list[object]:
        return [refs for refs in dict.values(index) if "I1" in refs]

    assert buckets_filing_it()
    engine.advance_to(to_micros(engine.watermark) + 31 * 86_400 * 1_000_000)
    assert "I1" not in engine.state.invoices
    assert not buckets_filing_it()
    # Documented: a copy captured after the window is no longer recognised.
    assert "duplicate_invoice" not in categories(engine.process(copy_of_it("2026-12-07T09:00:00Z")))


def test_a_returned_payment_reopens_the_invoice_and_it_stays_until_paid_again() -> None:
    engine = engine_with(timedelta(days=30))
    returned = settlement("2026-11-10T08:00:00Z", entry_id="S1-RET", e2e=None)
    payload = {
        **returned.payload.model_dump(mode="json", exclude_none=True),
        "credit_debit": "CRDT",
        "return_info": {"original_entry_id": "S1", "reason_code": "AC04"},
    }
    engine.process(type(returned).model_validate({**returned.model_dump(mode="json"), "payload": payload}))
    assert engine.state.invoices["I1"].stage.value == "booked"
    engine.advance_to(to_micros(engine.watermark) + 60 * 86_400 * 1_000_000)
    assert engine.state.invoices["I1"].stage.value == "booked"  # open money never leaves the state


def test_without_a_window_a_paid_invoice_stays() -> None:
    engine = engine_with(None)
    engine.advance_to(to_micros(engine.watermark) + 4000 * 86_400 * 1_000_000)
    assert "I1" in engine.state.invoices and len(engine.state.timers) == 0
