"""matchers/manual_match.decide, table-driven: what a person's match pays, and what it refuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from reconstream.matchers.manual_match import ManualRefusal, decide
from reconstream.matchers.payment_model import BankLine, OpenInstruction, OpenInvoice

D = Decimal


def _invoice(invoice_id: str, open_amount: str, currency: str = "EUR", credit_note: bool = False) -> OpenInvoice:
    invoice_date = date(2026, 11, 3)
    return OpenInvoice(invoice_id, invoice_id, "V1", currency, D(open_amount), invoice_date, credit_note=credit_note)


def _line(amount: str, credit: bool = False) -> BankLine:
    return BankLine("S1", D(amount), "EUR", date(2026, 11, 5), credit=credit)


OPEN = {
    "A": _invoice("A", "100.00"),
    "B": _invoice("B", "50.00"),
    "C": _invoice("C", "20.00", credit_note=True),
    "U": _invoice("U", "10.00", currency="USD"),
}


@pytest.mark.parametrize(
    ("amount", "named", "settles", "allocations"),
    [
        ("150.00", ("A", "B"), "in_full", [("A", "100.00", True), ("B", "50.00", True)]),
        ("160.00", ("A", "B"), "over", [("A", "100.00", True), ("B", "50.00", True)]),
        ("120.00", ("A", "B"), "partly", [("A", "100.00", True), ("B", "20.00", False)]),
        ("120.00", ("B", "A"), "partly", [("B", "50.00", True), ("A", "70.00", False)]),
        ("130.00", ("A", "B", "C"), "in_full", [("C", "20.00", True), ("A", "100.00", True), ("B", "50.00", True)]),
    ],
)
def test_allocation_in_the_order_named(
    amount: str, named: tuple[str, ...], settles: str, allocations: list[tuple[str, str, bool]]
) -> None:
    match = decide(_line(amount), named, OPEN, None, "tina")
    assert not isinstance(match, ManualRefusal)
    assert match.settles == settles and match.rule == "manual" and match.end_to_end_id is None
    assert [(a.invoice_id, a.amount, a.closes) for a in match.allocations] == [(i, D(a), c) for i, a, c in allocations]


def test_an_instruction_for_exactly_the_invoices_is_settled() -> None:
    sent = OpenInstruction("E1", ("A",), "V1", "DE00", D("100.00"), "EUR", date(2026, 11, 4))
    match = decide(_line("95.50"), ("A",), OPEN, sent, "tina")
    assert not isinstance(match, ManualRefusal)
    assert (match.end_to_end_id, match.settles, match.difference) == ("E1", "short", D("-4.50"))


@pytest.mark.parametrize(
    ("named", "credit", "field", "said"),
    [
        (("A", "X"), False, "payload.invoice_ids[1]", "X is not open"),
        (("U",), False, "payload.invoice_ids[0]", "in USD"),
        (("A",), True, "payload.invoice_ids", "money came in"),
        (("C",), False, "payload.invoice_ids", "money went out"),
    ],
)
def test_refusals_name_the_field(named: tuple[str, ...], credit: bool, field: str, said: str) -> None:
    refused = decide(_line("100.00", credit=credit), named, OPEN, None, "tina")
    assert isinstance(refused, ManualRefusal) and refused.field == field and said in refused.reason
