"""Event-time timers: what did not happen in time. They fire at their deadline, so a replay agrees."""

from __future__ import annotations

from reconstream.matchers.findings import Finding, fmt
from reconstream.models.base import from_micros
from reconstream.models.exceptions import Category
from reconstream.tables.records import InvoiceStage
from reconstream.tables.timers import Timer, TimerKind

from .context import Context
from .retention import retire
from .settlements import hold_expired
from .unmatched_lines import take


def on_timer(timer: Timer, ctx: Context) -> None:
    at = from_micros(timer.deadline_us)
    if timer.kind == TimerKind.POSTING_HOLD:
        hold_expired(timer.ref, at, ctx)
        return
    if timer.kind == TimerKind.UNMATCHED_EXPIRY:
        take(timer.ref, ctx)  # the window passed: a match naming the line now is refused
        return
    if timer.kind == TimerKind.RETIRE:
        retire(timer.ref, ctx)
        return
    if timer.kind == TimerKind.POSTING:
        invoice = ctx.state.invoices.get(timer.ref)
        if invoice is not None and invoice.stage is InvoiceStage.APPROVED:
            inv = invoice.invoice
            ctx.raise_finding(
                Finding(
                    Category.ERP_TIMEOUT,
                    (inv.invoice_id,),
                    f"approved {invoice.approved_at:%Y-%m-%d %H:%M} but no ERP posting came back within "
                    f"{ctx.settings.posting_sla}",
                    inv.gross_amount,
                    inv.currency,
                ),
                at,
                invoice.correlation_id,
            )
        return
    state = ctx.state.instructions.get(timer.ref)
    if state is None:
        return
    instruction = state.instruction
    amount = fmt(instruction.amount, instruction.currency)
    if timer.kind == TimerKind.ACK and state.ack_status is None:
        ctx.raise_finding(
            Finding(
                Category.MISSING_ACK,
                (timer.ref, state.batch_id, *instruction.invoice_ids),
                f"no pain.002 status from the bank for {timer.ref} ({amount}, batch {state.batch_id}) within "
                f"{ctx.settings.ack_window} of sending",
                instruction.amount,
                instruction.currency,
            ),
            at,
            state.correlation_id,
        )
    elif timer.kind == TimerKind.SETTLEMENT and state.ack_status is not None and not (state.settled or state.rejected):
        # Never acknowledged means missing_ack already speaks for it; one cause, one exception.
        ctx.raise_finding(
            Finding(
                Category.MISSING_SETTLEMENT,
                (timer.ref, state.batch_id, *instruction.invoice_ids),
                f"{timer.ref} ({amount}) acknowledged {state.ack_status} but no settlement booked within "
                f"{ctx.settings.settlement_window} of sending",
                instruction.amount,
                instruction.currency,
            ),
            at,
            state.correlation_id,
        )
