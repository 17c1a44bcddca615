"""What every converter produces: canonical JSONL envelopes, or errors naming file, position and field.

The envelope is built here once so every format gets the same audit trail: the event_id is the format,
a digest of the file's content and the position inside it (the same file converted twice gives the same
ids, so a re-delivered file changes nothing), and source_system names the format and the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reconstream.models.base import iso
from reconstream.models.events import MALFORMED, SCHEMA_VIOLATION, EventError, validate

DIGEST_CHARS = 16


class FieldError(ValueError):
    """A converter could not read one field of one record; the rest of the file goes on."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IngestError:
    file: str
    position: str
    field: str
    reason: str
    category: str = SCHEMA_VIOLATION

    def __str__(self) -> str:
        return f"{self.file}:{self.position}: {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """One converted record: a canonical event dict (the JSONL line the engine reads) or an error."""

    file: str
    position: str
    event: dict[str, Any] | None = None
    error: IngestError | None = None

    @property
    def ok(self) -> bool:
        return self.event is not None


@dataclass(frozen=True)
class IngestOptions:
    """Lookups a bank or AP file cannot carry itself (it speaks the bank's or supplier's ids, not ours)."""

    accounts: Mapping[str, str] = field(default_factory=dict)  # account number as in the file -> IBAN
    vendors: Mapping[str, str] = field(default_factory=dict)  # supplier id (party id, VAT, endpoint) -> vendor_id
    companies: Mapping[str, str] = field(default_factory=dict)  # buyer id -> company_code
    default_company_code: str | None = None
    flat_mapping: Path | None = None  # CSV/JSON column mapping; the bundled AP template when None
    max_document_bytes: int = 32 * 1024 * 1024


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:DIGEST_CHARS]


class SourceFile:
    """One input file under conversion: knows how to wrap a payload into a validated envelope."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.name = path.name
        self.fmt = fmt
        self.system = fmt  # who sent it, as far as the file tells: the format, or a mapping's source_system
        self.digest = file_digest(path)

    def event(
        self,
        position: str,
        event_type: str,
        event_time: datetime,
        payload: dict[str, Any],
        correlation_id: str | None = None,
        batch_correlation_id: str | None = None,
        key: str | None = None,
    ) -> IngestResult:
        """Validate and wrap; `key` replaces digest+position when the record has its own identity."""
        obj: dict[str, Any] = {
            "event_id": f"{self.fmt.replace('.', '')}-{key or self.digest + '-' + position}",
            "event_type": event_type,
            "schema_version": 1,
            "source_system": f"{self.system}:{self.name}",
            "event_time": iso(event_time),
        }
        if correlation_id:
            obj["correlation_id"] = correlation_id
        if batch_correlation_id:
            obj["batch_correlation_id"] = batch_correlation_id
        obj["payload"] = _drop_none(payload)
        try:
            validate(obj)
        except EventError as exc:
            return self.error(position, exc.field, exc.reason)
        return IngestResult(self.name, position, event=obj)

    def error(self, position: str, field: str, reason: str, category: str = SCHEMA_VIOLATION) -> IngestResult:
        return IngestResult(self.name, position, error=IngestError(self.name, position, field, reason, category))

    def malformed(self, position: str, field: str, reason: str) -> IngestResult:
        return self.error(position, field, reason, MALFORMED)


def _drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


def amount_text(raw: str | None, field: str) -> str:
    """A decimal string kept exact (never through float), refusing exponents and non-numbers."""
    if raw is None or not raw.strip():
        raise FieldError(field, "missing amount")
    cleaned = raw.strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise FieldError(field, f"not a decimal amount: {cleaned!r}") from None
    if not value.is_finite() or "e" in cleaned.lower():
        raise FieldError(field, f"not a plain decimal amount: {cleaned!r}")
    return str(value)


def parse_date(raw: str | None, field: str) -> date:
    if raw is None:
        raise FieldError(field, "missing date")
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise FieldError(field, f"not an ISO date: {raw!r}") from None


def parse_datetime(raw: str | None, field: str) -> datetime:
    """ISO 8601 date-time; a bank time without offset is read as UTC (documented in docs/formats.md)."""
    if raw is None:
        raise FieldError(field, "missing date-time")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise FieldError(field, f"not an ISO date-time: {raw!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of(day: date) -> datetime:
    # A statement without its own timestamp is known at the end of its day, after same-day releases.
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def compact_iban(raw: str | None) -> str | None:
    return None if raw is None else raw.replace(" ", "").upper() or None


def resolve_account(raw: str | None, accounts: Mapping[str, str], field: str) -> str:
    """The IBAN of a reported account: the id itself when it is an IBAN, else the configured mapping."""
    if raw is None or not raw.strip():
        raise FieldError(field, "missing account identification")
    cleaned = raw.strip()
    if cleaned in accounts:
        return accounts[cleaned]
    compact = compact_iban(cleaned) or ""
    if compact[:2].isalpha() and compact[2:4].isdigit():
        return compact
    raise FieldError(field, f"account {cleaned!r} is not an IBAN and has no entry in the account mapping")
