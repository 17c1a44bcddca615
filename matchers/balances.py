"""Balance checks: does the bank's reported balance agree with its previous one plus the entries since?

One rule covers both of treasury's questions. A statement whose closing balance is not its opening
balance plus its entries, and a bank balance that differs from the engine's running balance, are the
same disagreement: the previous booked balance the bank reported, plus every entry the new balance
counts that the previous one did not, is what the new one must say.

Which entries a balance counts: those of its own statement (unless it opens the statement), and those
reported elsewhere (an intraday notification, an earlier page) whose booking day it covers. Banks date
a statement's entries as they please (ABN AMRO books the next day's entries into today's statement), so
a statement's own entries count whatever their date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from reconstream.models.balances import OPENING, Balance
from reconstream.models.exceptions import Category
from reconstream.tables.records import AccountState

from .findings import Finding, fmt

PENDING_SEPARATOR = "|"


def pending_key(statement_id: str | None, booking_date: date) -> str:
    return f"{statement_id or ''}{PENDING_SEPARATOR}{booking_date.isoformat()}"


def counted_by(balance: Balance, key: str) -> bool:
    """Whether the balance counts the pending entries under this key."""
    statement, _, day = key.rpartition(PENDING_SEPARATOR)
    if statement and statement == balance.statement_id:
        return not balance.opening
    return date.fromisoformat(day) <= balance.through


def split_pending(state: AccountState, balance: Balance) -> tuple[Decimal, dict[str, Decimal]]:
    """(net of the pending entries the balance counts, the pending entries it leaves for later)."""
    counted, left = Decimal(0), {}
    for key, amount in state.pending.items():
        if counted_by(balance, key):
            counted += amount
        else:
            left[key] = amount
    return counted, left


def superseded(state: AccountState, balance: Balance) -> bool:
    """A balance of an earlier day than the one held: checked when it was new, nothing to learn now.

    Only a statement's closing balance follows its opening whatever dates the bank wrote on them.
    """
    held = state.bank_balance_date
    if held is None or balance.date >= held:
        return False
    return not (balance.statement_id == state.statement_id and state.bank_balance_type in OPENING)


def balance_mismatch(state: AccountState, balance: Balance, expected: Decimal | None) -> Finding | None:
    """A finding for treasury with both figures, when the bank's balance is not the expected one."""
    if expected is None or expected == balance.amount:
        return None
    difference = balance.amount - expected
    currency = balance.currency
    previous = (
        f"{state.bank_balance_type} {fmt(state.bank_balance or Decimal(0), currency)} of {state.bank_balance_date}"
    )
    reason = (
        f"bank reports {balance.type} {fmt(balance.amount, currency)} on {balance.date} for {balance.account.key}, "
        f"but {previous} plus the entries booked since make {fmt(expected, currency)}: "
        f"difference {fmt(difference, currency)}"
    )
    refs = (f"{balance.account.key}|{currency}|{balance.type}|{balance.date}", balance.account.key)
    return Finding(Category.BALANCE_MISMATCH, refs, reason, abs(difference), currency)
