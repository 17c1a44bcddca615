"""Base classes shared by every canonical record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict


class Record(BaseModel):
    """Immutable: state changes are new records, so a table never holds a half-updated one."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


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
