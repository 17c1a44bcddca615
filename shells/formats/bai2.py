"""BAI2 cash management balance reports in -> canonical Settlements, via the `bai2` library.

`bai2` joins the 88 continuation records, checks the control totals and record counts of every account,
group and file, and knows the type-code table (which codes are credits and which debits). Each 16
transaction detail is one Settlement: bank reference -> entry_id, customer reference -> end_to_end_id
(what the payer's originator reference carries), text -> remittance. BAI2 amounts are integers in the
currency's minor units. US account numbers are not IBANs: map them with IngestOptions.accounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from bai2 import bai2 as bai2_lib
from bai2.constants import FundsType, TypeCodeTransaction
from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException
from reconstream.matchers.remittance import first_rf_reference as creditor_reference
from reconstream.models.money import MINOR_UNITS

from .canonical import FieldError, IngestOptions, IngestResult, SourceFile, end_of, resolve_account
from .mt940 import read_text

_DETAIL_LINE = re.compile(r"^16,", re.MULTILINE)
BAI2_ERRORS = (ParsingException, IntegrityException, NotSupportedYetException)
_DIRECTIONS = {TypeCodeTransaction.credit: "CRDT", TypeCodeTransaction.debit: "DBIT"}
NO_REFERENCE = {"", "NONREF", "NOTPROVIDED"}


def convert(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    text = read_text(source)
    try:
        document = bai2_lib.parse_from_string(text, check_integrity=True)
    except (*BAI2_ERRORS, ValueError, IndexError, KeyError, AttributeError) as exc:
        yield source.malformed("file", "<bai2>", f"cannot parse BAI2 file: {type(exc).__name__}: {exc}")
        return
    lines = [text.count("\n", 0, match.start()) + 1 for match in _DETAIL_LINE.finditer(text)]
    created = _created(document.header)
    seen = 0
    for g, group in enumerate(document.children, 1):
        for a, account in enumerate(group.children, 1):
            for t, detail in enumerate(account.children, 1):
                position = f"Grp{g}.Acct{a}.Tx{t}"
                line = lines[seen] if seen < len(lines) else None
                seen += 1
                try:
                    payload = settlement(group.header, account.header, detail, options, position)
                except FieldError as exc:
                    yield source.error(f"{position} (line {line})" if line else position, exc.field, exc.reason)
                    continue
                event_time = created or end_of(group.header.as_of_date)
                yield source.event(position, "settlement.booked", event_time, payload)


def _created(header: Any) -> datetime | None:
    if header.creation_date is None:
        return None
    return datetime.combine(header.creation_date, header.creation_time or time(23, 59, 59), tzinfo=UTC)


def settlement(group: Any, account: Any, detail: Any, options: IngestOptions, position: str) -> dict[str, Any]:
    currency = account.currency or group.currency or "USD"
    if currency not in MINOR_UNITS:
        raise FieldError("03.currency", f"unknown currency {currency!r}")
    direction = _DIRECTIONS.get(detail.type_code.transaction)
    if direction is None:
        raise FieldError("16.type_code", f"type code {detail.type_code.code} is neither a credit nor a debit")
    booking: date = group.as_of_date
    text = (detail.text or "").strip() or None
    return {
        "entry_id": (detail.bank_reference or "").strip() or f"{account.customer_account_number}/{position}",
        "account_iban": resolve_account(account.customer_account_number, options.accounts, "03.account"),
        "amount": str(Decimal(detail.amount).scaleb(-MINOR_UNITS[currency])),
        "currency": currency,
        "credit_debit": direction,
        "booking_date": booking.isoformat(),
        "value_date": _value_date(detail, booking).isoformat(),
        "end_to_end_id": _reference(detail.customer_reference),
        "remittance_info": text,
        "creditor_reference": creditor_reference(text),
    }


def _value_date(detail: Any, booking: date) -> date:
    if detail.funds_type == FundsType.value_dated and detail.availability and detail.availability.get("date"):
        return detail.availability["date"]
    return booking


def _reference(raw: str | None) -> str | None:
    value = (raw or "").strip()
    return None if value.upper() in NO_REFERENCE else value[:35]
