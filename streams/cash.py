"""Cash per bank account: the bank's balances, the entries booked after them, and payments in flight.

A position is the bank's last reported booked balance plus what was booked after the day it includes,
with outgoing payments in flight beside it (sent, neither settled nor rejected) and the projected
balance they leave. When the bank reports a booked balance that its previous one plus the entries since
does not explain, treasury gets a `balance_mismatch` with both figures, and the bank's figure stands.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from reconstream.matchers.balances import balance_mismatch, pending_key, split_pending, superseded
from reconstream.models.balances import Balance
from reconstream.models.outputs import CashPosition
from reconstream.tables.records import AccountState

from .context import Context


def _key(account: str, currency: str) -> str:
    return f"{account}|{currency}"


def account_state(ctx: Context, account: str, currency: str) -> AccountState:
    found = ctx.state.accounts.get(_key(account, currency))
    if found is not None:
        return found
    return AccountState(account=account, currency=currency, company_code=ctx.settings.account_companies.get(account))


def _save(ctx: Context, state: AccountState) -> None:
    ctx.state.accounts[_key(state.account, state.currency)] = state


def book(
    ctx: Context, account: str, currency: str, booking_date: date, signed: Decimal, at: datetime, statement: str | None
) -> None:
    """An entry the bank booked: pending until a balance from the bank counts it."""
    state = account_state(ctx, account, currency)
    key = pending_key(statement, booking_date)
    pending = {**state.pending, key: state.pending.get(key, Decimal(0)) + signed}
    _save(ctx, state.model_copy(update={"pending": pending, "as_of": at}))


def reserve(ctx: Context, account: str, currency: str, at: datetime, amount: Decimal, company_code: str) -> None:
    """Money sent (positive) or no longer in flight (negative): settled or rejected."""
    state = account_state(ctx, account, currency)
    _save(
        ctx,
        state.model_copy(
            update={
                "in_flight_outgoing": state.in_flight_outgoing + amount,
                "company_code": state.company_code or company_code,
                "as_of": at,
            }
        ),
    )


def report(ctx: Context, balance: Balance, at: datetime, correlation_id: str | None) -> None:
    state = account_state(ctx, balance.account.key, balance.currency)
    if not balance.booked:
        _save(
            ctx,
            state.model_copy(
                update={"available_balance": balance.amount, "available_balance_date": balance.date, "as_of": at}
            ),
        )
        return
    if superseded(state, balance):
        return
    counted, left = split_pending(state, balance)
    expected = None if state.bank_balance is None else state.bank_balance + counted
    finding = balance_mismatch(state, balance, expected)
    if finding is not None:
        ctx.raise_finding(finding, at, correlation_id)
    _save(
        ctx,
        state.model_copy(
            update={
                "bank_balance": balance.amount,
                "bank_balance_type": balance.type,
                "bank_balance_date": balance.date,
                "bank_balance_at": balance.date_time or at,
                "statement_id": balance.statement_id,
                "pending": left,
                "difference": None if finding is None or expected is None else balance.amount - expected,
                "as_of": at,
            }
        ),
    )


def position(state: AccountState) -> CashPosition:
    booked = state.booked_balance
    return CashPosition(
        account=state.account,
        currency=state.currency,
        company_code=state.company_code,
        bank_balance=state.bank_balance,
        bank_balance_type=state.bank_balance_type.value if state.bank_balance_type else None,
        bank_balance_date=state.bank_balance_date,
        bank_balance_at=state.bank_balance_at,
        available_balance=state.available_balance,
        available_balance_date=state.available_balance_date,
        movements_since=state.movements_since,
        booked_balance=booked,
        in_flight_outgoing=state.in_flight_outgoing,
        projected_balance=booked - state.in_flight_outgoing,
        difference=state.difference,
        as_of=state.as_of,
    )
