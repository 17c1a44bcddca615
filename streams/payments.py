"""Payment batch stream: instructions leave for the bank; duplicates and wrong accounts are caught here."""

from __future__ import annotations

from datetime import datetime

from reconstream.matchers import payments, vendors
from reconstream.models.base import to_micros
from reconstream.models.events import PaymentBatchReleased
from reconstream.models.outputs import ApStatus
from reconstream.models.payments import PaymentBatch, PaymentInstruction
from reconstream.tables.records import InstructionState
from reconstream.tables.timers import TimerKind

from . import cash, payment_index
from .context import Context


def on_payment_batch(event: PaymentBatchReleased, ctx: Context) -> None:
    batch = event.payload
    if batch.batch_id in ctx.state.batches:
        return  # the same batch released twice under a new event id: its instructions are already live
    sent: list[str] = []
    for instruction in batch.instructions:
        if send_instruction(instruction, batch, event, ctx):
            sent.append(instruction.end_to_end_id)
    ctx.state.batches[batch.batch_id] = sent


def send_instruction(
    instruction: PaymentInstruction, batch: PaymentBatch, event: PaymentBatchReleased, ctx: Context
) -> bool:
    """Register one instruction as in flight; False when its end-to-end id is already live."""
    state, at = ctx.state, event.event_time
    e2e = instruction.end_to_end_id
    invoices = {invoice_id: state.invoices.get(invoice_id) for invoice_id in instruction.invoice_ids}
    first_invoice = next((inv for inv in invoices.values() if inv is not None), None)
    correlation_id = first_invoice.correlation_id if first_invoice else event.correlation_id
    already_sent = state.instructions.get(e2e)
    duplicate = payments.duplicate_payment(instruction, already_sent, invoices)
    if duplicate is not None:
        ctx.raise_finding(duplicate, at, correlation_id)
        if already_sent is not None:
            return False
    mismatch = vendors.check_creditor_account(instruction, state.vendors.get(instruction.vendor_id))
    if mismatch is not None:
        ctx.raise_finding(mismatch, at, correlation_id)
    state.instructions[e2e] = InstructionState(
        instruction=instruction,
        batch_id=batch.batch_id,
        debtor_account=batch.debtor_account.key,
        company_code=batch.company_code,
        requested_execution_date=batch.requested_execution_date,
        sent_at=at,
        correlation_id=correlation_id,
        batch_correlation_id=event.batch_correlation_id,
        duplicate_of=duplicate.refs[-1] if duplicate is not None else None,
    )
    for invoice_id, invoice_state in invoices.items():
        if invoice_state is not None:
            state.invoices[invoice_id] = invoice_state.model_copy(
                update={"live_payments": (*invoice_state.live_payments, e2e)}
            )
            ctx.status_update(
                invoice_id,
                invoice_state.correlation_id,
                ApStatus.PAYMENT_SENT,
                at,
                end_to_end_id=e2e,
                payment_amount=instruction.amount,
                currency=instruction.currency,
                creditor_name=instruction.creditor_name,
                batch_id=batch.batch_id,
                debtor_account=batch.debtor_account.key,
            )
    payment_index.add_instruction(state.instructions[e2e], ctx)
    cash.reserve(ctx, batch.debtor_account.key, instruction.currency, at, instruction.amount, batch.company_code)
    state.timers.schedule(to_micros(at + ctx.settings.ack_window), TimerKind.ACK, e2e)
    state.timers.schedule(to_micros(at + ctx.settings.settlement_window), TimerKind.SETTLEMENT, e2e)
    return True


def take_out_of_flight(state: InstructionState, ctx: Context, at: datetime) -> None:
    """A rejected or settled instruction no longer reserves cash nor waits for a settlement."""
    instruction = state.instruction
    payment_index.remove_instruction(state, ctx)
    cash.reserve(ctx, state.debtor_account, instruction.currency, at, -instruction.amount, state.company_code)
    ctx.state.timers.cancel(TimerKind.SETTLEMENT, instruction.end_to_end_id)
