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

from reconstream.models.accounts import AccountRef, AccountScheme, account_of, compact, read_account
from reconstream.models.base import iso
from reconstream.models.errors import FieldRefused
from reconstream.models.events import MALFORMED, SCHEMA_VIOLATION, EventError, validate
from reconstream.models.money import MINOR_UNITS, at_scale

from . import budget as b

DIGEST_CHARS = 16
# What the converters write: every field they fill is version 2's, and a worker not yet upgraded to a later
# version (a rolling upgrade) still reads them. Raise it when a converter fills a field of a later version.
CONVERTED_VERSION = 2


class FieldError(FieldRefused):
    """A converter could not read one field of one record; the rest of the file goes on."""


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

    # House accounts: an account id as a file writes it ("0648489890", "50010517/0648489890", an IBAN)
    # -> the account positions are kept under (an AccountRef, or an IBAN as text).
    accounts: Mapping[str, AccountRef | str] = field(default_factory=dict)
    account_currencies: Mapping[str, str] = field(default_factory=dict)  # account key -> currency, when a file omits it
    vendors: Mapping[str, str] = field(default_factory=dict)  # supplier id (party id, VAT, endpoint) -> vendor_id
    companies: Mapping[str, str] = field(default_factory=dict)  # buyer id -> company_code
    default_company_code: str | None = None
    flat_mapping: Path | None = None  # CSV/JSON column mapping; the bundled AP template when None
    max_document_bytes: int = 32 * 1024 * 1024
    # What converting one file may cost (budget.py): past any bound the file is refused with the bound named.
    max_seconds: float = b.DEFAULT_SECONDS  # in the converter, plus seconds_per_mib for every MiB of the file
    seconds_per_mib: float = b.DEFAULT_SECONDS_PER_MIB
    max_records: int = b.DEFAULT_MAX_RECORDS  # records held at once (BAI2, MT940, flat files)
    max_record_chars: int = b.DEFAULT_MAX_RECORD_CHARS  # one record: BAI2 with its 88s, an MT940 tag, a CSV line

    def budget(self, size: int) -> b.Budget:
        """The bounds of converting one file of `size` bytes."""
        return b.Budget.for_size(size, self.max_seconds, self.seconds_per_mib, self.max_records, self.max_record_chars)

    def house_account(self, raw: str, bank_id: str | None = None) -> AccountRef | None:
        """The configured account a file's id names, by the id alone or by bank id and id."""
        names = [compact(raw)]
        if bank_id:
            names.insert(0, f"{compact(bank_id)}/{compact(raw)}")
        for name in names:
            found = self.accounts.get(name)
            if found is not None:
                return found if isinstance(found, AccountRef) else account_of(found)
        return None


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:DIGEST_CHARS]


class SourceFile:
    """One input file under conversion: knows how to wrap a payload into a validated envelope."""

    def __init__(self, path: Path, fmt: str, budget: b.Budget) -> None:
        self.path = path
        self.name = path.name
        self.fmt = fmt
        self.system = fmt  # who sent it, as far as the file tells: the format, or a mapping's source_system
        self.digest = file_digest(path)
        self.budget = budget  # what converting it may cost; the converters' reading loops count against it

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
            "schema_version": CONVERTED_VERSION,
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


def money(raw: str | None, currency: str, field: str) -> str:
    """A decimal amount at the currency's scale: trailing zeros beyond its minor units dropped ("105.750" EUR
    is 105.75); a real fraction of a minor unit is refused by the model's own check later, field named."""
    value = Decimal(amount_text(raw, field))
    return str(at_scale(value, currency)) if currency in MINOR_UNITS else str(value)


@dataclass(frozen=True, slots=True)
class ReadAccount:
    """An account read from a file: the reference, and a data-quality flag when it failed its scheme's check."""

    ref: AccountRef
    problem: str | None = None

    def payload(self) -> dict[str, Any]:
        return self.ref.model_dump(mode="json", exclude_none=True)


def house_account(
    raw: str | None, options: IngestOptions, field: str, bank_id: str | None = None, scheme: AccountScheme | None = None
) -> ReadAccount:
    """The statement's own account: the configured one it names, else the account as written (any scheme)."""
    if raw is None or not raw.strip():
        raise FieldError(field, "missing account identification")
    configured = options.house_account(raw, bank_id)
    if configured is not None:
        return ReadAccount(configured)
    ref, problem = read_account(raw, bank_id, scheme)
    return ReadAccount(ref, problem)


def counterparty_account(
    raw: str | None, bank_id: str | None = None, scheme: AccountScheme | None = None
) -> ReadAccount | None:
    if raw is None or not raw.strip():
        return None
    ref, problem = read_account(raw, bank_id, scheme)
    return ReadAccount(ref, problem)


def with_accounts(
    payload: dict[str, Any], account: ReadAccount, counterparty: ReadAccount | None, fields: tuple[str, str]
) -> dict[str, Any]:
    """Put the accounts into a settlement payload; each that failed its check becomes a data-quality flag."""
    payload["account"] = account.payload()
    if account.problem:
        flag(payload, fields[0], account.problem)
    if counterparty is not None:
        with_counterparty(payload, counterparty, fields[1])
    return payload


def with_counterparty(payload: dict[str, Any], counterparty: ReadAccount, field: str) -> dict[str, Any]:
    payload["counterparty_account"] = counterparty.payload()
    if counterparty.problem:
        flag(payload, field, counterparty.problem)
    return payload


def flag(payload: dict[str, Any], field: str, reason: str) -> None:
    """A field kept as written though it failed a check: the booking stands, the field is suspect."""
    payload["data_quality"] = [*(payload.get("data_quality") or ()), {"field": field, "reason": reason}]
