"""Settlement stream (camt.054 entries): book cash, match to instructions or invoices, close invoices as paid.

A line that echoes the end-to-end id of an open instruction is that instruction's (an amount that differs
is its own exception, the line still linked). Any other debit goes to the payment matcher with the open
instructions and invoices its keys select: auto-matched above the threshold; otherwise, when its bank
and purpose codes say it pays no supplier invoice (a salary, a tax, a fee, a customer receipt ...), a
classified line for the books it belongs in; else an unmatched_settlement for treasury naming the
candidates it weighed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from reconstream.matchers import bank_codes
from reconstream.matchers import payment_matching as pm
from reconstream.matchers import settlements as rules
from reconstream.matchers.payment_rules import end_to_end_id
from reconstream.models.base import to_micros
from reconstream.models.events import SettlementBooked
from reconstream.models.exceptions import Category
from reconstream.models.ids import stable_id
from reconstream.models.outputs import ApStatus, ClassifiedLine, Match, OutputStream
from reconstream.models.payments import CreditDebit, Settlement
from reconstream.tables.records import InstructionState, InvoiceStage
from reconstream.tables.timers import TimerKind

from . import cash, payment_index, retention, returns, unmatched_lines
from .context import Context
from .payments import take_out_of_flight


def on_settlement(event: SettlementBooked, ctx: Context) -> None:
    entry = event.payload
    # A bank's reference names one line of one account (an internal transfer's two sides share it). State
    # written before the account was part of the key holds the reference alone, and is still honoured.
    booked_line = f"{entry.account.key}|{entry.entry_id}"
    if booked_line in ctx.state.seen_entries or entry.entry_id in ctx.state.seen_entries:
        return  # the same bank line in a later statement: booked once, matched once
    ctx.state.seen_entries.add(booked_line, to_micros(event.event_time))
    signed = entry.amount if entry.credit_debit is CreditDebit.CRDT else -entry.amount
    cash.book(ctx, entry.account.key, entry.currency, entry.booking_date, signed, event.event_time, entry.statement_id)
    for flag in entry.data_quality:
        ctx.raise_finding(rules.data_quality(entry, flag), event.event_time, event.correlation_id)
    echoed = ctx.state.instructions.get(entry.end_to_end_id) if entry.end_to_end_id else None
    if echoed is not None and not echoed.settled:
        # Our own id echoed: the line is that instruction's whatever its amount (one rule, end_to_end_id).
        line, instruction = pm.BankLine.of(entry), pm.OpenInstruction.of(echoed)
        match = end_to_end_id.score(line, instruction)
        finding = end_to_end_id.mismatch(line, instruction, match)
        if finding is not None:
            ctx.raise_finding(finding, event.event_time, echoed.correlation_id)
        settle(entry, line, echoed, match, event.event_time, ctx)
    elif entry.credit_debit is CreditDebit.CRDT and returns.is_return(entry):
        returned = returns.find_returned(entry, ctx)
        if returned is not None:
            returns.reopen(entry, returned, event.event_time, event.correlation_id, ctx)
        else:
            match_by_rules(entry, event.event_time, event.correlation_id, ctx, may_hold=False)
    else:
        match_by_rules(entry, event.event_time, event.correlation_id, ctx)


def match_by_rules(
    entry: Settlement, at: datetime, correlation_id: str | None, ctx: Context, may_hold: bool = True
) -> None:
    line = pm.BankLine.of(entry)
    instructions, invoices = payment_index.candidates(line, ctx)
    decision = pm.match_payment(line, instructions, invoices, ctx.settings.match_policy)
    if decision.match is None:
        waiting = payment_index.unposted_named(line, ctx) if may_hold else []
        if waiting:
            hold(entry, waiting, at, ctx)  # paid before the ERP posted it: matched when the posting comes
            return
        if classify_line(entry, decision, at, correlation_id, ctx):
            return  # the bank's codes say it pays no supplier invoice: routed to whoever books it
        # The review queue: the line, the candidates weighed and why none was taken; it waits there for a
        # person to match it by hand (streams/manual_matches.py).
        unmatched_lines.await_match(entry, to_micros(at), ctx)  # first: the exception names its company code
        ctx.raise_finding(decision.for_review(line), at, correlation_id)
        return
    match = decision.match
    instruction = paid_instruction(match, ctx)
    if instruction is not None:
        if match.end_to_end_id is None:
            # The invoices won, but we sent a payment for exactly them: report the rule that links to it.
            sent = pm.by_amount_creditor_date(line, pm.OpenInstruction.of(instruction), ctx.settings.match_policy)
            match = (
                sent
                if sent is not None and sent.confidence >= ctx.settings.match_policy.auto_match_threshold
                else match
            )
        settle(entry, line, instruction, match, at, ctx)
    else:
        pay_invoices(entry, match, at, correlation_id, ctx)


def classify_line(
    entry: Settlement, decision: pm.PaymentDecision, at: datetime, correlation_id: str | None, ctx: Context
) -> bool:
    """A line no invoice took that the bank's transaction or purpose code calls a salary, tax, fee, customer
    receipt ...: emitted for the books it belongs in. A class that may still be a supplier's refund keeps
    a line with candidates in review."""
    found = bank_codes.classify(
        entry.bank_transaction_code,
        entry.purpose,
        entry.credit_debit is CreditDebit.CRDT,
        configured=ctx.settings.code_rules,
    )
    books_to = bank_codes.BOOKS_TO.get(found.line_class) if found is not None else None
    if found is None or books_to is None:
        return False
    if decision.candidates and found.line_class not in bank_codes.NEVER_PAYS_INVOICES:
        return False
    ctx.emit(
        OutputStream.CLASSIFIED_LINES,
        ClassifiedLine(
            classification_id=stable_id("classified", entry.entry_id),
            settlement_entry_id=entry.entry_id,
            account=entry.account.key,
            booking_date=entry.booking_date,
            credit_debit=entry.credit_debit.value,
            amount=entry.amount,
            currency=entry.currency,
            line_class=found.line_class.value,
            books_to=books_to,
            evidence=found.evidence,
            counterparty_name=entry.counterparty_name,
            remittance_info=(entry.remittance_info or "")[:280] or None,
            classified_at=at,
            correlation_id=correlation_id,
            policy_version=ctx.settings.policy_version,
        ),
    )
    return True


def hold(entry: Settlement, invoice_ids: list[str], at: datetime, ctx: Context) -> None:
    state = ctx.state
    state.held_lines[entry.entry_id] = entry
    for invoice_id in invoice_ids:
        state.awaited_postings[invoice_id] = [*(state.awaited_postings.get(invoice_id) or ()), entry.entry_id]
    state.timers.schedule(to_micros(at + ctx.settings.posting_hold), TimerKind.POSTING_HOLD, entry.entry_id)


def release(invoice_id: str, at: datetime, correlation_id: str | None, ctx: Context) -> None:
    """The invoice is posted: the lines held for it are matched now, against the ledger as it stands."""
    for entry_id in ctx.state.awaited_postings.get(invoice_id) or ():
        entry = ctx.state.held_lines.get(entry_id)
        if entry is None:
            continue  # released by another invoice it named, or its window ran out
        del ctx.state.held_lines[entry_id]
        ctx.state.timers.cancel(TimerKind.POSTING_HOLD, entry_id)
        match_by_rules(entry, at, correlation_id, ctx, may_hold=False)
    if invoice_id in ctx.state.awaited_postings:
        del ctx.state.awaited_postings[invoice_id]


def hold_expired(entry_id: str, at: datetime, ctx: Context) -> None:
    """No posting came within the window: the line goes to review like any line that matches nothing."""
    entry = ctx.state.held_lines.get(entry_id)
    if entry is not None:
        del ctx.state.held_lines[entry_id]
        match_by_rules(entry, at, None, ctx, may_hold=False)


def paid_instruction(match: pm.PaymentMatch, ctx: Context) -> InstructionState | None:
    """The open instruction a match pays: named by its end-to-end id, or the live one for exactly its invoices."""
    if match.end_to_end_id is not None:
        return ctx.state.instructions.get(match.end_to_end_id)
    return live_instruction(match.invoice_ids, ctx) if match.invoice_ids else None


def live_instruction(invoice_ids: tuple[str, ...], ctx: Context) -> InstructionState | None:
    """Our instruction for exactly these invoices, if it is still in flight (neither settled nor rejected)."""
    first = ctx.state.invoices.get(invoice_ids[0])
    for e2e in first.live_payments if first is not None else ():
        state = ctx.state.instructions.get(e2e)
        if state is not None and set(state.instruction.invoice_ids) == set(invoice_ids):
            return None if state.settled or state.rejected else state
    return None


def settle(
    entry: Settlement, line: pm.BankLine, state: InstructionState, match: pm.PaymentMatch, at: datetime, ctx: Context
) -> None:
    """The line pays one of our instructions: the instruction is settled and the invoices it paid are paid."""
    instruction = state.instruction
    e2e = instruction.end_to_end_id
    ctx.emit(
        OutputStream.MATCHES,
        Match(
            match_id=stable_id("match", entry.entry_id, e2e),
            settlement_entry_id=entry.entry_id,
            end_to_end_id=e2e,
            batch_id=state.batch_id,
            invoice_ids=instruction.invoice_ids,
            settles=match.settles.value,
            method=match.rule,
            confidence=match.confidence,
            evidence=match.evidence,
            amount=entry.amount,
            currency=entry.currency,
            matched_at=at,
            correlation_id=state.correlation_id,
            policy_version=ctx.settings.policy_version,
        ),
    )
    # In the instruction's currency: the principal the bank reports when the payment crossed currencies.
    settled_amount = state.settled_amount + (line.amount if line.currency == instruction.currency else Decimal(0))
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
    applied: list[tuple[str, Decimal]] = []
    for invoice_id in instruction.invoice_ids:
        invoice = ctx.state.invoices.get(invoice_id)
        if invoice is None:
            continue
        payment_index.remove_invoice(invoice, ctx)
        ctx.state.invoices[invoice_id] = invoice.model_copy(
            update={"stage": InvoiceStage.PAID, "paid_amount": invoice.paid_amount + invoice.invoice.gross_amount}
        )
        applied.append((invoice_id, invoice.invoice.gross_amount))
        ctx.status_update(invoice_id, invoice.correlation_id, ApStatus.PAID, at, end_to_end_id=e2e)
        retention.paid(invoice_id, at, ctx)
    returns.record_payment(entry, applied, ctx)


def pay_invoices(
    entry: Settlement, match: pm.PaymentMatch, at: datetime, correlation_id: str | None, ctx: Context
) -> None:
    """A payment made outside our payment runs (a manual transfer): apply it to the invoices it names."""
    first = ctx.state.invoices.get(match.invoice_ids[0])
    ctx.emit(
        OutputStream.MATCHES,
        Match(
            match_id=stable_id("match", entry.entry_id, *match.invoice_ids),
            settlement_entry_id=entry.entry_id,
            invoice_ids=match.invoice_ids,
            settles=match.settles.value,
            method=match.rule,
            confidence=match.confidence,
            evidence=match.evidence,
            amount=entry.amount,
            currency=entry.currency,
            matched_at=at,
            correlation_id=first.correlation_id if first is not None else correlation_id,
            policy_version=ctx.settings.policy_version,
        ),
    )
    returns.record_payment(entry, [(a.invoice_id, a.amount) for a in match.allocations], ctx)
    for allocation in match.allocations:
        invoice = ctx.state.invoices.get(allocation.invoice_id)
        if invoice is None:
            continue
        paid = invoice.model_copy(update={"paid_amount": invoice.paid_amount + allocation.amount})
        if allocation.closes:
            payment_index.remove_invoice(invoice, ctx)
            paid = paid.model_copy(update={"stage": InvoiceStage.PAID})
            retention.paid(allocation.invoice_id, at, ctx)
            ctx.status_update(
                invoice.invoice.invoice_id,
                invoice.correlation_id,
                ApStatus.PAID,
                at,
                detail=f"paid by bank entry {entry.entry_id} ({match.settles.value})",
            )
        ctx.state.invoices[allocation.invoice_id] = paid
