"""Manual matches (schema version 3): a person's match of a bank line the rules left unmatched.

The line waits for it in `unmatched_lines` (streams/unmatched_lines.py). A match is applied as an
automatic one is (the same Match output, status updates to AP, an instruction settled and out of
flight), and it resolves the unmatched_settlement exception. It does not move event time: a person's
decision says nothing about how far the banks' and the AP's streams have come, so no timer fires on it.

A match that cannot be applied is dead-lettered with the field and the reason, never half-applied:
every check runs before the first change. The line's exception is raised again with the refusal in its
reason, so the case the person closed reopens and says why (a changed cause reopens a case).
"""

from __future__ import annotations

from reconstream.matchers import manual_match
from reconstream.matchers import payment_matching as pm
from reconstream.models.events import SettlementMatchedManually
from reconstream.models.exceptions import Category, ExceptionStatus, exception_id
from reconstream.models.outputs import OutputStream
from reconstream.tables.records import InvoiceStage

from . import payment_index, unmatched_lines
from .context import Context
from .errors import OrphanEvent
from .settlements import live_instruction, pay_invoices, settle


def on_manual_match(event: SettlementMatchedManually, ctx: Context) -> None:
    decision = event.payload
    entry = ctx.state.unmatched_lines.get(decision.entry_id)  # taken only once every check has passed
    if entry is None:
        raise OrphanEvent(
            "payload.entry_id",
            f"bank line {decision.entry_id} is not waiting for a match: unknown, matched since, or past the window",
        )
    line = pm.BankLine.of(entry)
    invoices = {
        invoice_id: payment_index.open_invoice(state, ctx)
        for invoice_id in decision.invoice_ids
        if (state := ctx.state.invoices.get(invoice_id)) is not None
        and state.stage is InvoiceStage.BOOKED
        and state.paid_amount < state.invoice.gross_amount
    }
    instruction = live_instruction(decision.invoice_ids, ctx)
    match = manual_match.decide(
        line,
        decision.invoice_ids,
        invoices,
        pm.OpenInstruction.of(instruction) if instruction else None,
        decision.matched_by,
    )
    if isinstance(match, manual_match.ManualRefusal):
        _tell_the_case(entry.entry_id, decision.matched_by, match.reason, ctx)
        raise OrphanEvent(match.field, match.reason)
    at = event.event_time
    unmatched_lines.take(entry.entry_id, ctx)
    if instruction is not None:
        settle(entry, line, instruction, match, at, ctx)
    else:
        pay_invoices(entry, match, at, event.correlation_id, ctx)
    ctx.resolve(
        Category.UNMATCHED_SETTLEMENT,
        entry.entry_id,
        at,
        f"matched by hand by {decision.matched_by} to {', '.join(decision.invoice_ids)}",
    )


def _tell_the_case(entry_id: str, matched_by: str, reason: str, ctx: Context) -> None:
    key = exception_id(Category.UNMATCHED_SETTLEMENT, entry_id)
    exception = ctx.state.exceptions.get(key)
    if exception is None or exception.status is not ExceptionStatus.OPEN:
        return
    said = exception.reason.split(_REFUSED, 1)[0]
    refused = exception.model_copy(update={"reason": f"{said}{_REFUSED}{matched_by} refused: {reason}"})
    ctx.state.exceptions[key] = refused
    ctx.emit(OutputStream.EXCEPTIONS, refused)


_REFUSED = "; manual match by "
