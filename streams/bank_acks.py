"""Bank acknowledgment stream (pain.002): move instructions through their statuses; rejections raise."""

from __future__ import annotations

from reconstream.matchers.findings import Finding
from reconstream.matchers.payments import next_ack_status
from reconstream.models.events import BankAckReceived
from reconstream.models.exceptions import Category
from reconstream.models.outputs import ApStatus
from reconstream.models.payments import TransactionAck, TransactionStatus
from reconstream.tables.timers import TimerKind

from .context import Context
from .errors import OrphanEvent
from .payments import take_out_of_flight


def on_bank_ack(event: BankAckReceived, ctx: Context) -> None:
    ack = event.payload
    live = ctx.state.batches.get(ack.original_batch_id)
    if live is None:
        raise OrphanEvent("payload.original_batch_id", f"no payment batch {ack.original_batch_id!r} was released")
    if ack.transactions or ack.group_status is None:  # the model refuses an acknowledgment with neither
        statuses = list(ack.transactions)
    else:
        # A group status without transaction detail speaks for every instruction of the batch.
        statuses = [
            TransactionAck(end_to_end_id=e2e, status=ack.group_status, reason_code=ack.group_reason_code)
            for e2e in live
        ]
    unknown = [t.end_to_end_id for t in statuses if t.end_to_end_id not in ctx.state.instructions]
    for status in statuses:
        if status.end_to_end_id not in unknown:
            apply_transaction_status(status, event, ctx)
    if unknown:
        # The known ones are applied; the rest must not vanish silently.
        raise OrphanEvent(
            "payload.transactions.end_to_end_id",
            f"no instruction {', '.join(unknown[:5])} in batch {ack.original_batch_id}",
        )


def apply_transaction_status(status: TransactionAck, event: BankAckReceived, ctx: Context) -> None:
    at, e2e = event.event_time, status.end_to_end_id
    state = ctx.state.instructions[e2e]
    new_status = next_ack_status(state.ack_status, status.status)
    if state.ack_status is None:
        ctx.state.timers.cancel(TimerKind.ACK, e2e)
        ctx.resolve(Category.MISSING_ACK, e2e, at, f"bank acknowledged {status.status} late")
    if new_status is None:
        return
    state = state.model_copy(
        update={"ack_status": new_status, "acked_at": state.acked_at or at, "reason_code": status.reason_code}
    )
    ctx.state.instructions[e2e] = state
    if new_status is not TransactionStatus.RJCT:
        return
    instruction = state.instruction
    reason = status.reason_code or "no reason code"
    ctx.raise_finding(
        Finding(
            Category.PAYMENT_REJECTED,
            (e2e, *instruction.invoice_ids),
            f"bank rejected {e2e} ({reason}{': ' + status.reason_text if status.reason_text else ''}) "
            f"for {instruction.amount} {instruction.currency} to {instruction.creditor_account.key}",
            instruction.amount,
            instruction.currency,
        ),
        at,
        state.correlation_id,
    )
    take_out_of_flight(state, ctx, at)
    for invoice_id in instruction.invoice_ids:
        invoice = ctx.state.invoices.get(invoice_id)
        if invoice is None:
            continue
        # A rejected payment frees the invoice: paying it again later is a retry, not a duplicate.
        ctx.state.invoices[invoice_id] = invoice.model_copy(
            update={"live_payments": tuple(p for p in invoice.live_payments if p != e2e)}
        )
        ctx.status_update(
            invoice_id, invoice.correlation_id, ApStatus.PAYMENT_REJECTED, at, end_to_end_id=e2e, detail=reason
        )
