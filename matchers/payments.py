"""Payment decisions: duplicate payments and the bank-acknowledgment status machine (pain.002)."""

from __future__ import annotations

from collections.abc import Mapping

from reconstream.models.exceptions import Category
from reconstream.models.payments import PaymentInstruction, TransactionStatus
from reconstream.tables.records import InstructionState, InvoiceState

from .findings import Finding

# Progress order of non-final statuses; a late, lower one (ACTC after ACSP) must not move a payment back.
_PROGRESS: dict[TransactionStatus, int] = {
    TransactionStatus.PDNG: 0,
    TransactionStatus.ACTC: 1,
    TransactionStatus.ACCP: 2,
    TransactionStatus.ACWC: 3,
    TransactionStatus.PART: 3,
    TransactionStatus.ACSP: 4,
    TransactionStatus.ACSC: 5,
}


def next_ack_status(current: TransactionStatus | None, incoming: TransactionStatus) -> TransactionStatus | None:
    """The status after an acknowledgment, or None when it changes nothing."""
    if current is None:
        return incoming
    if current is TransactionStatus.RJCT or current is incoming:
        return None
    if incoming is TransactionStatus.RJCT:
        # A bank may still reject after accepting, but not after it reports the payment settled.
        return None if current is TransactionStatus.ACSC else incoming
    return incoming if _PROGRESS[incoming] > _PROGRESS[current] else None


def duplicate_payment(
    instruction: PaymentInstruction,
    already_sent: InstructionState | None,
    invoices: Mapping[str, InvoiceState | None],
) -> Finding | None:
    """A second live instruction for the same end-to-end id or for an invoice already being paid."""
    if already_sent is not None:
        return Finding(
            Category.DUPLICATE_PAYMENT,
            (instruction.end_to_end_id, *instruction.invoice_ids),
            f"end-to-end id {instruction.end_to_end_id} was already sent in batch {already_sent.batch_id}",
            instruction.amount,
            instruction.currency,
        )
    for invoice_id in instruction.invoice_ids:
        state = invoices.get(invoice_id)
        if state is not None and state.live_payments:
            earlier = state.live_payments[0]
            return Finding(
                Category.DUPLICATE_PAYMENT,
                (instruction.end_to_end_id, invoice_id, earlier),
                f"invoice {invoice_id} is already being paid by {earlier}, which is not rejected",
                instruction.amount,
                instruction.currency,
            )
    return None
