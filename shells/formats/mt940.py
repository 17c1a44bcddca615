"""SWIFT MT940 statements and MT942 interim reports in -> canonical Settlements, via the `mt-940` library.

`mt-940` understands the tag grammar and the German structured :86: (GVC ?20..?34, EREF+/SVWZ+/IBAN+),
which is where the EndToEndId, the counterparty and the remittance live. Every :61: line is one
Settlement; its bank reference (after //) is the entry id, so the same line in the intraday MT942 and in
the end-of-day MT940 is booked once by the engine.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import mt940
from reconstream.matchers.remittance import first_rf_reference as creditor_reference

from .canonical import FieldError, IngestOptions, IngestResult, SourceFile, compact_iban, end_of, resolve_account

MAX_BYTES = 64 * 1024 * 1024
_STATEMENT_LINE = re.compile(r"^:61:", re.MULTILINE)
_DIRECTIONS = {"C": "CRDT", "D": "DBIT", "RC": "DBIT", "RD": "CRDT"}  # a reversal books the other way
NO_REFERENCE = {"", "NONREF", "NOTPROVIDED"}


def read_text(source: SourceFile) -> str:
    size = source.path.stat().st_size
    if size > MAX_BYTES:
        raise FieldError("file", f"file is {size} bytes, more than the {MAX_BYTES} allowed for MT940/BAI2")
    raw = source.path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # SWIFT's X character set fits; older German files are Latin-1


def convert(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    text = read_text(source)
    if ":20:" not in text or (":61:" not in text and ":62" not in text and ":34F:" not in text):
        yield source.malformed("file", ":20:", "no MT940/MT942 statement found (missing :20: or :61:/:62:)")
        return
    try:
        with _quiet_library():
            statements = mt940.parse_statements(text, options=mt940.Options.all())
    except (RuntimeError, ValueError, KeyError, IndexError, TypeError) as exc:
        yield _unparsable(source, text, exc)
        return
    lines = [text.count("\n", 0, match.start()) + 1 for match in _STATEMENT_LINE.finditer(text)]
    seen = 0
    for number, statement in enumerate(statements, 1):
        for index, transaction in enumerate(statement, 1):
            line = lines[seen] if seen < len(lines) else None
            seen += 1
            position = f"Stmt{number}.Tx{index}"
            where = f"{position} (line {line})" if line else position
            try:
                payload, event_time = settlement(statement.data, transaction.data, options, number, index)
            except FieldError as exc:
                yield source.error(where, exc.field, exc.reason)
                continue
            yield source.event(position, "settlement.booked", event_time, payload)


def _unparsable(source: SourceFile, text: str, exc: Exception) -> IngestResult:
    # mt-940 raises RuntimeError(message, tag, value): point at the line holding the value.
    value = exc.args[-1] if len(exc.args) == 3 and isinstance(exc.args[-1], str) else None
    if value and value in text:
        line = text.count("\n", 0, text.index(value)) + 1
        tag = getattr(exc.args[1], "slug", "tag")
        return source.malformed(f"line {line}", tag, f"cannot parse {value!r}")
    return source.malformed("file", "<mt940>", f"cannot parse statement: {exc}")


@contextmanager
def _quiet_library() -> Iterator[None]:
    # mt-940 logs every failed pattern fragment; the error we yield already names the bad line.
    logger = logging.getLogger("mt940")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def settlement(
    statement: dict[str, Any], tx: dict[str, Any], options: IngestOptions, number: int, index: int
) -> tuple[dict[str, Any], datetime]:
    account = _account(statement.get("account_identification"), options)
    amount = tx.get("amount")
    if amount is None:
        raise FieldError(":61:", "no amount")
    status = str(tx.get("status") or "").upper()
    if status not in _DIRECTIONS:
        raise FieldError(":61:", f"unknown debit/credit mark {status!r}")
    booking = _day(tx.get("entry_date") or tx.get("date"), ":61: entry date")
    value = _day(tx.get("date") or booking, ":61: value date")
    remittance = _remittance(tx)
    reference = statement.get("transaction_reference") or ""
    payload = {
        "entry_id": _entry_id(tx, reference, number, index),
        "account_iban": account,
        "amount": str(abs(Decimal(amount.amount))),
        "currency": getattr(amount, "currency", None) or tx.get("currency"),
        "credit_debit": _DIRECTIONS[status],
        "booking_date": booking.isoformat(),
        "value_date": value.isoformat(),
        "end_to_end_id": _end_to_end_id(tx),
        "counterparty_iban": compact_iban(tx.get("applicant_iban") or tx.get("gvc_applicant_iban")),
        "counterparty_name": (tx.get("applicant_name") or None),
        "remittance_info": remittance,
        "creditor_reference": creditor_reference(remittance),
    }
    return payload, _report_time(statement, booking)


def _account(raw: Any, options: IngestOptions) -> str:
    # :25: is an IBAN, or "BIC/account number", or a bare account number.
    text = str(raw or "").strip()
    candidates = [text, text.rsplit("/", 1)[-1]]
    for candidate in candidates:
        if candidate in options.accounts:
            return options.accounts[candidate]
    return resolve_account(candidates[-1], options.accounts, ":25:")


def _day(value: Any, field: str) -> date:
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    raise FieldError(field, f"missing or invalid date {value!r}")


def _entry_id(tx: dict[str, Any], reference: str, number: int, index: int) -> str:
    bank_reference = str(tx.get("bank_reference") or "").strip()
    return bank_reference or f"{reference}/{number}/{index}"


def _end_to_end_id(tx: dict[str, Any]) -> str | None:
    for key in ("end_to_end_reference", "customer_reference"):
        value = str(tx.get(key) or "").strip()
        if value.upper() not in NO_REFERENCE:
            return value[:35]
    return None


def _remittance(tx: dict[str, Any]) -> str | None:
    parts = [tx.get("purpose"), tx.get("additional_purpose")] if tx.get("purpose") else [tx.get("transaction_details")]
    text = " ".join(str(part).strip() for part in parts if part)
    return text[:500] or None


def _report_time(statement: dict[str, Any], booking: date) -> datetime:
    stamp = statement.get("date")  # MT942 :13D: creation date-time
    if isinstance(stamp, datetime):
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp
    closing = statement.get("final_closing_balance")
    day = getattr(closing, "date", None)
    return end_of(_day(day, ":62F:") if day is not None else booking)
