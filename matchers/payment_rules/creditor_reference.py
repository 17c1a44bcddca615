"""`creditor_reference`: a valid ISO 11649 RF reference of open invoices, in its field or in the text.

The check digits make a wrong RF reference almost impossible, so it scores highest after our own id.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconstream.models.outputs import MatchMethod

from ..payment_model import BankLine, OpenInvoice, PaymentMatch, Settles
from ..remittance import compact_rf, find_rf_references, is_valid_rf
from .base import Lookup, PaymentRule
from .named import by_reference

CONFIDENCE = {Settles.IN_FULL: 99, Settles.WITH_DISCOUNT: 96, Settles.SHORT: 94, Settles.PARTLY: 93, Settles.OVER: 75}


def line_references(line: BankLine) -> list[str]:
    """The valid RF references on the line, field first, compacted."""
    refs = [compact_rf(line.creditor_reference)] if line.creditor_reference else []
    refs += find_rf_references(line.remittance_info)
    return [ref for ref in dict.fromkeys(refs) if is_valid_rf(ref)]


class CreditorReference(PaymentRule):
    name = MatchMethod.CREDITOR_REFERENCE

    def line_keys(self, line: BankLine) -> list[str]:
        return [f"rf:{ref}" for ref in line_references(line)]

    def invoice_keys(self, invoice: OpenInvoice) -> list[str]:
        return [f"rf:{compact_rf(invoice.creditor_reference)}"] if invoice.creditor_reference else []

    def candidates(self, lookup: Lookup, earlier: Sequence[PaymentMatch]) -> list[PaymentMatch]:
        references = set(line_references(lookup.line))
        named = [i for i in lookup.invoices if i.creditor_reference and compact_rf(i.creditor_reference) in references]
        if not named:
            return []
        said = "creditor reference " + ", ".join(sorted(compact_rf(i.creditor_reference or "") for i in named))
        found = by_reference(lookup.line, self.name, CONFIDENCE, named, said, lookup.policy)
        return [found] if found else []
