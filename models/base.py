"""Base classes shared by every canonical record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict


class Record(BaseModel):
    """Immutable: state changes are new records, so a table never holds a half-updated one."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

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


_set = object.__setattr__  # a frozen record refuses attribute assignment; building one is not one
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _shared(fields_set: set[str]) -> set[str]:
    return _FIELDS_SETS.setdefault(frozenset(fields_set), fields_set)


def _utc(value: datetime) -> datetime:
    # Timers compare event times across systems; a naive time would silently mean "local somewhere".
    if value.tzinfo is None:
        raise ValueError("must carry a timezone (ISO 8601 with Z or an offset)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_micros(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def from_micros(value: int) -> datetime:
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)


def dump(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude_none=True)
