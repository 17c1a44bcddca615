"""`cheque_amount`: a cheque names nobody: its amount settles the one open invoice of exactly that amount."""

from __future__ import annotations

from typing import Any

import pytest
from matching_cases import LEDGER, auto, line, lookup, open_invoice
from reconstream.matchers.payment_matching import Outcome, Settles, match_payment
from reconstream.matchers.payment_model import PaymentMatch
from reconstream.matchers.payment_rules.cheque_amount import ChequeAmount
from reconstream.models.outputs import MatchMethod

CHEQUE: dict[str, Any] = {"counterparty_account": None, "counterparty_name": None, "cheque": True}

# (amount, extra open invoices of that amount) -> confidence of each candidate
CASES = [
    ("1000.00", 0, [91]),
    ("1000.00", 1, [70, 70]),  # two of that amount: review
    ("999.99", 0, []),
]


@pytest.mark.parametrize(("amount", "extra", "confidences"), CASES)
def test_exact_amount_and_only_one(amount: str, extra: int, confidences: list[int]) -> None:
    ledger = [*LEDGER, *(open_invoice(f"I{8 + n}", "1000.00") for n in range(extra))]
    found = ChequeAmount().candidates(lookup(line(amount, **CHEQUE), ledger), [])
    assert [m.confidence for m in found] == confidences
    assert all(m.settles is Settles.IN_FULL for m in found)


def test_only_for_cheques_and_only_when_nothing_else_was_found() -> None:
    rule = ChequeAmount()
    assert rule.candidates(lookup(line("1000.00")), []) == []
    earlier = PaymentMatch(MatchMethod.INVOICE_NUMBER_IN_TEXT, 97, (), ("I1",), Settles.IN_FULL)
    assert rule.candidates(lookup(line("1000.00", **CHEQUE)), [earlier]) == []
    assert rule.line_keys(line("1000.00", **CHEQUE)) == ["amt:EUR|1000.00"] and rule.line_keys(line("1.00")) == []


def test_in_the_decision() -> None:
    assert auto(match_payment(line("1000.00", **CHEQUE), [], LEDGER)) == ("cheque_amount", ("I4",))
    twice = [*LEDGER, open_invoice("I8", "1000.00")]
    assert match_payment(line("1000.00", **CHEQUE), [], twice).outcome is Outcome.SUGGESTED
