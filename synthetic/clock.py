"""Scenario time: whole seconds since the Unix epoch, UTC, formatted without touching datetime per event.

A million events are formatted twice each (event and ingest time); a per-day prefix cache keeps that cheap,
and integer seconds keep every comparison with an engine deadline exact.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

MINUTE = 60
HOUR = 3600
DAY = 86400

_EPOCH_DAY = date(1970, 1, 1).toordinal()


def day_number(day: date) -> int:
    return day.toordinal() - _EPOCH_DAY


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return day_number(day) * DAY + hour * HOUR + minute * MINUTE + second


def to_date(ts: int) -> date:
    return date.fromordinal(ts // DAY + _EPOCH_DAY)


def to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def month_end(start: date) -> date:
    """The first day after the scenario: a calendar month when starting on the 1st, else 30 days."""
    if start.day == 1:
        return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    return start + timedelta(days=30)


def previous_month_first(start: date) -> date:
    return date(start.year - 1, 12, 1) if start.month == 1 else date(start.year, start.month - 1, 1)


class Formatter:
    """ISO 8601 strings for scenario timestamps and dates, cached per day."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def day(self, ts: int) -> str:
        number = ts // DAY
        text = self._days.get(number)
        if text is None:
            text = self._days[number] = date.fromordinal(number + _EPOCH_DAY).isoformat()
        return text

    def date(self, day: date) -> str:
        return self.day(day_number(day) * DAY)

    def instant(self, ts: int) -> str:
        seconds = ts % DAY
        hour, rest = divmod(seconds, HOUR)
        minute, second = divmod(rest, MINUTE)
        return f"{self.day(ts)}T{hour:02d}:{minute:02d}:{second:02d}Z"

    def naive(self, ts: int) -> str:
        """The same instant without its zone: what a misconfigured sender writes."""
        return self.instant(ts)[:-1]
