"""SWIFT MT940 statements and MT942 interim reports in -> canonical settlements and balances.

Read by our own tag reader (swift_mt.py) rather than a parser library: the banks' dialects decide what
a line means, and a library that merges or drops lines it does not understand loses bookings silently.
Here every `:61:` line is one settlement or an error naming its line, never merged and never skipped.

- `:25:` may be an IBAN, `BIC/IBAN`, `bank code/account`, or a domestic number with dots and a currency
  suffix (`1291.99.348EUR`): anything but an IBAN is a national account number (BBAN) with its bank code.
- `:61:` value date, entry date, mark (C, D, RC = reversed credit = a debit, RD = reversed debit = a
  credit), funds code, amount, transaction type, customer reference, `//` bank reference, and a second
  line of supplementary details. The bank reference is the entry id (unique in its statement), so the
  same line in the intraday MT942 and the day's MT940 is booked once. The old Rabobank layout puts the
  counterparty account and name where the customer reference goes.
- `:86:` in the German, Dutch structured or free-text dialect (mt940_info.py).
- Balances: `:60F:` previously closed (PRCD, its date is the previous close), `:62F:` closing booked
  (CLBD), `:64:` closing available (CLAV), `:65:` forward available (FWAV); the intermediate `:60M:` and
  `:62M:` of a statement split over several messages are not day balances and are left out.

A file is refused whole, naming the statement's line, when a statement lacks its opening or closing
balance, or books an entry outside them: the SWIFT MT940 layout is `:20:`, `:25:`, `:28C:`, `:60F:` or
`:60M:`, then the `:61:` entries (each with its `:86:`), then `:62F:` or `:62M:`, `:64:`, `:65:` and a
last `:86:`, the balances being mandatory. A file cut off inside a statement lost its closing balance at
least, so it is never read as a shorter statement. (An MT942 interim report, `:34F:` and `:13D:`, has no
balances: only its framing shows it whole, swift_mt.py.)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from reconstream.matchers.remittance import first_rf_reference
from reconstream.models.accounts import AccountScheme, looks_like_iban, valid_iban
from reconstream.models.creditor_references import reference_scheme
from reconstream.models.errors import InvariantBroken
from reconstream.models.money import MINOR_UNITS

from .canonical import (
    FieldError,
    IngestOptions,
    IngestResult,
    ReadAccount,
    SourceFile,
    counterparty_account,
    end_of,
    house_account,
    money,
    with_accounts,
)
from .mt940_info import NO_REFERENCE, Info, free_counterparty, read_info
from .swift_mt import Message, Tag, read_tags

MAX_BYTES = 64 * 1024 * 1024
# The SWIFT layout, as banks bend it: a transaction type left out (Zenith) or padded with spaces
# (Sberbank), an amount without its comma (Knab) or with a decimal point (old Rabobank balances).
_STATEMENT_LINE = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>RC|RD|EC|ED|C|D)(?P<funds>[A-Z])?(?P<amount>\d+(?:[,.]\d*)?)"
    r"(?P<type>[NSF][A-Z0-9 ]{3})?(?P<rest>.*)$"
)
_BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<currency>[A-Z]{3})(?P<amount>\d+(?:[,.]\d*)?)$")
_DIRECTIONS = {"C": "CRDT", "D": "DBIT", "RC": "DBIT", "RD": "CRDT", "EC": "CRDT", "ED": "DBIT"}
# :60M:/:62M: open and close the pages of a statement sent in several messages: the bank's booked balance
# at that point, as good as the final ones for a position.
_BALANCE_TAGS = {"60F": "PRCD", "60M": "PRCD", "62F": "CLBD", "62M": "CLBD", "64": "CLAV", "65": "FWAV"}
_OPENING_TAGS = frozenset({"60F", "60M"})
_CLOSING_TAGS = frozenset({"62F", "62M"})
_INTERIM_TAGS = ("34F", "13D", "13")  # what makes a message an MT942 interim report, without balances
_OLD_RABO_ACCOUNT = re.compile(r"^P?\d{6,12}$")
_ACCOUNT_LIKE = re.compile(r"^(P?\d{7,12}|[A-Z]{2}\d{2}[A-Z0-9]{11,30})$")
_ACCOUNT_CURRENCY = re.compile(r"^(?P<account>.+?)(?P<currency>[A-Z]{3})$")
_DATE_TIME = re.compile(r"^(\d{10})([+-]\d{4})?$")


def read_text(source: SourceFile) -> str:
    size = source.path.stat().st_size
    if size > MAX_BYTES:
        raise FieldError("file", f"file is {size} bytes, more than the {MAX_BYTES} allowed for MT940/BAI2")
    raw = source.path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # SWIFT's X character set fits; older German files are Latin-1
    # Polish and Czech banks write ISO 8859-2, whose letters (Ł, Ś, Ą, Ż, Š ...) are symbols in Latin-1 (£, ¦,
    # ¡, ¯, ©): read as Latin-1 they stand inside words ("OP£ATA", "URZ¡D"), where Latin-1 text seldom has them.
    # Umlauts, ß and é are the same bytes in both, so a German file reads the same either way.
    if len(_LETTER_IN_LATIN2_ONLY.findall(text)) >= 2:
        return raw.decode("iso-8859-2")
    return text


_LETTERS = "A-Za-z\xc0-\xd6\xd8-\xf6\xf8-\xff"
# The bytes that are letters in ISO 8859-2 and symbols in Latin-1, but for ª º « » (Spanish and French use them
# beside letters).
_LETTER_IN_LATIN2_ONLY = re.compile(
    f"(?<=[{_LETTERS}])[\xa1\xa3\xa5\xa6\xa9\xac\xae\xaf\xb1\xb3\xb5\xb6\xb9\xbc\xbe\xbf](?=[{_LETTERS}])"
)


@dataclass
class Statement:
    """What a statement says once for all its lines."""

    reference: str
    number: str
    account: ReadAccount
    currency: str | None
    report_time: datetime | None  # MT942 :13D:
    closing_date: date | None
    opening_date: date | None

    @property
    def ident(self) -> str:
        """:20: and :28C: repeat across statements at some banks (Rabobank writes :28C:0 on every one):
        the opening date makes the statement's id its own."""
        day = self.opening_date or self.closing_date
        return "/".join(part for part in (self.reference, self.number, day.isoformat() if day else "") if part)


