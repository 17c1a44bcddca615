"""Returned payments: the bank sends back money we paid (closed account, wrong IBAN): the invoice is open again.

Every bank line applied to invoices is remembered with what it applied, under its end-to-end id and under
its payee account and amount. A credit that says it is a return (`RtrInf`, or a bank transaction code of
the RRTN subfamily) is looked up there: by the end-to-end id it carries back, else by the account it comes
from and the amount (the instructed amount, when the bank kept a fee). Found once, the invoices it paid
are open again (payable, back in the payment index), the AP platform is told, and treasury gets a
`payment_rejected` with the bank's reason: the supplier's bank details need a look before paying again.
Found never or more than once, the return is a line for review like any other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from reconstream.matchers import payment_matching as pm
from reconstream.matchers.findings import Finding, fmt
from reconstream.models.exceptions import Category
from reconstream.models.outputs import ApStatus
from reconstream.models.payments import Settlement
from reconstream.tables.records import InvoiceStage

from . import payment_index
from .context import Context


def _keys(end_to_end_id: str | None, account: str | None, amount: Decimal, currency: str) -> list[str]:
    keys = [f"e2e:{end_to_end_id}"] if end_to_end_id else []
    if account:
        keys.append(f"acct:{account}|{currency}|{amount}")
    return keys


def remember(entry: Settlement, applied: list[tuple[str, Decimal]]) -> tuple[dict[str, object], list[str]]:
    """What a debit paid, and the keys a return of it will be found under."""
    record: dict[str, object] = {
        "invoices": [[invoice_id, str(amount)] for invoice_id, amount in applied],
        "entry_id": entry.entry_id,
    }
    line = pm.BankLine.of(entry)  # the principal, as matching reads it: a return carries that back
    keys = _keys(entry.end_to_end_id, line.counterparty_account, line.amount, line.currency)
    if line.amount != entry.amount or line.currency != entry.currency:
        keys += _keys(None, entry.counterparty_key, entry.amount, entry.currency)
    return record, keys


def record_payment(entry: Settlement, applied: list[tuple[str, Decimal]], ctx: Context) -> None:
    record, keys = remember(entry, applied)
    ctx.state.applied_payments[entry.entry_id] = record
    for key in keys:
        ctx.state.returns_index[key] = [*(ctx.state.returns_index.get(key) or ()), entry.entry_id]


def is_return(entry: Settlement) -> bool:
    code = entry.bank_transaction_code
    return entry.return_info is not None or (code is not None and (code.subfamily or "") == "RRTN")


def find_returned(entry: Settlement, ctx: Context) -> str | None:
    """The one applied payment this return sends back, or None when there is none or more than one."""
    line = pm.BankLine.of(entry)
    found: dict[str, None] = {}
    for key in _keys(entry.end_to_end_id, line.counterparty_account, line.amount, line.currency):
        for entry_id in ctx.state.returns_index.get(key) or ():
            if entry_id in ctx.state.applied_payments:
                found[entry_id] = None
        if found:
            break  # the end-to-end id the bank carried back decides before account and amount do
    return next(iter(found)) if len(found) == 1 else None


def reopen(entry: Settlement, returned: str, at: datetime, correlation_id: str | None, ctx: Context) -> None:
    record = ctx.state.applied_payments[returned]
    del ctx.state.applied_payments[returned]
    reason = entry.return_info.reason_code if entry.return_info and entry.return_info.reason_code else "no reason"
    invoice_ids = []
    for invoice_id, amount in record["invoices"]:  # type: ignore[attr-defined]
        state = ctx.state.invoices.get(invoice_id)
        if state is None:
            continue
        invoice_ids.append(invoice_id)
        reopened = state.model_copy(
            update={"stage": InvoiceStage.BOOKED, "paid_amount": max(Decimal(0), state.paid_amount - Decimal(amount))}
        )
        if state.stage is InvoiceStage.PAID:
            payment_index.add_invoice(reopened, ctx)  # payable again: the next payment may be matched to it
        ctx.state.invoices[invoice_id] = reopened
        ctx.status_update(
            invoice_id,
            state.correlation_id,
            ApStatus.PAYMENT_REJECTED,
            at,
            detail=f"payment by bank entry {returned} returned ({reason})",
        )
    ctx.raise_finding(
        Finding(
            Category.PAYMENT_REJECTED,
            (entry.entry_id, *invoice_ids),
            f"bank entry {returned} was returned by entry {entry.entry_id} ({reason}: "
            f"{(entry.return_info.reason_text if entry.return_info else None) or 'no text'}), "
            f"{fmt(entry.amount, entry.currency)} back; invoice(s) {', '.join(invoice_ids) or '-'} open again",
            entry.amount,
            entry.currency,
        ),
        at,
        correlation_id,
    )
