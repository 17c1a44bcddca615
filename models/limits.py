"""The bounds every amount, quantity and time must keep, checked where input enters the model.

Beyond them arithmetic stops being exact or defined: Decimal works to 28 significant digits, so an
amount of 29 digits is rounded the first time it is added to anything, and a time in year 9999 overflows
the moment a window is added to it. Values outside the bounds are refused with the field named; inside
them every sum, product and deadline the engine computes is exact and in range.

The bounds are process-wide, set once at start from the config file's `[limits]` (shells/config.py):
pydantic's validators see no per-call settings, and the bounds must be the same for every record a
process reads, events and stored state alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Limits:
    # ISO 20022 amounts have at most 18 digits; 15 before the point leaves room for sums of a year's
    # entries within Decimal's 28 digits. Exclusive.
    max_amount: Decimal = Decimal("1E+15")
    max_quantity: Decimal = Decimal("1E+9")  # exclusive; quantity x unit price, in cents, stays within 28 digits
    earliest: datetime = datetime(1990, 1, 1, tzinfo=UTC)  # inclusive, for event times and document dates
    latest: datetime = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive; windows of years added stay in range

    @property
    def earliest_date(self) -> date:
        return self.earliest.date()

    @property
    def latest_date(self) -> date:
        return self.latest.date()


_current = Limits()


def current() -> Limits:
    return _current


def configure(limits: Limits) -> None:
    """Once, at a process's entry point, before any input is read."""
    global _current
    _current = limits
