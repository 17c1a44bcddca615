"""Duplicate invoice detection. Candidates come from blocking keys, never from a scan of all invoices.

Two tiers, each a named rule a clerk can read back:
- exact (`find_duplicate`): same vendor, same normalised supplier invoice number, same document type,
  same gross amount and same invoice date.
- fuzzy (`check_duplicate`): the same document keyed again with the number re-written (prefix, year,
  OCR look-alikes), mistyped by one character or two swapped, the amount equal, within tolerance or
  net for gross, the date equal, near or with day and month swapped, and under the same vendor or
  another vendor id of the same supplier (same tax id or bank account). Every flag has a score 0-100
  and its reasons.
Legitimate look-alikes stay quiet because each rule needs the number to agree: recurring rent and
instalments share vendor and amount but not the number; a vendor's next invoice differs in the running
sequence, which only counts with the same amount, the same date and nothing (PO, due date, lines) apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from reconstream.models.exceptions import Category
from reconstream.models.invoices import Invoice
from reconstream.models.master_data import Vendor

from .findings import Finding
from .invoice_numbers import (
    NumberComparison,
    NumberRelation,
    compact_number,
    compare_numbers,
    normalize_invoice_number,
    skeletons,
)

__all__ = [
    "DuplicateDecision",
    "DuplicatePolicy",
    "SupplierIdentity",
    "blocking_keys",
    "check_duplicate",
    "duplicate_keys",
    "exact_duplicate",
    "find_duplicate",
    "normalize_invoice_number",
]


# -- exact tier (called by streams/invoices.py) ----------------------------------------------------
def blocking_keys(invoice: Invoice) -> list[str]:
    return [f"{invoice.vendor_id}|{normalize_invoice_number(invoice.supplier_invoice_number)}"]


def exact_duplicate(invoice: Invoice, earlier: Invoice) -> list[str] | None:
    """The reasons two invoices are the same document, or None if any exact-tier field differs."""
    if earlier.invoice_id == invoice.invoice_id or earlier.document_type != invoice.document_type:
        return None
    if (earlier.gross_amount, earlier.currency, earlier.invoice_date) != (
        invoice.gross_amount,
        invoice.currency,
        invoice.invoice_date,
    ):
        return None
    if earlier.vendor_id != invoice.vendor_id or normalize_invoice_number(
        earlier.supplier_invoice_number
    ) != normalize_invoice_number(invoice.supplier_invoice_number):
        return None
    number, earlier_number = invoice.supplier_invoice_number, earlier.supplier_invoice_number
    return [
        "same vendor",
        "same invoice number" if number == earlier_number else f"{number!r} equals {earlier_number!r} once normalised",
        "same gross amount",
        "same invoice date",
    ]


def find_duplicate(invoice: Invoice, candidates: Iterable[Invoice]) -> Finding | None:
    """The earliest captured candidate that is the same document; candidates come in capture order."""
    for earlier in candidates:
        reasons = exact_duplicate(invoice, earlier)
        if reasons is not None:
            return Finding(
                Category.DUPLICATE_INVOICE,
                (invoice.invoice_id, earlier.invoice_id),
                f"duplicate of {earlier.invoice_id}: " + ", ".join(reasons),
                invoice.gross_amount,
                invoice.currency,
            )
    return None


# -- who the supplier is ---------------------------------------------------------------------------
def _compact(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class SupplierIdentity:
    """What makes two vendor ids one supplier: the tax id, or a bank account they share."""

    vendor_id: str
    tax_id: str | None = None
    accounts: tuple[str, ...] = ()  # keys of its bank accounts

    @classmethod
    def of(cls, vendor: Vendor) -> SupplierIdentity:
        return cls(
            vendor.vendor_id,
            _compact(vendor.tax_id) if vendor.tax_id else None,
            tuple(sorted(account.account.key for account in vendor.bank_accounts)),
        )

    def tokens(self) -> list[str]:
        """Blocking tokens; the vendor id only when nothing stronger is on file (the tax id covers it)."""
        tokens = [f"T:{self.tax_id}"] if self.tax_id else []
        tokens += [f"B:{account}" for account in self.accounts]
        return tokens or [f"V:{self.vendor_id}"]


class SupplierRelation(StrEnum):
    SAME_VENDOR = "same_vendor"
    SAME_TAX_ID = "same_tax_id"
    SAME_BANK_ACCOUNT = "same_bank_account"


def supplier_relation(
    vendor_id: str, earlier_vendor_id: str, identities: Mapping[str, SupplierIdentity]
) -> tuple[SupplierRelation, str] | None:
    if vendor_id == earlier_vendor_id:
        return SupplierRelation.SAME_VENDOR, "same vendor"
    mine, theirs = identities.get(vendor_id), identities.get(earlier_vendor_id)
    if mine is None or theirs is None:
        return None
    if mine.tax_id and mine.tax_id == theirs.tax_id:
        why = f"vendor {vendor_id} is the same supplier as {earlier_vendor_id} (tax id {mine.tax_id})"
        return SupplierRelation.SAME_TAX_ID, why
    shared = sorted(set(mine.accounts) & set(theirs.accounts))
    if shared:
        why = f"vendor {vendor_id} is the same supplier as {earlier_vendor_id} (bank account {shared[0]})"
        return SupplierRelation.SAME_BANK_ACCOUNT, why
    return None


# -- blocking --------------------------------------------------------------------------------------
def duplicate_keys(invoice: Invoice, identity: SupplierIdentity | None = None) -> list[str]:
    """Index and lookup keys for both tiers; each selects a handful of invoices whatever the ledger's size.

    Per supplier token (tax id, each IBAN, or the vendor id): the OCR-folded number skeletons, and the
    gross and net amounts to the cent (a mistyped number still meets its original through the amount,
    and a copy keyed net for gross meets it through the other amount). The exact tier's key comes first.
    """
    identity = identity or SupplierIdentity(invoice.vendor_id)
    keys = dict.fromkeys(blocking_keys(invoice))
    numbers = skeletons(invoice.supplier_invoice_number)
    # The number without separators, zeros kept: a re-punctuated copy meets its original even when the
    # amount was re-keyed too (one key, under the vendor: the tokens below cover the other vendor ids).
    keys[f"dup:C|{invoice.vendor_id}|{compact_number(invoice.supplier_invoice_number)}"] = None
    amounts = dict.fromkeys((invoice.gross_amount, invoice.net_amount))
    for token in identity.tokens():
        for skeleton in numbers:
            keys[f"dup:N|{token}|{skeleton}"] = None
        for amount in amounts:
            keys[f"dup:A|{token}|{invoice.currency}|{amount}"] = None
    return list(keys)


# -- the fuzzy tier --------------------------------------------------------------------------------
class AmountRelation(StrEnum):
    EQUAL = "equal"
    NET_GROSS = "net_gross"  # one copy keyed net where the other has gross
    NEAR = "near"
    DIFFERENT = "different"


class DateRelation(StrEnum):
    SAME = "same"
    SWAPPED = "swapped"  # 03.04. keyed as 04.03.
    NEAR = "near"
    FAR = "far"


@dataclass(frozen=True, slots=True)
class DuplicatePolicy:
    """Tolerances of the fuzzy tier, each in one unit and explicit."""

    amount_tolerance_abs: Decimal = Decimal("1.00")  # document currency
    amount_tolerance_rel: Decimal = Decimal("0.005")  # of the larger gross amount
    near_days: int = 10  # a re-keyed copy may carry the receipt date instead of the invoice date (2-9 days on)
    typo_days: int = 3  # a mistyped number needs the date closer than a re-keyed one


DEFAULT_POLICY = DuplicatePolicy()


@dataclass(frozen=True, slots=True)
class DuplicateDecision:
    invoice_id: str
    earlier_invoice_id: str
    rule: str
    score: int
    reasons: tuple[str, ...]
    amount: Decimal
    currency: str

    def finding(self) -> Finding:
        return Finding(
            Category.DUPLICATE_INVOICE,
            (self.invoice_id, self.earlier_invoice_id),
            f"duplicate of {self.earlier_invoice_id} (score {self.score}, rule {self.rule}): "
            + ", ".join(self.reasons),
            self.amount,
            self.currency,
        )


def compare_amounts(invoice: Invoice, earlier: Invoice, policy: DuplicatePolicy) -> tuple[AmountRelation, str]:
    gross, other = invoice.gross_amount, earlier.gross_amount
    if gross == other:
        return AmountRelation.EQUAL, "same gross amount"
    if gross == earlier.net_amount or invoice.net_amount == other:
        return AmountRelation.NET_GROSS, "net amount of one equals the gross of the other"
    tolerance = max(policy.amount_tolerance_abs, policy.amount_tolerance_rel * max(gross, other))
    if abs(gross - other) <= tolerance:
        return AmountRelation.NEAR, f"gross amount {gross - other:+} {invoice.currency} apart"
    return AmountRelation.DIFFERENT, "different amount"


def compare_dates(invoice_date: date, earlier_date: date, policy: DuplicatePolicy) -> tuple[DateRelation, int, str]:
    days = (invoice_date - earlier_date).days
    if days == 0:
        return DateRelation.SAME, 0, "same invoice date"
    if (invoice_date.year, invoice_date.day, invoice_date.month) == (
        earlier_date.year,
        earlier_date.month,
        earlier_date.day,
    ):
        return DateRelation.SWAPPED, abs(days), f"date {invoice_date} is {earlier_date} with day and month swapped"
    if abs(days) <= policy.near_days:
        return DateRelation.NEAR, abs(days), f"date {days:+} days"
    return DateRelation.FAR, abs(days), f"date {days:+} days"


def _conflicts(invoice: Invoice, earlier: Invoice, weak_number: bool) -> str | None:
    """Fields two copies of one document cannot disagree on; a reason they are two documents."""
    if invoice.po_number and earlier.po_number and invoice.po_number != earlier.po_number:
        return "different purchase orders"
    if not weak_number:
        return None
    if invoice.due_date and earlier.due_date and invoice.due_date != earlier.due_date:
        return "different due dates"
    descriptions = sorted(line.description for line in invoice.lines)
    earlier_descriptions = sorted(line.description for line in earlier.lines)
    if descriptions and earlier_descriptions and descriptions != earlier_descriptions:
        return "different invoice lines"
    return None


_NUMBER_SCORE = {
    NumberRelation.SAME: 100,
    NumberRelation.NORMALISED: 98,
    NumberRelation.AFFIXES: 94,
    NumberRelation.OCR: 93,
    NumberRelation.TRANSPOSITION: 88,
    NumberRelation.TYPO: 86,
    NumberRelation.SEQUENCE: 80,
}
_AMOUNT_SCORE = {AmountRelation.EQUAL: 100, AmountRelation.NET_GROSS: 90, AmountRelation.NEAR: 88}
_SUPPLIER_SCORE = {
    SupplierRelation.SAME_VENDOR: 100,
    SupplierRelation.SAME_TAX_ID: 96,
    SupplierRelation.SAME_BANK_ACCOUNT: 92,
}
_REKEYED = frozenset({NumberRelation.SAME, NumberRelation.NORMALISED, NumberRelation.AFFIXES, NumberRelation.OCR})
_ONE_EDIT = frozenset({NumberRelation.TYPO, NumberRelation.TRANSPOSITION, NumberRelation.SEQUENCE})


def _rule(
    number: NumberComparison, amount: AmountRelation, date_relation: DateRelation, days: int, policy: DuplicatePolicy
) -> str | None:
    """Which named rule, if any, holds: each needs the number to agree and at least two more signals."""
    near = date_relation is not DateRelation.FAR
    if number.relation in _REKEYED and amount is not AmountRelation.DIFFERENT and near:
        return "re_keyed_number"
    if number.relation not in _ONE_EDIT:
        return None
    if not number.in_sequence:
        close = date_relation is DateRelation.SWAPPED or (
            date_relation is not DateRelation.FAR and days <= policy.typo_days
        )
        if amount in (AmountRelation.EQUAL, AmountRelation.NET_GROSS) and close:
            return "mistyped_number"
        return None
    # The next invoice of a busy supplier looks exactly like this; only a perfect copy otherwise counts.
    if amount is AmountRelation.EQUAL and date_relation is DateRelation.SAME:
        return "sequence_slip"
    return None


def assess_pair(
    invoice: Invoice,
    earlier: Invoice,
    identities: Mapping[str, SupplierIdentity],
    policy: DuplicatePolicy = DEFAULT_POLICY,
) -> DuplicateDecision | None:
    """Whether `invoice` is a copy of `earlier`, scored and explained; None when it is its own document."""
    if earlier.invoice_id == invoice.invoice_id or earlier.document_type != invoice.document_type:
        return None
    if earlier.currency != invoice.currency:
        return None
    supplier = supplier_relation(invoice.vendor_id, earlier.vendor_id, identities)
    if supplier is None:
        return None
    exact = exact_duplicate(invoice, earlier)
    if exact is not None:
        return DuplicateDecision(
            invoice.invoice_id, earlier.invoice_id, "exact", 100, tuple(exact), invoice.gross_amount, invoice.currency
        )
    number = compare_numbers(invoice.supplier_invoice_number, earlier.supplier_invoice_number)
    if number.relation is NumberRelation.DIFFERENT:
        return None
    amount, amount_reason = compare_amounts(invoice, earlier, policy)
    date_relation, days, date_reason = compare_dates(invoice.invoice_date, earlier.invoice_date, policy)
    rule = _rule(number, amount, date_relation, days, policy)
    if rule is None or _conflicts(invoice, earlier, number.relation in _ONE_EDIT) is not None:
        return None
    date_score = {DateRelation.SAME: 100, DateRelation.SWAPPED: 92}.get(date_relation, 96 - 3 * days)
    score = round(
        0.4 * _NUMBER_SCORE[number.relation]
        + 0.3 * _AMOUNT_SCORE[amount]
        + 0.2 * date_score
        + 0.1 * _SUPPLIER_SCORE[supplier[0]]
    )
    reasons = (supplier[1], number.reason, amount_reason, date_reason)
    return DuplicateDecision(
        invoice.invoice_id, earlier.invoice_id, rule, min(score, 99), reasons, invoice.gross_amount, invoice.currency
    )


def check_duplicate(
    invoice: Invoice,
    candidates: Iterable[Invoice],
    identities: Mapping[str, SupplierIdentity] | None = None,
    policy: DuplicatePolicy = DEFAULT_POLICY,
) -> DuplicateDecision | None:
    """The best-scoring earlier copy among the candidates, or None; every candidate is scored.

    Ties go to the smallest invoice id, so the same candidates in any order give the same decision.
    """
    identities = identities or {}
    best: DuplicateDecision | None = None
    seen: set[str] = set()
    for earlier in candidates:
        if earlier.invoice_id in seen:
            continue
        seen.add(earlier.invoice_id)
        decision = assess_pair(invoice, earlier, identities, policy)
        if decision is not None and (
            best is None or (-decision.score, decision.earlier_invoice_id) < (-best.score, best.earlier_invoice_id)
        ):
            best = decision
    return best
