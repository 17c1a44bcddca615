"""Settlement stream (camt.054 entries): book cash, match to instructions, close invoices as paid."""

from __future__ import annotations

from decimal import Decimal

from reconstream.matchers import settlements as rules
from reconstream.models.events import SettlementBooked
from reconstream.models.exceptions import Category
from reconstream.models.ids import stable_id
from reconstream.models.outputs import ApStatus, Match
from reconstream.models.payments import CreditDebit, Settlement
from reconstream.tables.records import InstructionState, InvoiceStage

from .context import Context
from .payments import take_out_of_flight


def on_settlement(event: SettlementBooked, ctx: Context) -> None:
    entry = event.payload
    if entry.entry_id in ctx.state.seen_entries:
        return  # the same bank line in a later statement: booked once, matched once
    ctx.state.seen_entries[entry.entry_id] = 1
    signed = entry.amount if entry.credit_debit is CreditDebit.CRDT else -entry.amount
    ctx.move_cash(entry.account_iban, entry.currency, event.event_time, booked=signed)
    decision = decide(entry, ctx)
    for finding in decision.findings:
        correlation = decision.instruction.correlation_id if decision.instruction else event.correlation_id
        ctx.raise_finding(finding, event.event_time, correlation)
    if decision.instruction is not None:
        settle(entry, decision, event, ctx)


def decide(entry: Settlement, ctx: Context) -> rules.SettlementDecision:
    if entry.end_to_end_id is not None:
        state = ctx.state.instructions.get(entry.end_to_end_id)
        if state is not None and not state.settled:
            return rules.by_end_to_end_id(entry, state)
    candidates: list[InstructionState] = []
    if entry.credit_debit is CreditDebit.DBIT:
        key = rules.candidate_key(entry.counterparty_iban, entry.currency, entry.amount)
        for e2e in ctx.state.open_payment_index.get(key) or ():
            state = ctx.state.instructions.get(e2e)
            if state is not None and not state.settled and not state.rejected:
                candidates.append(state)
    return rules.by_amount_creditor_date(entry, candidates, ctx.settings.settlement_date_window_days)


def settle(entry: Settlement, decision: rules.SettlementDecision, event: SettlementBooked, ctx: Context) -> None:
    state = decision.instruction
    assert state is not None and decision.method is not None
    at, instruction = event.event_time, state.instruction
    e2e = instruction.end_to_end_id
    ctx.emit(
        "matches",
        Match(
            match_id=stable_id("match", entry.entry_id, e2e),
            settlement_entry_id=entry.entry_id,
            end_to_end_id=e2e,
            batch_id=state.batch_id,
            invoice_ids=instruction.invoice_ids,
            method=decision.method,
            confidence=decision.confidence,
            evidence=decision.evidence,
            amount=entry.amount,
            currency=entry.currency,
            matched_at=at,
            correlation_id=state.correlation_id,
        ),
    )
    settled_amount = state.settled_amount + (entry.amount if entry.currency == instruction.currency else Decimal(0))
    ctx.state.instructions[e2e] = state.model_copy(
        update={
            "settled_amount": settled_amount,
            "settlement_entry_ids": (*state.settlement_entry_ids, entry.entry_id),
            "settled_at": at,
        }
    )
    if not state.rejected:
        take_out_of_flight(state, ctx, at)
    ctx.resolve(Category.MISSING_SETTLEMENT, e2e, at, f"settled by bank entry {entry.entry_id}")
    for invoice_id in instruction.invoice_ids:
        invoice = ctx.state.invoices.get(invoice_id)
        if invoice is None:
            continue
        ctx.state.invoices[invoice_id] = invoice.model_copy(
            update={"stage": InvoiceStage.PAID, "paid_amount": invoice.paid_amount + invoice.invoice.gross_amount}
        )
        ctx.status_update(invoice_id, invoice.correlation_id, ApStatus.PAID, at, end_to_end_id=e2e)
