"""`re_keyed_number`: the same document keyed again with its number re-written (punctuation, prefix, year,
leading zeros, OCR look-alikes), the amount equal, near or net for gross, the date near or swapped."""

from __future__ import annotations

from reconstream.models.invoices import Invoice

from ..duplicate_evidence import AmountRelation, DateRelation, DuplicatePolicy, SupplierIdentity, conflicts
from ..invoice_numbers import compact_number, skeletons
from .base import REKEYED, DuplicateRule, Pair


class ReKeyedNumber(DuplicateRule):
    name = "re_keyed_number"

    def keys(self, invoice: Invoice, identity: SupplierIdentity) -> list[str]:
        # The number without separators, zeros kept: a re-punctuated copy meets its original even when the
        # amount was re-keyed too (one key, under the vendor: the skeleton keys cover the other vendor ids).
        keys = [f"dup:C|{invoice.vendor_id}|{compact_number(invoice.supplier_invoice_number)}"]
        numbers = skeletons(invoice.supplier_invoice_number)
        return keys + [f"dup:N|{token}|{skeleton}" for token in identity.tokens() for skeleton in numbers]

    def holds(self, pair: Pair, policy: DuplicatePolicy) -> bool:
        return (
            pair.number.relation in REKEYED
            and pair.amount is not AmountRelation.DIFFERENT
            and pair.date is not DateRelation.FAR
            and conflicts(pair.invoice, pair.earlier, weak_number=False) is None
        )
