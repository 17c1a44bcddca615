"""The decision over all payment rules: ties and guesses never auto-match, a payer's reference outranks an
amount that happens to fit, the order of candidates never matters. Each rule has its own file in
tests/rules/; the registry is checked in tests/rules/test_payment_registry.py."""

from __future__ import annotations

from matching_cases import LEDGER, OTHER, auto, line, open_invoice
from reconstream.matchers.payment_matching import Outcome, Settles, match_payment
from reconstream.models.exceptions import Category


def test_a_suggestion_goes_to_review_with_its_candidates() -> None:
    ledger = [*LEDGER, open_invoice("I5", "350.00")]  # 350 = I5 alone = I1 + I2
    decision = match_payment(line("350.00", "Payment"), [], ledger)
    finding = decision.finding(line("350.00"))
    assert finding is not None and finding.category is Category.UNMATCHED_SETTLEMENT and "I5" in finding.refs
    assert "candidates:" in finding.reason and decision.match is None


def test_unknown_counterparty_by_amount_alone_is_never_auto_matched() -> None:
    stranger = line("250.00", "Payment", counterparty_account=OTHER, counterparty_name="ACME CARD SERVICES")
    assert match_payment(stranger, [], LEDGER).outcome is Outcome.UNMATCHED


def test_same_candidates_in_any_order_give_the_same_decision() -> None:
    forward = match_payment(line("350.00", "Payment"), [], LEDGER)
    backward = match_payment(line("350.00", "Payment"), [], list(reversed(LEDGER)))
    assert forward == backward


def test_a_named_invoice_wins_over_other_invoices_the_amount_happens_to_fit() -> None:
    # Short by postage on I4, and the amount is exactly I5: the number the payer wrote decides.
    ledger = [*LEDGER, open_invoice("I5", "995.00")]
    decision = match_payment(line("995.00", "Rechnung NL-2026-00004 abzgl. Porto"), [], ledger)
    assert auto(decision) == ("invoice_number_in_text", ("I4",))
    assert decision.match is not None and decision.match.settles is Settles.SHORT
    assert any("named other invoices" in e for m in decision.candidates for e in m.evidence)


def test_a_supplier_paying_out_a_credit_note() -> None:
    ledger = [*LEDGER, open_invoice("C1", "30.00", "CN-77", credit_note=True)]
    refund = match_payment(line("30.00", "Gutschrift CN-77", credit=True), [], ledger)
    assert auto(refund) == ("invoice_number_in_text", ("C1",))
    # A credit never settles an invoice of ours.
    assert match_payment(line("250.00", "NL-2026-00002", credit=True), [], ledger).match is None
