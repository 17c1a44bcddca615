"""Payment-to-invoice rules: each on its own, positive and negative; ties and guesses never auto-match."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from reconstream.matchers.payment_matching import (
    DEFAULT_POLICY,
    BankLine,
    MatchPolicy,
    OpenInstruction,
    OpenInvoice,
    Outcome,
    Settles,
    match_payment,
    subsets_near,
)
from reconstream.matchers.remittance import rf_reference
from reconstream.models.exceptions import Category

IBAN = "DE89370400440532013000"
OTHER = "DE02120300000000202051"
RF = rf_reference("4711")


def open_invoice(invoice_id: str, amount: str, number: str | None = None, **fields: Any) -> OpenInvoice:
    return OpenInvoice(
        invoice_id, number or f"NL-2026-{invoice_id[1:]:0>5}", "V1", "EUR", Decimal(amount), date(2026, 3, 1),
        date(2026, 3, 31), "Nordwind Logistik GmbH", (IBAN,), **fields,
    )


LEDGER = [
    open_invoice("I1", "100.00"),
    open_invoice("I2", "250.00"),
    open_invoice("I3", "75.50", creditor_reference=RF),
    open_invoice("I4", "1000.00"),
]


def line(amount: str, text: str = "", **fields: Any) -> BankLine:
    defaults: dict[str, Any] = {"counterparty_account": IBAN, "counterparty_name": "NORDWIND LOGISTIK"}
    return BankLine("E1", Decimal(amount), "EUR", fields.pop("booked", date(2026, 3, 10)),
                    remittance_info=text, **{**defaults, **fields})


def auto(decision: Any) -> tuple[str, tuple[str, ...]]:
    assert decision.outcome is Outcome.AUTO_MATCHED, decision.reason
    assert decision.match.confidence >= 90 and decision.match.evidence
    return decision.match.rule, decision.match.invoice_ids


def test_end_to_end_id_wins_and_scores_100() -> None:
    instruction = OpenInstruction("E2E-1", ("I2",), "V1", IBAN, Decimal("250.00"), "EUR", date(2026, 3, 9))
    decision = match_payment(line("250.00", end_to_end_id="E2E-1"), [instruction], LEDGER)
    assert auto(decision) == ("end_to_end_id", ("I2",)) and decision.match.confidence == 100


def test_end_to_end_id_with_another_amount_is_only_a_suggestion() -> None:
    instruction = OpenInstruction("E2E-1", ("I2",), "V1", IBAN, Decimal("250.00"), "EUR", date(2026, 3, 9))
    decision = match_payment(line("200.00", end_to_end_id="E2E-1"), [instruction], [])
    assert decision.outcome is Outcome.SUGGESTED and decision.candidates[0].end_to_end_id == "E2E-1"


def test_instruction_without_id_by_amount_creditor_and_date() -> None:
    instruction = OpenInstruction("E2E-7", ("I9",), "V1", IBAN, Decimal("333.33"), "EUR", date(2026, 3, 9))
    assert auto(match_payment(line("333.33"), [instruction], [])) == ("amount_creditor_date", ("I9",))
    late = line("333.33", booked=date(2026, 3, 20))
    assert match_payment(late, [instruction], []).outcome is Outcome.UNMATCHED


def test_creditor_reference_in_field_or_text() -> None:
    assert auto(match_payment(line("75.50", creditor_reference=RF), [], LEDGER)) == ("creditor_reference", ("I3",))
    grouped = " ".join(RF[i : i + 4] for i in range(0, len(RF), 4))
    assert auto(match_payment(line("75.50", f"Zahlung {grouped}"), [], LEDGER))[0] == "creditor_reference"


def test_invalid_creditor_reference_is_ignored() -> None:
    broken = RF[:-1] + ("2" if RF[-1] != "2" else "3")
    decision = match_payment(line("75.50", creditor_reference=broken, counterparty_account=OTHER,
                                  counterparty_name="SOMEONE ELSE"), [], LEDGER)
    assert decision.outcome is Outcome.UNMATCHED


def test_invoice_numbers_in_text_pay_several_invoices() -> None:
    decision = match_payment(line("350.00", "inv nl 2026 00001 / NL-2026-00002"), [], LEDGER)
    assert auto(decision) == ("invoice_number_in_text", ("I1", "I2"))


def test_one_payment_for_several_invoices_by_subset_sum() -> None:
    assert auto(match_payment(line("1425.50", "Payment"), [], LEDGER)) == (
        "amount_counterparty", ("I1", "I2", "I3", "I4"),
    )


def test_two_combinations_that_fit_are_a_suggestion_not_a_guess() -> None:
    ledger = [*LEDGER, open_invoice("I5", "350.00")]  # 350 = I5 alone = I1 + I2
    decision = match_payment(line("350.00", "Payment"), [], ledger)
    assert decision.outcome is Outcome.SUGGESTED
    assert {c.invoice_ids for c in decision.candidates} >= {("I5",), ("I1", "I2")}
    finding = decision.finding(line("350.00"))
    assert finding is not None and finding.category is Category.UNMATCHED_SETTLEMENT and "I5" in finding.refs


def test_equal_amounts_tie_and_go_to_review() -> None:
    ledger = [open_invoice("I1", "100.00"), open_invoice("I2", "100.00")]
    decision = match_payment(line("100.00", "Payment"), [], ledger)
    assert decision.outcome is Outcome.SUGGESTED and decision.match is None and len(decision.candidates) == 2


def test_partial_payments_with_a_reference() -> None:
    decision = match_payment(line("400.00", "NL-2026-00004 part 1"), [], LEDGER)
    assert auto(decision) == ("invoice_number_in_text", ("I4",))
    assert decision.match.settles is Settles.PARTLY
    (allocation,) = decision.match.allocations
    assert allocation.amount == Decimal("400.00") and not allocation.closes


def test_partial_payment_without_reference_is_not_matched() -> None:
    assert match_payment(line("400.00", "Payment"), [], LEDGER).outcome is not Outcome.AUTO_MATCHED


def test_early_payment_discount_within_its_window_only() -> None:
    decision = match_payment(line("980.00", "Payment"), [], LEDGER)
    assert auto(decision) == ("amount_counterparty", ("I4",)) and decision.match.settles is Settles.WITH_DISCOUNT
    late = match_payment(line("980.00", "Payment", booked=date(2026, 4, 20)), [], LEDGER)
    assert late.outcome is not Outcome.AUTO_MATCHED


def test_invoice_specific_discount_terms() -> None:
    ledger = [open_invoice("I7", "1000.00", discount_percent=Decimal(3), discount_days=10)]
    assert auto(match_payment(line("970.00", "NL-2026-00007"), [], ledger))[1] == ("I7",)


def test_short_payment_within_tolerance_and_beyond() -> None:
    decision = match_payment(line("990.00", "NL-2026-00004"), [], LEDGER)
    assert auto(decision)[1] == ("I4",) and decision.match.settles is Settles.SHORT
    assert match_payment(line("900.00", "Payment"), [], LEDGER).outcome is not Outcome.AUTO_MATCHED


def test_unknown_counterparty_by_amount_alone_is_never_auto_matched() -> None:
    stranger = line("250.00", "Payment", counterparty_account=OTHER, counterparty_name="ACME CARD SERVICES")
    assert match_payment(stranger, [], LEDGER).outcome is Outcome.UNMATCHED


def test_known_name_new_account_with_reference_matches_and_amount_alone_needs_the_full_name() -> None:
    with_reference = line("250.00", "Invoice NL-2026-00002", counterparty_account=OTHER)
    assert auto(match_payment(with_reference, [], LEDGER))[1] == ("I2",)
    # The vendor's name (legal form, case and umlauts aside) and its only open invoice of that amount.
    named = line("250.00", "x", counterparty_account=OTHER, counterparty_name="NORDWIND LOGISTIK")
    assert auto(match_payment(named, [], LEDGER)) == ("amount_counterparty", ("I2",))
    # A first word shared by a family of vendors is not enough.
    vague = line("250.00", "x", counterparty_account=OTHER, counterparty_name="NORDWIND")
    assert match_payment(vague, [], LEDGER).outcome is Outcome.SUGGESTED


def test_same_candidates_in_any_order_give_the_same_decision() -> None:
    forward = match_payment(line("350.00", "Payment"), [], LEDGER)
    backward = match_payment(line("350.00", "Payment"), [], list(reversed(LEDGER)))
    assert forward == backward


def test_subset_search_is_bounded() -> None:
    many = [open_invoice(f"I{n}", f"{100 + n}.00") for n in range(40)]
    sets, exhausted = subsets_near(Decimal("600.00"), many, date(2026, 3, 10), DEFAULT_POLICY)
    assert all(len(s) <= DEFAULT_POLICY.max_invoices_per_payment for s in sets)
    tight = MatchPolicy(subset_budget=3)
    assert subsets_near(Decimal("600.00"), many, date(2026, 3, 10), tight)[1] is True
    assert not exhausted or sets


# -- what real payers do (classes of the independent set, benchmarks/evalset) ----------------------
def test_a_named_invoice_wins_over_other_invoices_the_amount_happens_to_fit() -> None:
    # Short by postage on I4, and the amount is exactly I1 + I2 + ... : the number the payer wrote decides.
    ledger = [*LEDGER, open_invoice("I5", "995.00")]
    decision = match_payment(line("995.00", "Rechnung NL-2026-00004 abzgl. Porto"), [], ledger)
    assert auto(decision) == ("invoice_number_in_text", ("I4",))
    assert decision.match.settles is Settles.SHORT
    assert any("named other invoices" in e for m in decision.candidates for e in m.evidence)


def test_a_credit_note_named_in_the_payment_is_netted() -> None:
    ledger = [*LEDGER, open_invoice("C1", "30.00", "CN-77", credit_note=True)]
    decision = match_payment(line("970.00", "INV NL-2026-00004 less credit note CN-77"), [], ledger)
    assert auto(decision) == ("invoice_number_in_text", ("C1", "I4"))
    assert decision.match.settles is Settles.IN_FULL
    assert {a.invoice_id: a.closes for a in decision.match.allocations} == {"C1": True, "I4": True}
    # A debit never pays a credit note alone.
    assert match_payment(line("30.00", "CN-77", counterparty_account=OTHER), [], ledger).match is None


def test_a_named_payment_over_by_a_bank_fee_closes_the_invoice() -> None:
    decision = match_payment(line("1015.00", "NL-2026-00004"), [], LEDGER)
    assert auto(decision) == ("invoice_number_in_text", ("I4",))
    assert decision.match.settles is Settles.OVER and "bank fee" in " ".join(decision.match.evidence)
    assert match_payment(line("1075.00", "NL-2026-00004"), [], LEDGER).outcome is not Outcome.AUTO_MATCHED


def test_an_early_payment_discount_rounded_half_up_by_the_payer() -> None:
    ledger = [open_invoice("I9", "102.25", "NL-2026-00009")]  # 2 % is 2.045: 100.20 half-even, 100.21 half-up
    for paid in ("100.20", "100.21"):
        decision = match_payment(line(paid, "NL-2026-00009"), [], ledger)
        assert auto(decision) == ("invoice_number_in_text", ("I9",)) and decision.match.settles is Settles.WITH_DISCOUNT


def test_a_supplier_paying_out_a_credit_note_and_a_cheque_presented() -> None:
    ledger = [*LEDGER, open_invoice("C1", "30.00", "CN-77", credit_note=True)]
    refund = match_payment(line("30.00", "Gutschrift CN-77", credit=True), [], ledger)
    assert auto(refund) == ("invoice_number_in_text", ("C1",))
    # A credit never settles an invoice of ours, nor a debit a credit note.
    assert match_payment(line("250.00", "NL-2026-00002", credit=True), [], ledger).match is None
    cheque = line("1000.00", "", counterparty_account=None, counterparty_name=None, cheque=True)
    assert auto(match_payment(cheque, [], ledger)) == ("amount_counterparty", ("I4",))
    twice = [*ledger, open_invoice("I8", "1000.00")]
    assert match_payment(cheque, [], twice).outcome is not Outcome.AUTO_MATCHED  # two of that amount: review
