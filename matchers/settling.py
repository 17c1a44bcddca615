"""How an amount settles open documents: in full, after an early-payment discount, short, partly or over;
and whether the bank line's counterparty is the documents' payee. Shared by the payment rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from rapidfuzz import fuzz
from reconstream.models.money import minor_units, quantize

from .findings import fmt
from .invoice_numbers import number_forms
from .party_names import normalized, truncation_of
from .payment_model import Allocation, BankLine, MatchPolicy, OpenInvoice, PaymentMatch, Settles

HUNDRED = Decimal(100)


def cents(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(minor_units(currency)))


def short_tolerance(open_amount: Decimal, policy: MatchPolicy) -> Decimal:
    return min(policy.short_tolerance_abs, policy.short_tolerance_rel * open_amount)


def discount_percents(invoice: OpenInvoice, booked: date, policy: MatchPolicy) -> tuple[Decimal, ...]:
    """The discounts that may still be taken on the booking date: the invoice's own terms, else the default."""
    percents: tuple[Decimal, ...]
    if invoice.discount_percent is not None:
        days, percents = invoice.discount_days or policy.discount_days, (invoice.discount_percent,)
    else:
        days, percents = policy.discount_days, policy.discount_percents
    if (booked - invoice.invoice_date).days > days + policy.discount_grace_days:
        return ()
    return percents


def discounted(amount: Decimal, percent: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return quantize(amount * (HUNDRED - percent) / HUNDRED, currency, rounding)


# How payers arrive at what they remit after a discount: the amount less the percentage, rounded half-even or
# half-up; or the discount rounded on its own and taken off (as ERP payment programs compute it: 3 % of
# 1,617.50 is 48.525, half-up 48.53, so 1,568.97 where rounding the payment gives 1,568.98).
DISCOUNT_ROUNDINGS = (
    ("payment", ROUND_HALF_EVEN),
    ("payment", ROUND_HALF_UP),
    ("discount", ROUND_HALF_UP),
    ("discount", ROUND_HALF_EVEN),
)


def payable_after_discount(amount: Decimal, percent: Decimal, currency: str, rounded: str, rounding: str) -> Decimal:
    if rounded == "payment":
        return discounted(amount, percent, currency, rounding)
    return amount - quantize(amount * percent / HUNDRED, currency, rounding)


def open_total(invoices: Sequence[OpenInvoice]) -> Decimal:
    """What the invoices leave to pay together: their open amounts less the credit notes among them."""
    return sum((invoice.signed_open for invoice in invoices), Decimal(0))


def settles(
    paid: Decimal, invoices: Sequence[OpenInvoice], booked: date, policy: MatchPolicy
) -> tuple[Settles, str] | None:
    """How `paid` settles these invoices together: in full (credit notes named with them netted), after a
    discount (rounded as the payer may round it), or short within tolerance."""
    total = open_total(invoices)
    currency = invoices[0].currency
    netted = " less credit notes" if any(i.credit_note for i in invoices) else ""
    if paid == total:
        return Settles.IN_FULL, f"amount equals the open {fmt(total, currency)}{netted}"
    payable = [invoice for invoice in invoices if not invoice.credit_note]
    terms = [set(discount_percents(invoice, booked, policy)) for invoice in payable]
    common = set.intersection(*terms) if terms else set()
    credits = sum((i.signed_open for i in invoices if i.credit_note), Decimal(0))
    for percent in sorted(common):
        for rounded, rounding in DISCOUNT_ROUNDINGS:  # one payer rounds all its invoices alike
            after = sum(
                (payable_after_discount(i.open_amount, percent, currency, rounded, rounding) for i in payable),
                Decimal(0),
            )
            if paid == after + credits:
                return Settles.WITH_DISCOUNT, f"{percent} % early-payment discount taken on {fmt(total, currency)}"
    # Short on one invoice is a write-off; short on a combination is one guess too many.
    if len(invoices) == 1 and total - short_tolerance(total, policy) <= paid < total:
        return Settles.SHORT, f"short by {fmt(total - paid, currency)}, within tolerance"
    return None


def as_itemised(line: BankLine, invoices: Sequence[OpenInvoice]) -> tuple[Settles, str] | None:
    """The payer's own breakdown: it names each of these invoices (and credit notes) with the amount it
    remits for it, and the amounts add up to the line. A discount or credit note the payer applied is
    then its statement to check, not ours to guess: the invoices are settled as itemised."""
    if not line.itemised or sum((amount for _, amount in line.itemised), Decimal(0)) != line.amount:
        return None
    numbers = {form for number, _ in line.itemised for form in number_forms(number)}
    if not all(number_forms(invoice.number) & numbers for invoice in invoices):
        return None
    return Settles.WITH_DISCOUNT, f"settles {len(invoices)} document(s) as the payer itemised them"


def allocate(
    paid: Decimal, invoices: Sequence[OpenInvoice], how: Settles, write_off_short: bool = False
) -> tuple[Allocation, ...]:
    """Full settlements close every invoice; a partial one, and a short one unless differences are written
    off, fills the oldest due first and leaves the rest open."""
    if how is not Settles.PARTLY and not (how is Settles.SHORT and not write_off_short):
        return tuple(Allocation(invoice.invoice_id, invoice.open_amount, True) for invoice in invoices)
    allocations, left = [], paid
    for credit in (invoice for invoice in invoices if invoice.credit_note):
        allocations.append(Allocation(credit.invoice_id, credit.open_amount, True))  # used up in the netting
        left += credit.open_amount
    payable = [invoice for invoice in invoices if not invoice.credit_note]
    for invoice in sorted(payable, key=lambda i: (i.due_date or i.invoice_date, i.invoice_id)):
        take = min(left, invoice.open_amount)
        if take > 0:
            allocations.append(Allocation(invoice.invoice_id, take, take == invoice.open_amount))
        left -= take
    return tuple(allocations)


# -- counterparty ----------------------------------------------------------------------------------
def counterparty_evidence(line: BankLine, invoice: OpenInvoice, policy: MatchPolicy) -> tuple[int, str | None]:
    """(confidence penalty, evidence): 0 for an account on file, more for a name alone; None if neither."""
    if line.counterparty_account and line.counterparty_account in invoice.accounts:
        return 0, f"counterparty account {line.counterparty_account} on file for vendor {invoice.vendor_id}"
    if line.counterparty_name and invoice.vendor_name:
        written, on_file = normalized(line.counterparty_name), normalized(invoice.vendor_name)
        if written and (written == on_file or truncation_of(line.counterparty_name, invoice.vendor_name)):
            return 2, f"counterparty name {line.counterparty_name!r} is {invoice.vendor_name!r}"
        similarity = fuzz.token_set_ratio(written, on_file)
        if similarity >= policy.name_similarity:
            return 5, f"counterparty name {line.counterparty_name!r} ~ {invoice.vendor_name!r} ({similarity:.0f})"
    return 15, None


def capped(match: PaymentMatch, cap: int, why: str) -> PaymentMatch:
    """The match with its confidence held at `cap`, and why."""
    return replace(match, confidence=min(match.confidence, cap), evidence=(*match.evidence, why))
