"""`mistyped_number`: one character mistyped or two swapped outside the running sequence, with the amount
equal or net for gross and the date close (or day and month swapped), and nothing (PO, due date, lines)
that says two documents."""

from __future__ import annotations

from reconstream.models.invoices import Invoice

from ..duplicate_evidence import AmountRelation, DateRelation, DuplicatePolicy, SupplierIdentity, conflicts
from .base import ONE_EDIT, DuplicateRule, Pair, amount_keys


class MistypedNumber(DuplicateRule):
    name = "mistyped_number"

    def keys(self, invoice: Invoice, identity: SupplierIdentity) -> list[str]:
        return amount_keys(invoice, identity)  # the number is wrong: the amount is how the copy meets it

    def holds(self, pair: Pair, policy: DuplicatePolicy) -> bool:
        if pair.number.relation not in ONE_EDIT or pair.number.in_sequence:
            return False
        near = pair.date is not DateRelation.FAR and pair.days <= policy.typo_days
        close = pair.date is DateRelation.SWAPPED or near  # a mistyped copy is keyed soon after
        return (
            pair.amount in (AmountRelation.EQUAL, AmountRelation.NET_GROSS)
            and close
            and conflicts(pair.invoice, pair.earlier, weak_number=True) is None
        )
