"""What a duplicate rule is: the keys it files an invoice under (so a copy meets its original without a scan
of the ledger), the test it puts to a pair, and the score and reasons it gives a clerk."""

from __future__ import annotations

from dataclasses import dataclass

from reconstream.models.invoices import Invoice

from ..duplicate_evidence import (
    AmountRelation,
    DateRelation,
    DuplicatePolicy,
    SupplierIdentity,
    SupplierRelation,
)
from ..invoice_numbers import NumberComparison, NumberRelation


@dataclass(frozen=True, slots=True)
class Pair:
    """A newly captured invoice and an earlier one of the same supplier, compared field by field."""

    invoice: Invoice
    earlier: Invoice
    supplier: SupplierRelation
    supplier_reason: str
    number: NumberComparison
    amount: AmountRelation
    amount_reason: str
    date: DateRelation
    days: int
    date_reason: str

    def reasons(self) -> tuple[str, ...]:
        return (self.supplier_reason, self.number.reason, self.amount_reason, self.date_reason)


class DuplicateRule:
    """Base of every duplicate rule. A rule overrides `keys` and `holds`; `score` is the shared weighting."""

    name: str = ""

    def keys(self, invoice: Invoice, identity: SupplierIdentity) -> list[str]:
        """Index keys under which this rule's copies of `invoice` will look it up."""
        return []

    def holds(self, pair: Pair, policy: DuplicatePolicy) -> bool:
        raise NotImplementedError

    def score(self, pair: Pair) -> int:
        """0-99: the number weighs most, then the amount, the date and who the supplier is."""
        date_score = {DateRelation.SAME: 100, DateRelation.SWAPPED: 92}.get(pair.date, 96 - 3 * pair.days)
        score = round(
            0.4 * NUMBER_SCORE[pair.number.relation]
            + 0.3 * AMOUNT_SCORE[pair.amount]
            + 0.2 * date_score
            + 0.1 * SUPPLIER_SCORE[pair.supplier]
        )
        return min(score, 99)  # 100 is the exact tier's alone

    def reasons(self, pair: Pair) -> tuple[str, ...]:
        return pair.reasons()


NUMBER_SCORE = {
    NumberRelation.SAME: 100,
    NumberRelation.NORMALISED: 98,
    NumberRelation.AFFIXES: 94,
    NumberRelation.OCR: 93,
    NumberRelation.TRANSPOSITION: 88,
    NumberRelation.TYPO: 86,
    NumberRelation.SEQUENCE: 80,
    NumberRelation.DIFFERENT: 0,
}
AMOUNT_SCORE = {
    AmountRelation.EQUAL: 100,
    AmountRelation.NET_GROSS: 90,
    AmountRelation.NEAR: 88,
    AmountRelation.DIFFERENT: 0,
}
SUPPLIER_SCORE = {
    SupplierRelation.SAME_VENDOR: 100,
    SupplierRelation.SAME_TAX_ID: 96,
    SupplierRelation.SAME_BANK_ACCOUNT: 92,
}
# The number re-written (punctuation, prefix, year, OCR) or one edit apart (a typo, a swap, the next number).
REKEYED = frozenset({NumberRelation.SAME, NumberRelation.NORMALISED, NumberRelation.AFFIXES, NumberRelation.OCR})
ONE_EDIT = frozenset({NumberRelation.TYPO, NumberRelation.TRANSPOSITION, NumberRelation.SEQUENCE})


def amount_keys(invoice: Invoice, identity: SupplierIdentity) -> list[str]:
    """Per supplier token, the gross and net amounts to the cent: a mistyped number still meets its
    original through the amount, and a copy keyed net for gross meets it through the other amount."""
    amounts = dict.fromkeys((invoice.gross_amount, invoice.net_amount))
    return [f"dup:A|{token}|{invoice.currency}|{amount}" for token in identity.tokens() for amount in amounts]