def convert(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    text = read_text(source)
    messages = [message for message in read_tags(text, source.budget) if message.first("20")]
    if not messages or not any(message.first("61", "62F", "62M", "34F") for message in messages):
        yield source.malformed("file", ":20:", "no MT940/MT942 statement found (missing :20: or :61:/:62:)")
        return
    for number, message in enumerate(messages, 1):
        check_balances(message, number, last=number == len(messages))
    for number, message in enumerate(messages, 1):
        yield from convert_statement(source, message, number, options)


def check_balances(message: Message, number: int, last: bool) -> None:
    """A statement opens with its opening balance and closes with its closing balance, its entries between
    (FieldError naming the line otherwise); an MT942 interim report has neither."""
    if message.first(*_INTERIM_TAGS) is not None:
        return
    cut = ": the file ends inside it (cut off?)" if last else ""
    opening = next((i for i, tag in enumerate(message.tags) if tag.name in _OPENING_TAGS), None)
    closing = next((i for i, tag in reversed(list(enumerate(message.tags))) if tag.name in _CLOSING_TAGS), None)
    if opening is None:
        raise FieldError(":60F:", f"line {message.line}: statement {number} has no opening balance (:60F:/:60M:){cut}")
    if closing is None:
        raise FieldError(":62F:", f"line {message.line}: statement {number} has no closing balance (:62F:/:62M:){cut}")
    entries = [tag for tag in message.tags if tag.name == "61"]
    if entries and entries[0].line < message.tags[opening].line:
        raise FieldError(
            ":60F:", f"line {entries[0].line}: statement {number} books an entry before its opening balance"
        )
    if entries and entries[-1].line > message.tags[closing].line:
        raise FieldError(
            ":62F:", f"line {entries[-1].line}: statement {number} books an entry after its closing balance"
        )


def convert_statement(
    source: SourceFile, message: Message, number: int, options: IngestOptions
) -> Iterator[IngestResult]:
    try:
        statement = _statement(message, options)
    except FieldError as exc:
        tag = message.first("25") or message.tags[0]
        yield source.error(f"Stmt{number} (line {tag.line})", exc.field, exc.reason)
        return
    yield from _balances(source, statement, message, number, opening=True)  # before the entries they open
    lines = _entries(message)
    bank_refs = Counter(_bank_reference(tag) for tag, _ in lines)
    for index, (tag, info) in enumerate(lines, 1):
        position = f"Stmt{number}.Tx{index}"
        try:
            payload = settlement(statement, tag, info, index, bank_refs)
        except FieldError as exc:
            yield source.error(f"{position} (line {tag.line})", exc.field, exc.reason)
            continue
        yield source.event(position, "settlement.booked", _event_time(statement, payload), payload)
    yield from _balances(source, statement, message, number, opening=False)


def _balances(
    source: SourceFile, statement: Statement, message: Message, number: int, opening: bool
) -> Iterator[IngestResult]:
    tags = [t for t in message.tags if t.name in _BALANCE_TAGS]
    for balance_index, tag in enumerate(tags, 1):
        if (tag.name in _OPENING_TAGS) != opening:
            continue
        position = f"Stmt{number}.Bal{balance_index}"
        try:
            payload = _balance(statement, tag)
        except FieldError as exc:
            yield source.error(f"{position} (line {tag.line})", exc.field, exc.reason)
            continue
        at = statement.report_time or end_of(statement.closing_date or date.fromisoformat(payload["date"]))
        yield source.event(position, "balance.reported", at, payload)


def _statement(message: Message, options: IngestOptions) -> Statement:
    reference = (message.first("20") or Tag("20", 0)).first.strip()
    number = (message.first("28C", "28") or Tag("28C", 0)).first.strip()
    account_tag = message.first("25")
    if account_tag is None:
        raise FieldError(":25:", "missing account identification")
    account, currency_suffix = _account(account_tag.first.strip(), options)
    opening = _balance_parts(message.first("60F", "60M"), ":60F:")
    closing = _balance_parts(message.first("62F", "62M"), ":62F:")
    floor = message.first("34F")
    currency = (
        (opening or closing or (None, None, None, None))[2]
        or (floor.first.strip()[:3] if floor else None)
        or currency_suffix
        or options.account_currencies.get(account.ref.key)
    )
    stamp = message.first("13D", "13")
    return Statement(
        reference,
        number,
        account,
        currency,
        _report_time(stamp),
        closing[1] if closing else None,
        opening[1] if opening else None,
    )


def _account(raw: str, options: IngestOptions) -> tuple[ReadAccount, str | None]:
    """(the account, a currency written after it): IBAN, BIC/IBAN, bank code/account, or a domestic number."""
    text, currency = _split_currency(raw)
    bank_id, _, account = text.rstrip("/").rpartition("/")
    configured = options.house_account(account, bank_id or None) or options.house_account(raw)
    if configured is not None:
        return ReadAccount(configured), currency
    scheme = AccountScheme.IBAN if looks_like_iban(account) else AccountScheme.BBAN
    bank = bank_id.strip() or None
    return house_account(account.replace(".", ""), options, ":25:", bank, scheme), currency


def _split_currency(raw: str) -> tuple[str, str | None]:
    """`1291.99.348EUR` -> (`1291.99.348`, EUR); an IBAN that happens to end in letters stays whole."""
    text = raw.replace(" ", "")
    found = _ACCOUNT_CURRENCY.match(text.rstrip("/"))
    if found is None or found.group("currency") not in MINOR_UNITS or _is_iban(text.rpartition("/")[2]):
        return raw, None
    return found.group("account"), found.group("currency")


def _is_iban(text: str) -> bool:
    try:
        valid_iban(text)
    except ValueError:
        return False
    return True


def _balance_parts(tag: Tag | None, field: str) -> tuple[str, date, str, Decimal] | None:
    if tag is None:
        return None
    found = _BALANCE.match(tag.first.strip().replace(" ", ""))
    if found is None:
        raise FieldError(field, f"cannot read balance {tag.first.strip()!r} (mark, YYMMDD, currency, amount)")
    currency = found.group("currency")
    amount = Decimal(money(_decimal(found.group("amount")), currency, field))
    return found.group("mark"), _yymmdd(found.group("date"), field), currency, amount


def _balance(statement: Statement, tag: Tag) -> dict[str, Any]:
    parts = _balance_parts(tag, f":{tag.name}:")
    if parts is None:
        raise InvariantBroken(f":{tag.name}: a balance tag read as no balance")
    mark, day, currency, amount = parts
    return {
        "account": statement.account.payload(),
        "currency": currency,
        "type": _BALANCE_TAGS[tag.name],
        "amount": str(-amount if mark == "D" and amount else amount),
        "date": day.isoformat(),
        "statement_id": statement.ident,
    }


def _decimal(raw: str) -> str:
    """A SWIFT amount ("1213,28", "80,", "500") as decimal text; a lone point is a decimal point too."""
    return raw.replace(",", ".") if "," in raw else raw


def _yymmdd(raw: str, field: str) -> date:
    try:
        return date(2000 + int(raw[:2]) if int(raw[:2]) < 80 else 1900 + int(raw[:2]), int(raw[2:4]), int(raw[4:6]))
    except ValueError:
        raise FieldError(field, f"not a date (YYMMDD): {raw!r}") from None


def _report_time(tag: Tag | None) -> datetime | None:
    """MT942 :13D: YYMMDDhhmm with a UTC offset."""
    if tag is None:
        return None
    found = _DATE_TIME.match(tag.first.strip())
    if found is None:
        raise FieldError(":13D:", f"not a date-time (YYMMDDhhmm+hhmm): {tag.first.strip()!r}")
    digits, offset = found.group(1), found.group(2) or "+0000"
    day = _yymmdd(digits[:6], ":13D:")
    sign = 1 if offset[0] == "+" else -1
    local = datetime(day.year, day.month, day.day, int(digits[6:8]), int(digits[8:10]), tzinfo=UTC)
    return local - sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))


