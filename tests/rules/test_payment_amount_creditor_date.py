"""`amount_creditor_date`: our instruction without its id, by exact amount, creditor account and date window."""

from __future__ import annotations

from datetime import date

import pytest
from matching_cases import IBAN, OTHER, auto, instruction, line
from reconstream.matchers.payment_matching import Outcome, match_payment
from reconstream.matchers.payment_model import DEFAULT_POLICY
from reconstream.matchers.payment_rules.amount_creditor_date import AmountCreditorDate, score

# (booked amount, counterparty account, booking date) -> confidence, or None for no candidate
CASES = [
    ("333.33", IBAN, date(2026, 3, 9), 97),
    ("333.33", IBAN, date(2026, 3, 10), 94),
    ("333.33", IBAN, date(2026, 3, 12), 88),  # the window's last day
    ("333.33", IBAN, date(2026, 3, 13), None),  # beyond the window
    ("333.34", IBAN, date(2026, 3, 9), None),  # a cent apart: another payment
    ("333.33", OTHER, date(2026, 3, 9), None),  # another creditor
]


@pytest.mark.parametrize(("amount", "account", "booked", "confidence"), CASES)
def test_amount_account_and_window(amount: str, account: str, booked: date, confidence: int | None) -> None:
    found = score(
        line(amount, counterparty_account=account, booked=booked),
        instruction("333.33", invoice_ids=("I9",)),
        DEFAULT_POLICY,
    )
    assert (found.confidence if found else None) == confidence
    if found is not None:
        assert found.invoice_ids == ("I9",) and found.end_to_end_id == "E2E-1"


def test_in_the_decision() -> None:
    sent = instruction("333.33", e2e="E2E-7", invoice_ids=("I9",))
    assert auto(match_payment(line("333.33"), [sent], [])) == ("amount_creditor_date", ("I9",))
    late = line("333.33", booked=date(2026, 3, 20))
    assert match_payment(late, [sent], []).outcome is Outcome.UNMATCHED


def test_keys() -> None:
    rule = AmountCreditorDate()
    assert rule.instruction_keys(instruction("1.00")) == [f"acct:{IBAN}"]
    assert (
        rule.line_keys(line("1.00")) == [f"acct:{IBAN}"]
        and rule.line_keys(line("1.00", counterparty_account=None)) == []
    )
