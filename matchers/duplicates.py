"""Duplicate invoice detection. Candidates come from blocking keys, never from a scan of all invoices.

The rules are named objects in one registry (`matchers/duplicate_rules/`), strongest first:
- `exact`: same vendor, same normalised supplier invoice number, same document type, same gross amount
  and same invoice date;
- `re_keyed_number`, `mistyped_number`, `sequence_slip`: the same document keyed again with the number
  re-written (prefix, year, OCR look-alikes), mistyped by one character or two swapped, the amount equal,
  within tolerance or net for gross, the date equal, near or with day and month swapped, and under the same
  vendor or another vendor id of the same supplier (same tax id or bank account).
Every flag has a score 0-100 and its reasons. Legitimate look-alikes stay quiet because each rule needs the
number to agree: recurring rent and instalments share vendor and amount but not the number; a vendor's next
invoice differs in the running sequence, which only counts with the same amount, the same date and nothing
(PO, due date, lines) apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconstream.models.exceptions import Category
from reconstream.models.invoices import Invoice

from .duplicate_evidence import (
    DEFAULT_POLICY,
    DuplicateDecision,
    DuplicatePolicy,
    SupplierIdentity,
    compare_amounts,
    compare_dates,
    supplier_relation,
)
from .duplicate_rules import DUPLICATE_RULES, Pair
from .duplicate_rules.exact import blocking_key, exact_duplicate
from .findings import Finding
from .invoice_numbers import NumberRelation, compare_numbers, normalize_invoice_number

__all__ = [
    "DuplicateDecision",
    "DuplicatePolicy",
    "SupplierIdentity",
    "assess_pair",
    "blocking_keys",
    "check_duplicate",
    "duplicate_keys",
    "exact_duplicate",
    "find_duplicate",
    "normalize_invoice_number",
]


def blocking_keys(invoice: Invoice) -> list[str]:
    return [blocking_key(invoice)]


def find_duplicate(invoice: Invoice, candidates: Iterable[Invoice]) -> Finding | None:
    """The earliest captured candidate that is the same document by the exact tier; candidates in capture order."""
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


def duplicate_keys(invoice: Invoice, identity: SupplierIdentity | None = None) -> list[str]:
    """Index and lookup keys of every rule; each selects a handful of invoices whatever the ledger's size.
    The exact tier's key comes first."""
    identity = identity or SupplierIdentity(invoice.vendor_id)
    return list(dict.fromkeys(key for rule in DUPLICATE_RULES for key in rule.keys(invoice, identity)))


def compare(
    invoice: Invoice, earlier: Invoice, identities: Mapping[str, SupplierIdentity], policy: DuplicatePolicy
) -> Pair | None:
    """The pair's evidence, or None when it cannot be one document (another type, currency or supplier, or
    numbers that have nothing in common)."""
    if earlier.invoice_id == invoice.invoice_id or earlier.document_type != invoice.document_type:
        return None
    if earlier.currency != invoice.currency:
        return None
    supplier = supplier_relation(invoice.vendor_id, earlier.vendor_id, identities)
    if supplier is None:
        return None
    number = compare_numbers(invoice.supplier_invoice_number, earlier.supplier_invoice_number)
    if number.relation is NumberRelation.DIFFERENT:
        return None
    amount, amount_reason = compare_amounts(invoice, earlier, policy)
    date_relation, days, date_reason = compare_dates(invoice.invoice_date, earlier.invoice_date, policy)
    return Pair(invoice, earlier, *supplier, number, amount, amount_reason, date_relation, days, date_reason)


def assess_pair(
    invoice: Invoice,
    earlier: Invoice,
    identities: Mapping[str, SupplierIdentity],
    policy: DuplicatePolicy = DEFAULT_POLICY,
) -> DuplicateDecision | None:
    """Whether `invoice` is a copy of `earlier`, scored and explained by the first rule that holds."""
    pair = compare(invoice, earlier, identities, policy)
    if pair is None:
        return None
    for rule in DUPLICATE_RULES:
        if rule.holds(pair, policy):
            return DuplicateDecision(
                invoice.invoice_id,
                earlier.invoice_id,
                rule.name,
                rule.score(pair),
                rule.reasons(pair),
                invoice.gross_amount,
                invoice.currency,
            )
    return None


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
