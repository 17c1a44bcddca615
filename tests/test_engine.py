"""Engine flows on hand-written events: the closed loop, payment lifecycle, event-time timers."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pytest
from factories import (
    OTHER_IBAN,
    ack,
    batch,
    goods_receipt,
    instruction,
    invoice,
    paid_invoice_flow,
    posted,
    purchase_order,
    settlement,
    status,
    vendor,
)
from reconstream.models.events import Event
from reconstream.streams import Engine, Output
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState


def run(events: Iterable[Event]) -> tuple[Engine, list[Output]]:
    engine = Engine(EngineState(MemoryStore()))
    outputs: list[Output] = []
    for event in events:
        outputs += engine.process(event, source="test")
    return engine, outputs


def of(outputs: list[Output], stream: str) -> list:  # type: ignore[type-arg]
    return [o.record for o in outputs if o.stream == stream]


def categories(outputs: list[Output]) -> list[str]:
    return [e.category.value for e in of(outputs, "exceptions") if e.status == "open"]


def test_clean_flow_closes_the_loop_and_raises_nothing() -> None:
    engine, outputs = run(paid_invoice_flow())
    assert categories(outputs) == []
    assert [u.status.value for u in of(outputs, "status_updates")] == [
        "validated",
        "approved",
        "booked",
        "payment_sent",
        "paid",
    ]
    booked = of(outputs, "status_updates")[2]
    assert booked.erp_document_number == "5100000001" and booked.fiscal_year == 2026
    match = of(outputs, "matches")[0]
    assert match.method == "end_to_end_id" and match.invoice_ids == ("I1",)
    [position] = engine.cash_positions()
    assert str(position.booked_balance) == "-119.00" and str(position.in_flight_outgoing) == "0.00"


def test_settlement_amount_mismatch() -> None:
    _, outputs = run(paid_invoice_flow(settle_amount="104.00"))
    assert categories(outputs) == ["settlement_amount_mismatch"]


def test_same_event_id_twice_changes_nothing() -> None:
    events = paid_invoice_flow()
    _, outputs = run([*events[:7], events[6], *events[7:]])
    assert categories(outputs) == []
    assert len(of(outputs, "status_updates")) == 5


def test_rejection_raises_with_reason_and_frees_the_invoice_for_a_retry() -> None:
    events = paid_invoice_flow()[:7] + [
        ack(
            "2026-11-04T06:10:00Z",
            group_status=None,
            transactions=[{"end_to_end_id": "E1", "status": "RJCT", "reason_code": "AC04"}],
        ),
        batch("2026-11-06T06:00:00Z", batch_id="B2", instructions=[instruction(e2e="E2")]),
        ack("2026-11-06T06:10:00Z", batch_id="B2"),
        settlement("2026-11-07T08:00:00Z", e2e="E2"),
    ]
    _, outputs = run(events)
    rejected = [e for e in of(outputs, "exceptions") if e.category == "payment_rejected"]
    assert len(rejected) == 1 and "AC04" in rejected[0].reason and rejected[0].owner_queue == "treasury"
    assert categories(outputs) == ["payment_rejected"]  # the retry is not a duplicate payment


def test_second_live_payment_is_a_duplicate() -> None:
    events = paid_invoice_flow()[:8] + [batch("2026-11-05T06:00:00Z", batch_id="B2", instructions=[instruction("E2")])]
    _, outputs = run(events)
    assert categories(outputs) == ["duplicate_payment"]


def test_payment_to_unknown_account() -> None:
    events = paid_invoice_flow()[:6] + [batch("2026-11-04T06:00:00Z", instructions=[instruction(iban=OTHER_IBAN)])]
    _, outputs = run(events)
    assert categories(outputs) == ["vendor_bank_mismatch"]


def test_missing_ack_fires_on_event_time_and_a_late_ack_resolves_it() -> None:
    events = paid_invoice_flow()[:7] + [
        vendor("2026-11-05T07:00:00Z", vendor_id="V2"),  # any later event moves event time past the deadline
        ack("2026-11-05T08:00:00Z"),
    ]
    _, outputs = run(events)
    raised = of(outputs, "exceptions")
    assert [(e.category.value, e.status.value) for e in raised] == [
        ("missing_ack", "open"),
        ("missing_ack", "resolved"),
    ]
    assert raised[0].first_seen.isoformat().startswith("2026-11-05T06:00:00")  # at the deadline, not when noticed


def test_missing_settlement_after_acceptance() -> None:
    events = paid_invoice_flow()[:8] + [vendor("2026-11-09T07:00:00Z", vendor_id="V2")]
    _, outputs = run(events)
    assert categories(outputs) == ["missing_settlement"]


def test_posting_timeout_and_posting_failure() -> None:
    stuck = [
        vendor(),
        invoice(),
        status("2026-11-03T05:00:00Z", "I1", "approved"),
        vendor("2026-11-06T06:00:00Z", vendor_id="V2"),
    ]
    _, outputs = run(stuck)
    assert categories(outputs) == ["erp_timeout"]
    failed = [
        vendor(),
        invoice(),
        status("2026-11-03T05:00:00Z", "I1", "approved"),
        status("2026-11-03T06:00:00Z", "I1", "posting_failed", error="posting period 011/2026 is not open"),
    ]
    _, outputs = run(failed)
    assert categories(outputs) == ["erp_posting_failed"]
    assert "period 011/2026" in of(outputs, "exceptions")[0].reason


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([vendor(), invoice(vendor_id="V9")], ["unknown_vendor"]),
        ([vendor(active=False), invoice()], ["inactive_vendor"]),
        ([vendor(), invoice(po="PO-404")], ["po_missing"]),
        ([vendor(), purchase_order(), invoice(po="PO-1")], ["gr_missing"]),
        (
            [vendor(), purchase_order(), goods_receipt(), invoice(po="PO-1", net="150.00", tax="28.50")],
            ["amount_mismatch"],
        ),
        (
            [vendor(), invoice(), invoice(invoice_id="I2", number="inv 0001", at="2026-11-04T00:00:00Z")],
            ["duplicate_invoice"],
        ),
    ],
)
def test_validation_failures_hold_the_invoice(events: list[Event], expected: list[str]) -> None:
    _, outputs = run(events)
    assert categories(outputs) == expected
    assert of(outputs, "status_updates")[-1].status == "on_hold"


def test_settlement_without_id_matches_by_amount_creditor_date_and_stray_line_is_unmatched() -> None:
    events = paid_invoice_flow()[:8] + [
        settlement("2026-11-05T08:00:00Z", e2e=None),
        settlement("2026-11-05T09:00:00Z", entry_id="S2", e2e="E-UNKNOWN", amount="777.00"),
    ]
    _, outputs = run(events)
    assert of(outputs, "matches")[0].method == "amount_creditor_date"
    assert categories(outputs) == ["unmatched_settlement"]


def test_status_for_an_unknown_invoice_is_a_dead_letter() -> None:
    _, outputs = run([status("2026-11-03T05:00:00Z", "I-NOPE", "approved")])
    dead = of(outputs, "dead_letters")
    assert len(dead) == 1 and dead[0].field == "payload.invoice_id"
    assert categories(outputs) == ["schema_violation"]


def booked_invoices(*numbers: str) -> list[Event]:
    """Invoices of vendor V1 for 119.00 each, approved and posted: open for payment, no payment run yet."""
    events: list[Event] = [vendor()]
    for n, number in enumerate(numbers, start=1):
        events += [
            invoice(invoice_id=f"I{n}", number=number),
            status("2026-11-03T05:00:00Z", f"I{n}", "approved"),
            posted("2026-11-03T06:00:00Z", f"I{n}"),
        ]
    return events


def test_a_manual_transfer_naming_the_invoice_pays_it_without_a_payment_run() -> None:
    events = [*booked_invoices("INV-77"), settlement("2026-11-06T08:00:00Z", e2e=None, remittance="Rechnung INV 77")]
    engine, outputs = run(events)
    [match] = of(outputs, "matches")
    assert match.method == "invoice_number_in_text" and match.end_to_end_id is None and match.invoice_ids == ("I1",)
    assert of(outputs, "status_updates")[-1].status == "paid"
    assert engine.state.invoices["I1"].stage == "paid" and categories(outputs) == []


def test_two_partial_payments_close_one_invoice() -> None:
    events = [
        *booked_invoices("INV-78"),
        settlement("2026-11-06T08:00:00Z", entry_id="S1", e2e=None, amount="50.00", remittance="INV-78 part 1"),
        settlement("2026-11-07T08:00:00Z", entry_id="S2", e2e=None, amount="69.00", remittance="INV-78 rest"),
    ]
    engine, outputs = run(events)
    assert [m.settles for m in of(outputs, "matches")] == ["partly", "in_full"]
    assert [u.status for u in of(outputs, "status_updates")].count("paid") == 1
    assert engine.state.invoices["I1"].paid_amount == Decimal("119.00")


def test_a_line_two_invoices_fit_equally_is_a_suggestion_for_treasury_not_a_guess() -> None:
    events = [*booked_invoices("INV-80", "RE-2026-5513"), settlement("2026-11-06T08:00:00Z", e2e=None)]
    engine, outputs = run(events)
    assert of(outputs, "matches") == []
    [exception] = [e for e in of(outputs, "exceptions") if e.status == "open"]
    assert exception.category == "unmatched_settlement" and exception.owner_queue == "treasury"
    assert "I1" in exception.refs and "I2" in exception.refs  # the candidates it weighed
    assert engine.state.invoices["I1"].stage == engine.state.invoices["I2"].stage == "booked"


def test_a_payment_before_its_posting_waits_for_it_and_then_pays_the_invoice() -> None:
    early = settlement("2026-11-03T09:00:00Z", entry_id="S9", e2e=None, remittance="Rechnung INV-2026-0815")
    events = [
        vendor(),
        invoice(number="INV-2026-0815"),
        early,  # paid the same morning: the ERP has not posted it yet
        status("2026-11-04T05:00:00Z", "I1", "approved"),
        posted("2026-11-05T06:00:00Z"),
    ]
    engine, outputs = run(events)
    assert categories(outputs) == []  # held, not thrown into the review queue
    [match] = of(outputs, "matches")
    assert (match.settlement_entry_id, match.invoice_ids) == ("S9", ("I1",))
    assert [u.status.value for u in of(outputs, "status_updates")][-1] == "paid"
    assert not list(engine.state.held_lines.items())


def test_a_held_payment_goes_to_review_when_no_posting_comes_within_the_window() -> None:
    early = settlement("2026-11-03T09:00:00Z", entry_id="S9", e2e=None, remittance="Rechnung INV-2026-0815")
    later = settlement("2026-11-20T09:00:00Z", entry_id="S10", e2e=None, remittance="something else")
    _, outputs = run([vendor(), invoice(number="INV-2026-0815"), early, later])
    unmatched = [e for e in of(outputs, "exceptions") if e.category.value == "unmatched_settlement"]
    assert [e.refs[0] for e in unmatched] == ["S9", "S10"]
    assert unmatched[0].first_seen.isoformat().startswith("2026-11-13")  # the end of the 10-day hold


def test_a_returned_payment_reopens_the_invoice_and_the_next_payment_pays_it() -> None:
    from factories import HOUSE_IBAN, VENDOR_IBAN, event

    paid = settlement("2026-11-04T09:00:00Z", entry_id="S1", e2e=None, remittance="INV-2026-0815")
    returned = event(
        "settlement.booked",
        "2026-11-06T09:00:00Z",
        {
            "entry_id": "R1",
            "account": HOUSE_IBAN,
            "amount": "119.00",
            "currency": "EUR",
            "credit_debit": "CRDT",
            "booking_date": "2026-11-06",
            "value_date": "2026-11-06",
            "counterparty_account": VENDOR_IBAN,
            "remittance_info": "RETOURE INV-2026-0815",
            "return_info": {"reason_code": "AC04"},
        },
        schema_version=2,
    )
    again = settlement("2026-11-09T09:00:00Z", entry_id="S2", e2e=None, remittance="INV-2026-0815")
    events = [vendor(), invoice(number="INV-2026-0815"), posted("2026-11-03T06:00:00Z"), paid, returned, again]
    engine, outputs = run(events)
    statuses = [u.status.value for u in of(outputs, "status_updates")]
    assert statuses[-3:] == ["paid", "payment_rejected", "paid"]
    [rejected] = [e for e in of(outputs, "exceptions") if e.category.value == "payment_rejected"]
    assert rejected.refs[:2] == ("R1", "I1") and "AC04" in rejected.reason
    assert [m.settlement_entry_id for m in of(outputs, "matches")] == ["S1", "S2"]  # the return pays nothing
    assert engine.state.invoices["I1"].paid_amount == engine.state.invoices["I1"].invoice.gross_amount
