"""Duplicate invoice detection. Candidates come from blocking keys, never from a scan of all invoices.

The exact tier: same vendor, same normalised supplier invoice number, same document type, same gross
amount and same invoice date. Further tiers (fuzzy numbers, near amounts and dates, related vendors)
add blocking keys and rules here without changing the callers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reconstream.models.exceptions import Category
from reconstream.models.invoices import Invoice

from .findings import Finding

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def normalize_invoice_number(number: str) -> str:
    """Upper case, no leading zeros in any digit group, no punctuation or spaces.

    Zeros go before separators do, so 'INV-2026-0042' and 'inv 2026/42' agree, but 2026-0042 never
    collapses into the different number 20260042.
    """
    return _NOT_ALNUM.sub("", _LEADING_ZEROS.sub("", number.upper())) or "0"


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