def _entries(message: Message) -> list[tuple[Tag, list[str]]]:
    """Each :61: with the :86: lines right after it (repeated :86: tags of the old Rabobank layout
    included), in one pass: looking each :61: up in the statement again would be quadratic in its entries."""
    found: list[tuple[Tag, list[str]]] = []
    info: list[str] | None = None  # the lines of the entry being read, while :86: tags follow it
    for tag in message.tags:
        if tag.name == "61":
            info = []
            found.append((tag, info))
        elif tag.name == "86" and info is not None:
            info += tag.lines
        else:
            info = None
    return found


def _bank_reference(tag: Tag) -> str | None:
    found = _STATEMENT_LINE.match(tag.first.strip())
    if found is None or "//" not in found.group("rest"):
        return None
    reference = found.group("rest").split("//", 1)[1].strip()
    return None if reference.upper() in NO_REFERENCE else reference or None


def settlement(
    statement: Statement, tag: Tag, info_lines: list[str], index: int, bank_refs: Counter[str | None]
) -> dict[str, Any]:
    found = _STATEMENT_LINE.match(tag.first.strip())
    if found is None:
        raise FieldError(":61:", f"cannot read statement line {tag.first.strip()!r}")
    currency = statement.currency
    if not currency:
        raise FieldError(":60F:", "no currency: the statement has no opening or closing balance to take it from")
    value = _yymmdd(found.group("value"), ":61: value date")
    booking = _entry_date(found.group("entry"), value) or value
    amount = money(_decimal(found.group("amount")), currency, ":61: amount")
    rest = found.group("rest")
    customer, _, _ = rest.partition("//")
    if _old_rabobank(rest) is not None:
        customer = rest[:16]  # the rest of the old layout's line is the counterparty's name
    bank_reference = _bank_reference(tag)
    info = read_info(info_lines)
    # The bank's reference with the value date: the same booking in the intraday MT942 and the day's MT940
    # is one entry, while a reference a bank reuses on other days (placeholders in samples) stays apart.
    entry_id = f"{bank_reference}/{value:%y%m%d}" if _identifies(bank_reference, bank_refs) else None
    direction = _DIRECTIONS[found.group("mark")]
    counterparty = _counterparty(info, rest, tag, info_lines)
    payload: dict[str, Any] = {
        "entry_id": entry_id or f"{statement.ident}/{index}",
        "amount": amount,
        "currency": currency,
        "credit_debit": direction,
        "booking_date": booking.isoformat(),
        "value_date": value.isoformat(),
        "end_to_end_id": info.end_to_end_id or _customer_reference(customer, info),
        "counterparty_name": info.counterparty_name or counterparty[1],
        "remittance_info": (info.remittance or "")[:500] or None,
        "remittance_lines": info.remittance_lines or None,
        "additional_info": info.posting_text,
        "mandate_id": info.mandate_id,
        "creditor_scheme_id": info.creditor_scheme_id,
        "purpose": info.purpose,
        "ultimate_debtor": info.ultimate_debtor,
        "ultimate_creditor": info.ultimate_creditor,
        "bank_transaction_code": _code((found.group("type") or "").strip(), info),
        "return_info": {"reason_code": info.return_reason} if info.return_reason else None,
        "batch": {"payment_info_id": info.payment_info_id} if info.payment_info_id else None,
        "statement_id": statement.ident,
    }
    reference = (
        info.creditor_reference or first_rf_reference(" ".join(info_lines)) or first_rf_reference("".join(info_lines))
    )
    if reference:
        payload["creditor_reference"] = reference
        payload["reference_scheme"] = reference_scheme(reference)
    details = " ".join(line.strip() for line in tag.lines[1:] if line.strip())
    if details and not payload["remittance_info"]:
        payload["remittance_info"] = details[:500]
    return with_accounts(payload, statement.account, counterparty[0], (":25:", ":86: counterparty account"))


