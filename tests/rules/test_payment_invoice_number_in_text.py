"""`invoice_number_in_text`: invoice numbers in the remittance text, in any form a payer writes them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from matching_cases import LEDGER, OTHER, auto, line, lookup, open_invoice
from reconstream.matchers.payment_matching import MatchPolicy, Outcome, Settles, match_payment
from reconstream.matchers.payment_rules.invoice_number_in_text import InvoiceNumberInText

# (amount, remittance text, extra invoices) -> (invoices, settles, confidence), or None for no candidate
CASES = [
    ("1000.00", "NL-2026-00004", [], (("I4",), Settles.IN_FULL, 97)),
    ("1000.00", "Rechnung NL202600004", [], (("I4",), Settles.IN_FULL, 97)),  # punctuation dropped
    ("350.00", "inv nl 2026 00001 / NL-2026-00002", [], (("I1", "I2"), Settles.IN_FULL, 97)),
    ("400.00", "NL-2026-00004 part 1", [], (("I4",), Settles.PARTLY, 91)),
    ("990.00", "NL-2026-00004", [], (("I4",), Settles.SHORT, 92)),  # 1 % short: within tolerance
    ("1015.00", "NL-2026-00004", [], (("I4",), Settles.OVER, 92)),  # over by what a bank fee adds
    ("1075.00", "NL-2026-00004", [], (("I4",), Settles.OVER, 75)),  # over beyond a fee: a clerk's call
    (
        "970.00",
        "INV NL-2026-00004 less credit note CN-77",
        [("C1", "30.00", "CN-77", True)],
        (("C1", "I4"), Settles.IN_FULL, 97),
    ),  # the credit note netted
    ("30.00", "CN-77", [("C1", "30.00", "CN-77", True)], None),  # a debit never pays a credit note alone
    ("1000.00", "Payment", [], None),
]


@pytest.mark.parametrize(("amount", "text", "extra", "expected"), CASES)
def test_numbers_and_amount(
    amount: str,
    text: str,
    extra: list[tuple[str, str, str, bool]],
    expected: tuple[tuple[str, ...], Settles, int] | None,
) -> None:
    ledger = [*LEDGER, *(open_invoice(i, a, n, credit_note=c) for i, a, n, c in extra)]
    found = InvoiceNumberInText().candidates(lookup(line(amount, text), ledger), [])
    assert ((found[0].invoice_ids, found[0].settles, found[0].confidence) if found else None) == expected


def test_early_payment_discount_half_up_and_invoice_terms() -> None:
    ledger = [open_invoice("I9", "102.25", "NL-2026-00009")]  # 2 % is 2.045: 100.20 half-even, 100.21 half-up
    for paid in ("100.20", "100.21"):
        decision = match_payment(line(paid, "NL-2026-00009"), [], ledger)
        assert auto(decision) == ("invoice_number_in_text", ("I9",))
        assert decision.match is not None and decision.match.settles is Settles.WITH_DISCOUNT
    own_terms = [open_invoice("I7", "1000.00", discount_percent=Decimal(3), discount_days=10)]
    assert auto(match_payment(line("970.00", "NL-2026-00007"), [], own_terms))[1] == ("I7",)


def test_a_partial_payment_fills_the_named_invoice() -> None:
    decision = match_payment(line("400.00", "NL-2026-00004 part 1"), [], LEDGER)
    assert auto(decision) == ("invoice_number_in_text", ("I4",)) and decision.match is not None
    (allocation,) = decision.match.allocations
    assert allocation.amount == Decimal("400.00") and not allocation.closes


def test_a_number_names_an_invoice_with_its_payee_and_a_new_account_is_fine() -> None:
    with_reference = line("250.00", "Invoice NL-2026-00002", counterparty_account=OTHER)
    assert auto(match_payment(with_reference, [], LEDGER))[1] == ("I2",)
    stranger = line(
        "250.00",
        "NL-2026-00002",
        counterparty_account=OTHER,
        counterparty_name="SOMEONE ELSE",
        booked=date(2026, 3, 10),
    )
    assert match_payment(stranger, [], LEDGER).outcome is not Outcome.AUTO_MATCHED


def test_keys_are_the_numbers_forms() -> None:
    rule = InvoiceNumberInText()
    assert "num:202600004" in rule.invoice_keys(LEDGER[3])
    assert set(rule.line_keys(line("1.00", "RE NL-2026-00004"))) & set(rule.invoice_keys(LEDGER[3]))


def test_a_short_payment_leaves_the_rest_open_unless_the_policy_writes_it_off() -> None:
    short = line("990.00", "NL-2026-00004 abzgl. Porto")
    (kept,) = match_payment(short, [], LEDGER).match.allocations  # type: ignore[union-attr]
    assert (kept.amount, kept.closes) == (Decimal("990.00"), False)
    written_off = match_payment(short, [], LEDGER, MatchPolicy(short_write_off=True)).match
    assert written_off is not None and written_off.allocations[0].closes


def test_a_discount_rounded_on_its_own_and_taken_off() -> None:
    # 3 % of 1,617.50 is 48.525: the payment rounded is 1,568.98, the discount rounded half up and taken off 1,568.97.
    ledger = [open_invoice("I9", "1617.50", "NL-2026-00009")]
    for paid in ("1568.98", "1568.97"):
        decision = match_payment(line(paid, "NL-2026-00009"), [], ledger)
        assert decision.match is not None and decision.match.settles is Settles.WITH_DISCOUNT
        assert decision.match.allocations[0].closes
