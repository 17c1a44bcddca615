"""`invoice_number_in_text`: invoice numbers of open invoices found in the remittance text.

A number is found in any of its written forms (prefix dropped, zeros dropped, OCR look-alikes, cut across
the bank's 27- or 35-character pieces: matchers/remittance.py); a number names an invoice only together
with its payee when the payee is recognised (many suppliers share "RE 2026/42").
"""

from __future__ import annotations

from collections.abc import Sequence

from reconstream.models.outputs import MatchMethod

from ..invoice_numbers import number_forms
from ..payment_model import BankLine, OpenInvoice, PaymentMatch, Settles
from ..remittance import mentions_invoice, number_mentions
from .base import Lookup, PaymentRule
from .named import by_reference

CONFIDENCE = {Settles.IN_FULL: 97, Settles.WITH_DISCOUNT: 94, Settles.SHORT: 92, Settles.PARTLY: 91, Settles.OVER: 75}


class InvoiceNumberInText(PaymentRule):
    name = MatchMethod.INVOICE_NUMBER_IN_TEXT

    def line_keys(self, line: BankLine) -> list[str]:
        if not line.remittance_info:
            return []
        return [f"num:{mention}" for mention in sorted(number_mentions(line.remittance_info))]

    def invoice_keys(self, invoice: OpenInvoice) -> list[str]:
        return [f"num:{form}" for form in sorted(number_forms(invoice.number))]

    def candidates(self, lookup: Lookup, earlier: Sequence[PaymentMatch]) -> list[PaymentMatch]:
        line = lookup.line
        mentions = number_mentions(line.remittance_info) if line.remittance_info else frozenset()
        if not mentions:
            return []
        named = [i for i in lookup.invoices if mentions_invoice(mentions, i.number)]
        if not named:
            return []
        said = "remittance names invoice(s) " + ", ".join(sorted(i.number for i in named))
        found = by_reference(line, self.name, CONFIDENCE, named, said, lookup.policy)
        return [found] if found else []
