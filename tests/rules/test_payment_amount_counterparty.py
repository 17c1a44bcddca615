"""`amount_counterparty`: the counterparty's open invoices whose amounts explain the line (bounded subset-sum)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from matching_cases import LEDGER, OTHER, auto, line, lookup, open_invoice
from reconstream.matchers.payment_matching import MatchPolicy, Outcome, Settles, match_payment
from reconstream.matchers.payment_model import DEFAULT_POLICY, PaymentMatch
from reconstream.matchers.payment_rules.amount_counterparty import AmountCounterparty, subsets_near
from reconstream.models.outputs import MatchMethod

# (amount, booked, counterparty) -> (best invoices, settles, confidence), or None for no candidate
CASES = [
    ("1425.50", date(2026, 3, 10), {}, (("I1", "I2", "I3", "I4"), Settles.IN_FULL, 93)),
    ("250.00", date(2026, 3, 10), {}, (("I2",), Settles.IN_FULL, 95)),
    ("980.00", date(2026, 3, 10), {}, (("I4",), Settles.WITH_DISCOUNT, 93)),  # 2 % inside the window
    ("250.00", date(2026, 3, 10), {"counterparty_account": OTHER}, (("I2",), Settles.IN_FULL, 91)),  # name only
    ("250.00", date(2026, 3, 10), {"counterparty_account": OTHER, "counterparty_name": "ACME CARD"}, None),
    ("400.00", date(2026, 3, 10), {}, None),  # part of an invoice: the amount alone cannot say which
]


@pytest.mark.parametrize(("amount", "booked", "party", "expected"), CASES)
def test_amount_and_payee(
    amount: str, booked: date, party: dict[str, str], expected: tuple[tuple[str, ...], Settles, int] | None
) -> None:
    found = AmountCounterparty().candidates(lookup(line(amount, "Payment", booked=booked, **party)), [])
    best = max(found, key=lambda m: m.confidence) if found else None
    assert ((best.invoice_ids, best.settles, best.confidence) if best else None) == expected


def test_two_combinations_that_fit_are_a_tie_for_review() -> None:
    ledger = [*LEDGER, open_invoice("I5", "350.00")]  # 350 = I5 alone = I1 + I2
    decision = match_payment(line("350.00", "Payment"), [], ledger)
    assert decision.outcome is Outcome.SUGGESTED
    assert {c.invoice_ids for c in decision.candidates} >= {("I5",), ("I1", "I2")}
    equal = [open_invoice("I1", "100.00"), open_invoice("I2", "100.00")]
    tie = match_payment(line("100.00", "Payment"), [], equal)
    assert tie.outcome is Outcome.SUGGESTED and len(tie.candidates) == 2


def test_it_stands_down_and_gives_way_to_what_the_payer_named() -> None:
    rule, case = AmountCounterparty(), lookup(line("250.00", "Payment"))
    certain = PaymentMatch(MatchMethod.END_TO_END_ID, 100, (), ("I9",), Settles.IN_FULL)
    assert rule.candidates(case, [certain]) == []
    named = PaymentMatch(MatchMethod.INVOICE_NUMBER_IN_TEXT, 92, (), ("I4",), Settles.SHORT)
    (capped,) = rule.candidates(case, [named])
    assert capped.confidence == 85 and "the payer named other invoices" in capped.evidence


def test_a_discount_outside_its_window_and_a_short_set_are_not_matched() -> None:
    late = match_payment(line("980.00", "Payment", booked=date(2026, 4, 20)), [], LEDGER)
    assert late.outcome is not Outcome.AUTO_MATCHED
    assert match_payment(line("900.00", "Payment"), [], LEDGER).outcome is not Outcome.AUTO_MATCHED
    vague = line("250.00", "x", counterparty_account=OTHER, counterparty_name="NORDWIND")  # a family's first word
    assert match_payment(vague, [], LEDGER).outcome is Outcome.SUGGESTED


def test_the_search_is_bounded() -> None:
    many = [open_invoice(f"I{n}", f"{100 + n}.00") for n in range(40)]
    sets, exhausted = subsets_near(Decimal("600.00"), many, date(2026, 3, 10), DEFAULT_POLICY)
    assert all(len(s) <= DEFAULT_POLICY.max_invoices_per_payment for s in sets)
    assert subsets_near(Decimal("600.00"), many, date(2026, 3, 10), MatchPolicy(subset_budget=3))[1] is True
    assert not exhausted or sets
    assert auto(match_payment(line("1425.50", "Payment"), [], LEDGER))[0] == "amount_counterparty"
