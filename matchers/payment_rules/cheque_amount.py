"""`cheque_amount`: a cheque presented names no payee and no invoice, so its amount is all there is.

It may settle the one open invoice that carries exactly that amount, and only when no other does (a second
one makes it a clerk's call), and only when no rule before it found anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from reconstream.models.outputs import MatchMethod

from ..findings import fmt
from ..payment_model import BankLine, OpenInvoice, PaymentMatch, Settles
from ..settling import allocate
from .base import Lookup, PaymentRule


def amount_key(currency: str, amount: Decimal) -> str:
    """An invoice's total: where a cheque, which names nobody, finds the invoices it may pay."""
    return f"amt:{currency}|{amount}"


class ChequeAmount(PaymentRule):
    name = MatchMethod.CHEQUE_AMOUNT

    def line_keys(self, line: BankLine) -> list[str]:
        return [amount_key(line.currency, line.amount)] if line.cheque else []

    def invoice_keys(self, invoice: OpenInvoice) -> list[str]:
        # The document's total, not what is open: the key stays put while part payments come in.
        return [amount_key(invoice.currency, invoice.gross)]

    def candidates(self, lookup: Lookup, earlier: Sequence[PaymentMatch]) -> list[PaymentMatch]:
        line = lookup.line
        if not line.cheque or earlier:
            return []
        exact = [
            i
            for i in lookup.invoices
            if not i.credit_note
            and (i.currency, i.open_amount) == (line.currency, line.amount)
            and i.invoice_date <= line.booking_date
        ]
        confidence = 91 if len(exact) == 1 else 70
        evidence = ("a cheque: no payee or reference on the line", f"equals the open {fmt(line.amount, line.currency)}")
        return [
            PaymentMatch(
                self.name,
                confidence,
                (*evidence, f"invoice {i.number}"),
                (i.invoice_id,),
                Settles.IN_FULL,
                allocate(line.amount, [i], Settles.IN_FULL),
                None,
                Decimal(0),
            )
            for i in exact
        ]
