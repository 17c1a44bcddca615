"""`sequence_slip`: the number one edit apart inside the supplier's running sequence. A busy supplier's next
invoice looks exactly like that, so only a perfect copy otherwise counts: same amount, same date, nothing
(PO, due date, lines) apart. Same-day instalments of equal amount differ in their lines or due dates."""

from __future__ import annotations

from reconstream.models.invoices import Invoice

from ..duplicate_evidence import AmountRelation, DateRelation, DuplicatePolicy, SupplierIdentity, conflicts
from .base import ONE_EDIT, DuplicateRule, Pair, amount_keys


class SequenceSlip(DuplicateRule):
    name = "sequence_slip"

    def keys(self, invoice: Invoice, identity: SupplierIdentity) -> list[str]:
        return amount_keys(invoice, identity)

    def holds(self, pair: Pair, policy: DuplicatePolicy) -> bool:
        return (
            pair.number.relation in ONE_EDIT
            and pair.number.in_sequence
            and pair.amount is AmountRelation.EQUAL
            and pair.date is DateRelation.SAME
            and conflicts(pair.invoice, pair.earlier, weak_number=True) is None
        )
