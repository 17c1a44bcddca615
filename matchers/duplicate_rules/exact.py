"""`exact`: same vendor, same normalised supplier invoice number, same document type, gross amount and date.

The tier a clerk never argues with: it scores 100 and its key is the one the first release indexed.
"""

from __future__ import annotations

from reconstream.models.invoices import Invoice

from ..duplicate_evidence import DuplicatePolicy, SupplierIdentity
from ..invoice_numbers import normalize_invoice_number
from .base import DuplicateRule, Pair


def blocking_key(invoice: Invoice) -> str:
    return f"{invoice.vendor_id}|{normalize_invoice_number(invoice.supplier_invoice_number)}"


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
    if earlier.vendor_id != invoice.vendor_id or blocking_key(earlier) != blocking_key(invoice):
        return None
    number, earlier_number = invoice.supplier_invoice_number, earlier.supplier_invoice_number
    return [
        "same vendor",
        "same invoice number" if number == earlier_number else f"{number!r} equals {earlier_number!r} once normalised",
        "same gross amount",
        "same invoice date",
    ]


class Exact(DuplicateRule):
    name = "exact"

    def keys(self, invoice: Invoice, identity: SupplierIdentity) -> list[str]:
        return [blocking_key(invoice)]

    def holds(self, pair: Pair, policy: DuplicatePolicy) -> bool:
        return exact_duplicate(pair.invoice, pair.earlier) is not None

    def score(self, pair: Pair) -> int:
        return 100

    def reasons(self, pair: Pair) -> tuple[str, ...]:
        return tuple(exact_duplicate(pair.invoice, pair.earlier) or ())
