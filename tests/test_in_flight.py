"""The one fold of payments in flight that the treasury page and the completion metric both read."""

from __future__ import annotations

from reconstream.shells.in_flight import PaymentsInFlight


def test_an_instruction_paying_several_invoices_is_one_payment_in_flight() -> None:
    flight = PaymentsInFlight()
    assert flight.sent("E2E-1", "INV-1", "2026-11-02T10:00:00Z", {"amount": "100.00"}) is True
    assert flight.sent("E2E-1", "INV-2", "2026-11-02T10:00:01Z") is False
    assert flight.sent("E2E-1", "INV-2", "2026-11-02T10:00:01Z") is False
    (payment,) = flight.payments()
    assert payment.invoice_ids == ["INV-1", "INV-2"]
    assert payment.sent_at == "2026-11-02T10:00:00Z" and payment.details == {"amount": "100.00"}


def test_a_landed_instruction_leaves_flight_once_and_a_resend_counts_again() -> None:
    flight = PaymentsInFlight()
    flight.sent("E2E-1", "INV-1", 1)
    landed = flight.landed("E2E-1")
    assert landed is not None and landed.sent_at == 1
    assert flight.landed("E2E-1") is None and "E2E-1" not in flight
    assert flight.sent("E2E-1", "INV-1", 2) is True  # rejected, then sent again: a new instruction in flight


def test_a_bounded_fold_forgets_the_oldest_instruction_first() -> None:
    flight = PaymentsInFlight(limit=2)
    for number in range(3):
        flight.sent(f"E2E-{number}", f"INV-{number}", number)
    assert [p.end_to_end_id for p in flight.payments()] == ["E2E-1", "E2E-2"] and len(flight) == 2
