"""The house banks' balances: an opening balance for each account, then a closing balance every day.

Written after the payment side, from the settlements actually in the journal: what the bank booked on
each account each day is what its statement adds up. The month opens with enough money for its payments
(treasury funds the accounts), so positions stay positive and plausible. A few closing balances are
planted wrong, as when the bank booked something the notifications never carried (a fee, a sweep): the
engine must raise a balance_mismatch for exactly those, and no other.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from random import Random

import orjson
from reconstream.models.events import Stream
from reconstream.models.exceptions import Category

from .clock import Formatter, at
from .journal import Journal
from .labels import Planting
from .master_data import CompanyCode

STATEMENT_HOUR = 5  # the bank's end-of-day statement arrives early the next morning
CENT = Decimal("0.01")


def booked_by_day(journal: Journal) -> dict[str, dict[date, Decimal]]:
    """Net booked amount per account and booking day, from the valid settlement events of the journal."""
    days: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for _, raw, valid in journal.lines[Stream.SETTLEMENTS]:
        if not valid:
            continue
        payload = orjson.loads(raw)["payload"]
        amount = Decimal(payload["amount"])
        signed = amount if payload["credit_debit"] == "CRDT" else -amount
        days[payload["account_iban"]][date.fromisoformat(payload["booking_date"])] += signed
    return days


def emit_statements(
    journal: Journal,
    fmt: Formatter,
    rng: Random,
    planting: Planting,
    companies: tuple[CompanyCode, ...],
    start: date,
    end: date,
    wrong: int,
) -> None:
    booked = booked_by_day(journal)
    # The last day's statement arrives after the month: only days before it can carry a planted error.
    plans = [(company, day) for company in companies for day in _days(start, end - timedelta(days=1))]
    planted = set(rng.sample(range(len(plans)), min(wrong, len(plans))))
    for company in companies:
        account = company.debtor_iban
        days = booked.get(account, {})
        outflow = -sum((amount for amount in days.values() if amount < 0), Decimal(0))
        balance = _funding(outflow, rng)
        opened = start - timedelta(days=1)
        _emit(journal, fmt, company, "PRCD", balance, opened, at(start, 4), f"OPEN-{company.code}-{opened:%Y%m%d}")
        for day in _days(start, end):
            balance += days.get(day, Decimal(0))
            wrong_here = (company, day) in plans and plans.index((company, day)) in planted
            if wrong_here:
                # Booked by the bank, never notified: the statement is the only place it shows.
                balance -= Decimal(rng.randint(250, 90_000)) * CENT
            ts = at(day + timedelta(days=1), STATEMENT_HOUR)
            if (
                _emit(journal, fmt, company, "CLBD", balance, day, ts, f"STMT-{company.code}-{day:%Y%m%d}")
                and wrong_here
            ):
                planting.plant(Category.BALANCE_MISMATCH, f"{account}|{company.currency}|CLBD|{day.isoformat()}")


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days)]


def _funding(outflow: Decimal, rng: Random) -> Decimal:
    """An opening balance that covers the month's payments with a margin, in round thousands."""
    margin = Decimal(rng.randint(120, 160)) / 100
    return ((outflow * margin) / 1000).quantize(Decimal(1)) * 1000 + 50_000


def _emit(
    journal: Journal,
    fmt: Formatter,
    company: CompanyCode,
    kind: str,
    amount: Decimal,
    day: date,
    ts: int,
    statement: str,
) -> bool:
    """Whether the statement made it into the month (the last day's arrives after it)."""
    payload = {
        "account": {"scheme": "iban", "id": company.debtor_iban},
        "currency": company.currency,
        "type": kind,
        "amount": str(amount.quantize(CENT)),
        "date": fmt.date(day),
        "statement_id": statement,
    }
    return journal.add(Stream.BALANCES, ts, company.bank, payload, schema_version=2) is not None