def _identifies(reference: str | None, references: Counter[str | None]) -> bool:
    """A bank reference that can be the entry's id: once in its statement, and a reference rather than a
    word (Danske's sample writes "Test" on many lines of many statements; an id that repeats drops bookings)."""
    return (
        reference is not None
        and references[reference] == 1
        and len(reference) >= 8
        and any(ch.isdigit() for ch in reference)
    )


def _entry_date(raw: str | None, value: date) -> date | None:
    """MMDD of the booking, in the year that puts it nearest the value date (a statement may span New Year)."""
    if raw is None:
        return None
    candidates = []
    for year in (value.year - 1, value.year, value.year + 1):
        try:
            candidates.append(date(year, int(raw[:2]), int(raw[2:])))
        except ValueError:
            continue
    if not candidates:
        raise FieldError(":61: entry date", f"not a date (MMDD): {raw!r}")
    return min(candidates, key=lambda day: abs((day - value).days))


def _customer_reference(customer: str, info: Info) -> str | None:
    """The `:61:` customer reference as an end-to-end id, unless it only names the `:86:` tag (EREF, PREF ...)."""
    text = customer.strip()
    if not text or text.upper() in NO_REFERENCE or text.upper() in ("EREF", "PREF", "MARF", "KREF", "MREF"):
        return None
    if _OLD_RABO_ACCOUNT.match(text) or looks_like_iban(text) or info.code_issuer == "DK":
        return None  # an account number (old Rabobank, ASN) or a German bank's own reference, not the payer's id
    return text[:35]


