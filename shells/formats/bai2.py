"""BAI2 cash management balance reports in -> canonical settlements and balances.

Records are read and every trailer checked by bai2_records.py. Each 16 transaction detail is one
settlement: bank reference -> entry_id, customer reference -> end_to_end_id (what the payer's
originator reference carries), text (with its 88 continuations) -> remittance, the type code ->
credit or debit (the `bai2` library's table of the BAI codes, else the code's range: 100-399 credits,
400-699 debits) and the bank transaction code. The 03 account's status codes are the bank's balances:
010 opening ledger (OPBD), 015 closing ledger (CLBD), 030 current ledger (ITBD), 040 opening available
(OPAV), 045 closing available (CLAV), 060 current available (ITAV). Amounts are integers in the
currency's minor units.

Accounts: a US account is the 03 account number with the group's originator as its ABA routing number
when that is one; a UK account written "account sort-code" (NatWest) is that pair; anything else a
national account number with the originator as bank id. A configured account (`[[accounts]]` in the
config file) is recognised by its number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from bai2.constants import TypeCodes, TypeCodeTransaction
from reconstream.matchers.remittance import first_rf_reference
from reconstream.models.accounts import AccountScheme
from reconstream.models.money import MINOR_UNITS
from stdnum.us import rtn

from . import bai2_records as r
from .canonical import (
    FieldError,
    IngestOptions,
    IngestResult,
    ReadAccount,
    SourceFile,
    counterparty_account,
    end_of,
    house_account,
    with_accounts,
)
from .mt940 import read_text

NO_REFERENCE = {"", "NONREF", "NOTPROVIDED"}
_BALANCE_CODES = {"010": "OPBD", "015": "CLBD", "030": "ITBD", "040": "OPAV", "045": "CLAV", "060": "ITAV"}
_KEY = re.compile(r"^([A-Z]{4}):\s*(.*)$")
_UK_ACCOUNT = re.compile(r"^(\d{6,8})\s+(\d{6})$")


def convert(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    text = read_text(source)
    try:
        document = r.parse(text, source.budget)
    except FieldError as exc:
        yield source.malformed("file", exc.field, exc.reason)
        return
    for problem in document.problems:
        yield source.malformed("file", problem.field, f"{problem.reason}; the records are converted, check the file")
    created = _when(document.created_date, document.created_time, "01.creation_date")
    for g, group in enumerate(document.groups, 1):
        for a, account in enumerate(group.accounts, 1):
            yield from convert_account(source, group, account, f"Grp{g}.Acct{a}", created, options)


def convert_account(
    source: SourceFile,
    group: r.Group,
    account: r.Account,
    position: str,
    created: datetime | None,
    options: IngestOptions,
) -> Iterator[IngestResult]:
    try:
        read = _account(account.number, group.originator, options)
        currency = account.currency or group.currency or options.account_currencies.get(read.ref.key) or "USD"
        if currency not in MINOR_UNITS:
            raise FieldError("03.currency", f"unknown currency {currency!r}")
        as_of = _day(group.as_of_date, "02.as_of_date")
    except FieldError as exc:
        yield source.error(f"{position} (line {account.line})", exc.field, exc.reason)
        return
    report_time = _when(group.as_of_date, group.as_of_time, "02.as_of_time")
    event_time = created or end_of(as_of)
    for t, detail in enumerate(account.details, 1):
        where = f"{position}.Tx{t}"
        try:
            payload = settlement(detail, read, currency, as_of, where, account.number)
            payload["statement_id"] = f"{group.as_of_date}/{account.number}"
        except FieldError as exc:
            yield source.error(f"{where} (line {detail.line})", exc.field, exc.reason)
            continue
        yield source.event(where, "settlement.booked", event_time, payload)
    for b, (code, amount, _) in enumerate((s for s in account.summaries if s[0] in _BALANCE_CODES and s[1]), 1):
        intraday = _BALANCE_CODES[code].startswith("IT")
        payload = {
            "account": read.payload(),
            "currency": currency,
            "type": _BALANCE_CODES[code],
            "amount": str(Decimal(amount).scaleb(-MINOR_UNITS[currency])),
            "date": as_of.isoformat(),
            "date_time": report_time.isoformat() if intraday and report_time else None,
            "statement_id": f"{group.as_of_date}/{account.number}",
        }
        yield source.event(f"{position}.Bal{b}", "balance.reported", event_time, payload)


def _account(number: str, originator: str, options: IngestOptions) -> ReadAccount:
    uk = _UK_ACCOUNT.match(number)
    if uk is not None:
        configured = options.house_account(uk.group(1), uk.group(2)) or options.house_account(number)
        if configured is not None:
            return ReadAccount(configured)
        return house_account(uk.group(1), options, "03.account", uk.group(2), AccountScheme.UK_SORT_CODE)
    bank = originator.strip() or None
    scheme = AccountScheme.US_ABA if bank and rtn.is_valid(bank) else AccountScheme.BBAN
    return house_account(number, options, "03.account", bank, scheme)


def settlement(
    detail: r.Detail, account: ReadAccount, currency: str, booking: date, position: str, account_number: str
) -> dict[str, Any]:
    direction = _direction(detail.type_code)
    if not re.fullmatch(r"\d+", detail.amount):
        raise FieldError("16.amount", f"not an amount in minor units: {detail.amount!r}")
    text = detail.text or None
    keyed = _keyed(detail.pieces)
    payload = {
        "entry_id": detail.bank_reference or f"{account_number}/{position}",
        "amount": str(Decimal(detail.amount).scaleb(-MINOR_UNITS[currency])),
        "currency": currency,
        "credit_debit": direction,
        "booking_date": booking.isoformat(),
        "value_date": (_day(detail.value_date, "16.value_date") if detail.value_date else booking).isoformat(),
        "end_to_end_id": _reference(detail.customer_reference),
        "remittance_info": text,
        "remittance_lines": detail.pieces or None,
        "creditor_reference": first_rf_reference(text),
        "bank_transaction_code": {"proprietary": detail.type_code, "issuer": "BAI"},
    }
    # Banks that write one "KEY: value" per 88 record (Goldman Sachs): the other party's account and name.
    other = ("D", "DB") if direction == "CRDT" else ("C", "CR")
    raw = keyed.get(f"{other[0]}ACT")
    bank = keyed.get(f"{other[0]}ABA") or keyed.get(f"{other[0]}BIC")
    counterparty = counterparty_account(raw, bank, None) if raw else None
    payload["counterparty_name"] = keyed.get(f"{other[1]}NM")
    return with_accounts(payload, account, counterparty, ("03.account", f"88.{other[0]}ACT"))


def _keyed(pieces: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for piece in pieces:
        key = _KEY.match(piece)
        if key:
            found.setdefault(key.group(1), key.group(2).strip())
    return found


def _direction(code: str) -> str:
    known = TypeCodes.get(code)
    if known is not None and known.transaction is TypeCodeTransaction.credit:
        return "CRDT"
    if known is not None and known.transaction is TypeCodeTransaction.debit:
        return "DBIT"
    if code.isdigit() and len(code) == 3 and 100 <= int(code) <= 399:
        return "CRDT"
    if code.isdigit() and len(code) == 3 and 400 <= int(code) <= 699:
        return "DBIT"
    raise FieldError("16.type_code", f"type code {code!r} is neither a credit nor a debit")


def _day(raw: str | None, field: str) -> date:
    text = (raw or "").strip()
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise FieldError(field, f"not a date (YYMMDD): {raw!r}") from None


def _when(day: str, clock: str, field: str) -> datetime | None:
    if not day.strip():
        return None
    hhmm = clock.strip().replace(":", "")[:4]
    if hhmm in ("", "9999", "2400"):
        at = time(23, 59, 59)
    else:
        try:
            at = time(int(hhmm[:2]), int(hhmm[2:4]))
        except ValueError:
            raise FieldError(field, f"not a time (HHMM): {clock!r}") from None
    return datetime.combine(_day(day, field), at, tzinfo=UTC)


def _reference(raw: str | None) -> str | None:
    value = (raw or "").strip()
    return None if value.upper() in NO_REFERENCE else value[:35]
