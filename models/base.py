"""Base classes shared by every canonical record."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, ValidatorFunctionWrapHandler, WrapValidator

from .limits import current


class Record(BaseModel):
    """Immutable: state changes are new records, so a table never holds a half-updated one."""

    # No text of ours is longer than 10,000 characters (ISO 20022's longest free text is 500); a megabyte in
    # a name is a feed's bug or an attack on every page and log that shows it.
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True, str_max_length=10_000)

    def model_post_init(self, context: Any, /) -> None:
        # pydantic gives every instance its own set of the names of the fields it was given, a large share
        # of a month's state. A record is frozen, and nothing changes that set in place (pydantic's copies
        # change a copy of it), so records given the same fields share one.
        _set(self, "__pydantic_fields_set__", _shared(self.__pydantic_fields_set__))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """pydantic's shallow copy with updates (not validated, as there), sharing the fields set, without
        pydantic's general path for extra fields and private attributes (no record has them)."""
        if deep:
            return super().model_copy(update=update, deep=True)
        copied = object.__new__(type(self))
        values = self.__dict__.copy()
        fields_set = self.__pydantic_fields_set__
        if update:
            values.update(update)
            if not fields_set.issuperset(update):
                fields_set = _shared(fields_set | update.keys())
        _set(copied, "__dict__", values)
        _set(copied, "__pydantic_extra__", None)
        _set(copied, "__pydantic_fields_set__", fields_set)
        _set(copied, "__pydantic_private__", None)
        return copied


def record_bytes(record: BaseModel, *, exclude: set[str] | None = None, exclude_none: bool = False) -> bytes:
    """`record.model_dump_json(...).encode()`, byte for byte, straight from pydantic-core's serializer:
    without the wrapper's argument handling and the bytes-to-str-to-bytes round trip, which a record or
    two per event made about a quarter of serialising (issue #12)."""
    return record.__pydantic_serializer__.to_json(record, exclude=exclude, exclude_none=exclude_none)


def record_fields(record: BaseModel) -> dict[str, Any]:
    """`record.model_dump(mode="json", exclude_none=True)` straight from pydantic-core's serializer."""
    return record.__pydantic_serializer__.to_python(record, mode="json", exclude_none=True)  # type: ignore[no-any-return]


_set = object.__setattr__  # a frozen record refuses attribute assignment; building one is not one
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _shared(fields_set: set[str]) -> set[str]:
    return _FIELDS_SETS.setdefault(frozenset(fields_set), fields_set)


# ISO 8601 as docs/events.md gives it, in ASCII digits. pydantic would also read Unix seconds, as a number
# or a string of digits: a count whose unit (s, ms, us) nobody states is refused, not guessed.
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_TIME.match(value):
        raise ValueError(f"{value!r} is not an ISO 8601 date and time such as 2026-11-03T09:15:00Z")
    return value


def _utc(value: datetime) -> datetime:
    # Timers compare event times across systems; a naive time would silently mean "local somewhere".
    if value.tzinfo is None:
        raise ValueError("must carry a timezone (ISO 8601 with Z or an offset)")
    return value.astimezone(UTC)


def _within_bounds(value: datetime) -> datetime:
    limits = current()
    if not limits.earliest <= value < limits.latest:
        raise ValueError(f"{iso(value)} is outside the times accepted ({iso(limits.earliest)} to {iso(limits.latest)})")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not an ISO 8601 date such as 2026-11-03")
    return value.strip()


def _in_range(value: date) -> date:
    limits = current()
    if not limits.earliest_date <= value < limits.latest_date:
        raise ValueError(f"{value} is outside the dates accepted ({limits.earliest_date} to {limits.latest_date})")
    return value


# The common case in one call from pydantic-core: a time as ISO 8601 writes it with seconds and a zone,
# a plain date, a UTC time the engine built (every event carries a few; a profile of a month-end put a
# fifth of decoding in these checks). Anything else takes the checks one by one, in the same order
# and through pydantic's own parser, so what is refused is refused with the same words.
_PLAIN_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def _plain_time(value: Any) -> datetime | None:
    if type(value) is str and _PLAIN_TIME.fullmatch(value):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:  # a day or an hour that does not exist: pydantic's parser names it
            return None
    return None


def _utc_time(value: Any, parse: ValidatorFunctionWrapHandler) -> datetime:
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    return _plain_time(value) or _utc(parse(_iso_time(value)))


def _received_time(value: Any, parse: ValidatorFunctionWrapHandler) -> datetime:
    moment = _plain_time(value)
    if moment is not None:
        limits = current()
        if limits.earliest <= moment < limits.latest:
            return moment
    return _within_bounds(_utc(parse(_iso_time(value))))


_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _calendar_date(value: Any, parse: ValidatorFunctionWrapHandler) -> date:
    if type(value) is str and _PLAIN_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            limits = current()
            if limits.earliest_date <= day < limits.latest_date:
                return day
    return _in_range(parse(_iso_date(value)))


# What the engine keeps and emits (a deadline may lie past the bounds of the time that set it)...
UtcDatetime = Annotated[datetime, WrapValidator(_utc_time)]
# ...and what others send: within [limits].
ReceivedTime = Annotated[datetime, WrapValidator(_received_time)]
CalendarDate = Annotated[date, WrapValidator(_calendar_date)]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_micros(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def from_micros(value: int) -> datetime:
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)


def first_difference(before: Record, after: Record) -> tuple[str, str, str]:
    """The first field two versions of a record disagree on, with each version's value as text."""
    for name in type(before).model_fields:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            return name, _shown(old), _shown(new)
    return "<record>", "", ""


def _shown(value: Any) -> str:
    text = str(value.value if hasattr(value, "value") else value) if value is not None else "none"
    return text if len(text) <= 80 else text[:77] + "..."
