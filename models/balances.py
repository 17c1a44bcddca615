"""Balances as banks report them: camt.052/053 Bal, MT940 :60F:/:62F:/:64:/:65:, BAI2 summary codes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from .accounts import Account
from .base import CalendarDate, ReceivedTime, Record
from .money import CurrencyCode, ReceivedSignedAmount


class BalanceType(StrEnum):
    """ISO 20022 BalanceType12Code values a statement carries."""

    OPBD = "OPBD"  # opening booked: the close of the day before the statement's date
    PRCD = "PRCD"  # previously closed booked: the close of its own date (MT940 :60F:)
    CLBD = "CLBD"  # closing booked
    ITBD = "ITBD"  # interim booked (intraday, camt.052)
    OPAV = "OPAV"  # opening available
    CLAV = "CLAV"  # closing available
    ITAV = "ITAV"  # interim available
    FWAV = "FWAV"  # forward available


BOOKED = frozenset({BalanceType.OPBD, BalanceType.PRCD, BalanceType.CLBD, BalanceType.ITBD})
INTRADAY = frozenset({BalanceType.ITBD, BalanceType.ITAV})
OPENING = frozenset({BalanceType.OPBD, BalanceType.PRCD, BalanceType.OPAV})
_BEFORE_ITS_DAY = frozenset({BalanceType.OPBD, BalanceType.OPAV})


class Balance(Record):
    account: Account
    currency: CurrencyCode
    type: BalanceType
    amount: ReceivedSignedAmount = Field(description="negative when the bank reports a debit (overdrawn) balance")
    date: CalendarDate
    date_time: ReceivedTime | None = Field(default=None, description="the report's time, for intraday balances")
    statement_id: str | None = Field(default=None, max_length=140)

    @property
    def booked(self) -> bool:
        return self.type in BOOKED

    @property
    def intraday(self) -> bool:
        return self.type in INTRADAY

    @property
    def opening(self) -> bool:
        """Reported at the start of its statement: it counts none of the statement's own entries."""
        return self.type in OPENING

    @property
    def through(self) -> dt.date:
        """The last booking day whose entries the balance includes, of those not in its own statement."""
        return self.date - dt.timedelta(days=1) if self.type in _BEFORE_ITS_DAY else self.date