def _counterparty(info: Info, rest: str, tag: Tag, info_lines: list[str]) -> tuple[ReadAccount | None, str | None]:
    """The other side, from where this bank writes it: the structured :86:, the :61: line (old Rabobank
    layout; the second line as Rabobank and ASN write it), else the free-text layouts of mt940_info."""
    raw, bank, name = info.counterparty_account, info.counterparty_bank, None
    customer = rest.split("//", 1)[0].strip()
    second = tag.lines[1].strip() if len(tag.lines) > 1 else ""
    old = _old_rabobank(rest)
    if raw is None and old is not None:
        raw, name = old
    if raw is None and _ACCOUNT_LIKE.match(second):
        raw = second  # Rabobank: the account on the :61: second line
    if raw is None and looks_like_iban(customer):
        raw, name = customer, second or None  # ASN: the account as the reference, the name below
    if raw is None and info.code is None:
        raw, name = free_counterparty(info_lines)
    if raw is None:
        return None, name
    scheme = AccountScheme.IBAN if looks_like_iban(raw) else AccountScheme.BBAN
    bank_id = None if scheme is AccountScheme.IBAN else bank
    return counterparty_account(raw, bank_id, scheme), name


def _old_rabobank(rest: str) -> tuple[str | None, str | None] | None:
    """The old Rabobank `:61:`: the counterparty account in the 16 reference columns, its name after them."""
    if "//" in rest or len(rest.rstrip()) <= 16:
        return None
    head, name = rest[:16].strip(), rest[16:].strip() or None
    return (head if _OLD_RABO_ACCOUNT.match(head) else None), name


def _code(swift_type: str, info: Info) -> dict[str, Any] | None:
    """The `:61:` transaction type (e.g. NTRF) and the bank's own code (German GVC, Dutch /TRTP/)."""
    if info.code:
        return {"proprietary": f"{swift_type}+{info.code}" if swift_type else info.code, "issuer": info.code_issuer}
    return {"proprietary": swift_type, "issuer": "SWIFT"} if swift_type else None


def _event_time(statement: Statement, payload: dict[str, Any]) -> datetime:
    if statement.report_time is not None:
        return statement.report_time
    return end_of(statement.closing_date or date.fromisoformat(payload["booking_date"]))
