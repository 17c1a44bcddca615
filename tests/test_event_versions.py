"""One id, one content: a reused event id with other content, and a document captured again with other
content, are refused with both versions named, never silently dropped or "applied" and ignored."""

from __future__ import annotations

from factories import invoice, paid_invoice_flow, settlement
from reconstream.models.exceptions import ReconException
from reconstream.models.outputs import DeadLetter
from reconstream.streams import Engine
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState


def test_the_same_event_again_is_a_duplicate_that_changes_nothing() -> None:
    subject = Engine(EngineState(MemoryStore()))
    flow = paid_invoice_flow()
    for event in flow:
        subject.process(event, "test")
    assert [subject.process(event, "replay") for event in flow] == [[]] * len(flow)


def test_a_reused_event_id_with_other_content_is_refused_naming_both_versions() -> None:
    subject = Engine(EngineState(MemoryStore()))
    original = settlement("2026-11-05T08:00:00Z", entry_id="S1", amount="119.00")
    subject.process(original, "settlements.jsonl:1")
    other = settlement("2026-11-05T09:00:00Z", entry_id="S1", amount="911.00").model_copy(
        update={"event_id": original.event_id}
    )
    outputs = subject.process(other, "settlements.jsonl:2")
    letter = next(o.record for o in outputs if o.stream == "dead_letters")
    assert isinstance(letter, DeadLetter)
    assert (letter.field, letter.event_id) == ("event_id", original.event_id)
    assert "applied before with other content" in letter.reason
    versions = [word.strip("(),;") for word in letter.reason.split() if len(word.strip("(),;")) == 16]
    assert len(set(versions)) == 2
    exception = next(o.record for o in outputs if o.stream == "exceptions")
    assert isinstance(exception, ReconException)
    assert exception.owner_queue == "integration"


def test_a_redelivery_with_a_later_ingest_time_is_the_same_event() -> None:
    subject = Engine(EngineState(MemoryStore()))
    original = settlement("2026-11-05T08:00:00Z").model_copy()
    subject.process(original, "first")
    redelivered = original.model_copy(update={"ingest_time": original.event_time.replace(hour=23)})
    assert subject.process(redelivered, "second") == []


def test_an_invoice_captured_again_with_another_amount_is_refused_with_both_amounts() -> None:
    subject = Engine(EngineState(MemoryStore()))
    subject.process(invoice(invoice_id="I7", net="100.00", tax="19.00"), "invoices.jsonl:1")
    outputs = subject.process(invoice(invoice_id="I7", net="120.00", tax="19.00"), "invoices.jsonl:2")
    letter = next(o.record for o in outputs if o.stream == "dead_letters")
    assert isinstance(letter, DeadLetter)
    assert letter.field == "payload.net_amount"
    assert "100.00" in letter.reason and "120.00" in letter.reason
    assert subject.state.invoices["I7"].invoice.net_amount == 100


def test_an_invoice_captured_again_with_the_same_content_changes_nothing() -> None:
    subject = Engine(EngineState(MemoryStore()))
    subject.process(invoice(invoice_id="I8"), "invoices.jsonl:1")
    assert subject.process(invoice(invoice_id="I8"), "invoices.jsonl:2") == []
