"""BAI2 records as banks send them: `/`-terminated, newline- or space-separated, continued by `88` records.

A record is `code,field,field.../`; a logical record continues on `88` records (a transaction's text may
start or go on there, and a summary's fields may be cut anywhere). Some banks put several records on one
physical line. The structure (01 file, 02 group, 03 account, 16 detail, 49/98/99 trailers) and every
trailer's record count and control total are checked before anything is converted: a file that was cut
off, or whose records do not nest, is refused whole, naming the record and line, never half-read; a whole
file whose trailer counts or totals disagree with its records is converted, each disagreement reported.

Written here rather than taken from the `bai2` library: it refuses real banks' files (funds types it does
not know, records split across physical lines) and loops without end on a file cut off mid-record (its
parsers keep the last record as the current one once the input ends, and a 16 detail parser asked for the
next detail takes that one again and again, the list of details growing until memory runs out). Its
type-code table is still what says which codes are credits and which debits (bai2.py).

The structure checked is the BAI2 specification's (BAI, Cash Management Balance Reporting Specifications,
Version 2):
- the file opens with its 01 file header and closes with its 99 file trailer, nothing after it;
- groups are 02 group header ... 98 group trailer, accounts 03 account identifier ... 49 account trailer,
  each account inside a group, details (16) inside an account, nothing between a trailer and the next
  header;
- an 88 continuation continues the record before it (another 88 included), so it never comes first;
- every record ends with "/", except where a 16 record ends in its text field: so a file whose last record
  ends neither with "/" nor with a line break (one bank leaves the 99's "/" off) was cut inside it;
- the 49, 98 and 99 trailers state their control total, number of accounts or groups, and number of
  records (their own header and trailer and every record between, 88s included). A trailer that
  disagrees with its records is reported, the file still converted (a real Goldman Sachs file disagrees
  with all its trailers and is whole): the structure, not the counts, is what shows a file was cut off.

Reading is linear in the file and bounded by the file's budget (budget.py): records per file, characters
per logical record (with its 88 continuations), and the time spent, checked as the records are read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from reconstream.models.errors import InvariantBroken

from .budget import Budget, unlimited
from .canonical import FieldError

_RECORD_START = re.compile(r"/\s+(?=(?:01|02|03|16|49|88|98|99),)")
CODES = frozenset({"01", "02", "03", "16", "49", "88", "98", "99"})
_DISTRIBUTIONS = re.compile(r"[0-9]{1,3}")  # a funds type D's number of distributions: a small count
_AFTER_LAST_RECORD = " \t\x1a\x00"  # padding and a DOS end-of-file byte a whole file may end with


@dataclass(slots=True)
class Record:
    code: str
    line: int
    fields: list[str]
    physical: int = 1  # physical records it spans (itself and its 88 continuations): what trailers count
    pieces: list[str] = field(default_factory=list)  # a 16 record's text as the physical records cut it
    terminated: bool = False  # the last physical record ended with "/": what follows is a new piece of text
    chars: int = 0  # its length with its continuations, bounded by the budget
    # The text's parts and separators, joined once at the end: joining as the 88s come would copy the text
    # so far for every one of them, quadratic in a record's continuations.
    _text: list[str] | None = None
    _text_chars: int = 0

    @property
    def text(self) -> str | None:
        """A 16 record's text, with its 88 continuations; None before its text field starts."""
        return None if self._text is None else "".join(self._text)

    @property
    def in_text(self) -> bool:
        """Its text field has started: what an 88 brings is more text."""
        return self._text is not None

    @property
    def has_text(self) -> bool:
        return self._text_chars > 0

    def start_text(self, text: str) -> None:
        self._text, self.pieces, self._text_chars = [text], [text], len(text)

    def add_text(self, piece: str, separator: str = "") -> None:
        if self._text is None:
            raise InvariantBroken(f"line {self.line}: text added to a {self.code} record before its text field started")
        if separator and self._text_chars:
            self._text.append(separator)
        self._text.append(piece)
        self.pieces.append(piece)
        self._text_chars += len(piece)


@dataclass(slots=True)
class Detail:
    type_code: str
    amount: str
    funds_type: str
    value_date: str | None
    bank_reference: str
    customer_reference: str
    text: str
    line: int
    pieces: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Account:
    number: str
    currency: str | None
    summaries: list[tuple[str, str, str]]  # (type code, amount, item count)
    details: list[Detail] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class Group:
    receiver: str
    originator: str
    as_of_date: str
    as_of_time: str
    currency: str | None
    modifier: str
    accounts: list[Account] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class File:
    sender: str
    receiver: str
    created_date: str
    created_time: str
    groups: list[Group] = field(default_factory=list)
    # Trailers whose record count or control total disagrees with the records: the file is whole (every
    # trailer came), so its records are converted, and each disagreement is reported beside them.
    problems: list[FieldError] = field(default_factory=list)


def physical_records(text: str) -> Iterator[tuple[int, str]]:
    """(line number, record text) of every physical record, in order, read lazily: the text is held once."""
    for number, raw in enumerate(io.StringIO(text, newline=None), 1):  # CR, LF or CRLF line ends alike
        line = raw.strip()
        if line:
            yield from ((number, piece.strip()) for piece in _RECORD_START.split(line) if piece.strip())


def logical_records(text: str, budget: Budget) -> Iterator[Record]:
    """Each record with its 88 continuations joined, yielded once the next record starts."""
    current: Record | None = None
    for number, raw in physical_records(text):
        code = raw[:2]
        if code == "88" and raw[2:3] == ":":
            raw = "88," + raw[3:]  # "88:EREF: ..." as one bank writes its continuations: unambiguous
        if (code not in CODES or raw[2:3] != ",") and current is not None and current.code == "16" and current.has_text:
            _count(current, raw, number, budget)
            current.add_text(raw.removesuffix("/"))  # a 16 record's text wrapped onto a line of its own
            continue
        if code not in CODES or raw[2:3] != ",":
            raise FieldError("record", f"line {number}: not a BAI2 record (01,02,03,16,49,88,98,99): {raw[:20]!r}")
        body = raw[3:]
        if code == "88":
            if current is None:
                raise FieldError("88", f"line {number}: a continuation record before any record")
            _count(current, raw, number, budget)
            _continue(current, body)
            continue
        if current is not None:
            yield current
        current = Record(code, number, [], terminated=raw.endswith("/"))
        _count(current, raw, number, budget)
        if code == "16":
            current.fields = body.removesuffix("/").split(",")
            _start_text(current)
        else:
            current.fields = body.rstrip().removesuffix("/").split(",")
    if current is not None:
        yield current


def _count(record: Record, raw: str, number: int, budget: Budget) -> None:
    """One more physical record read into `record`: counted, and the logical record's length bounded."""
    record.chars += len(raw)
    where = f"line {number}" if number == record.line else f"line {number} (the {record.code} of line {record.line})"
    budget.record(record.chars, where)


def _start_text(record: Record) -> None:
    """Once a 16 record has all the fields before its text, the rest is text (commas in it included)."""
    start = _text_index(record.fields)
    if len(record.fields) >= start:
        record.start_text(",".join(record.fields[start:]))
        record.fields = record.fields[:start]


def _text_index(fields: list[str]) -> int:
    """Where a 16 record's text starts: after type, amount, funds type and its details, bank and customer ref."""
    funds = fields[2].strip().upper() if len(fields) > 2 else ""
    return 3 + _availability_fields(funds, fields[3] if len(fields) > 3 else "") + 2


def _availability_fields(funds: str, count: str) -> int:
    """How many fields follow a funds type: S immediate/one-day/two-day amounts, V value date and time,
    D a count of (days, amount) distributions and the distributions; none for the others."""
    if funds == "D" and _DISTRIBUTIONS.fullmatch(count.strip()):
        return 1 + 2 * int(count)
    return {"S": 3, "V": 2}.get(funds, 0)


def _continue(record: Record, body: str) -> None:
    record.physical += 1
    if record.code == "16":
        if record.in_text:
            # After a "/" the text goes on as a new piece; without one the line was cut mid-word (NatWest).
            record.add_text(body.removesuffix("/"), " " if record.terminated else "")
            record.terminated = body.endswith("/")
            return
        record.fields += body.removesuffix("/").split(",")
        _start_text(record)
        return
    record.fields += body.rstrip().removesuffix("/").split(",")  # "...,190/" + "88,500000,,,": fields go on


def parse(text: str, budget: Budget | None = None) -> File:
    reader = _Reader(logical_records(text, budget or unlimited()))
    if reader.peek() != "01":
        raise FieldError("01", "line 1: a BAI2 file starts with a 01 file header")
    found = reader.file()
    if reader.last is None:
        raise InvariantBroken("a whole file was read, yet no record was taken from it")
    _check_last_record_ends(text, reader.last)
    return found


def _check_last_record_ends(text: str, last: Record) -> None:
    """A record ends with "/" (or, at one bank, the line break after it): a file ending inside its last
    record was cut off there, however well the records before it nest."""
    if not text.rstrip(_AFTER_LAST_RECORD).endswith(("/", "\n", "\r")):
        raise FieldError(
            last.code,
            f"line {last.line}: the file ends inside its last record ({last.code}), without its '/' (cut off?)",
        )


class _Reader:
    """Walks the records in their nesting, checking each trailer's record count and control total. The
    records come one at a time (one looked ahead), so they are never all held at once: only what they say."""

    def __init__(self, records: Iterator[Record]) -> None:
        self.records = records
        self.ahead: Record | None = next(records, None)
        self.last: Record | None = None  # the record taken before `ahead`
        self.problems: list[FieldError] = []

    def _next(self, *codes: str) -> Record:
        due = "/".join(codes)
        record = self.ahead
        if record is None:
            line = self.last.line if self.last is not None else 1
            raise FieldError(due, f"after line {line}: the file ends where a {due} record was due (cut off?)")
        if record.code not in codes:
            raise FieldError(due, f"line {record.line}: expected a {due} record, found {record.code}")
        self.last, self.ahead = record, next(self.records, None)
        return record

    def peek(self) -> str | None:
        return self.ahead.code if self.ahead is not None else None

    def file(self) -> File:
        header = self._next("01")
        head = header.fields + [""] * 4
        found = File(head[0], head[1], head[2], head[3])
        total, groups, count = Decimal(0), 0, header.physical
        while self.peek() == "02":
            group, group_total, group_count = self.group()
            found.groups.append(group)
            total += group_total
            groups += 1
            count += group_count
        trailer = self._next("99")
        count += trailer.physical
        self.problems += _check(trailer, total, count, "file", groups)
        found.problems = self.problems
        if self.ahead is not None:
            extra = self.ahead
            raise FieldError(extra.code, f"line {extra.line}: record {extra.code} after the file trailer (99)")
        return found

    def group(self) -> tuple[Group, Decimal, int]:
        header = self._next("02")
        head = header.fields + [""] * 7
        group = Group(head[0], head[1], head[3], head[4], head[5] or None, head[6], line=header.line)
        total, accounts, count = Decimal(0), 0, header.physical
        while self.peek() == "03":
            account, account_total, account_count = self.account()
            group.accounts.append(account)
            total += account_total
            accounts += 1
            count += account_count
        trailer = self._next("98")
        count += trailer.physical
        self.problems += _check(trailer, total, count, "group", accounts)
        return group, total, count

    def account(self) -> tuple[Account, Decimal, int]:
        header = self._next("03")
        fields = header.fields
        summaries, total = _summaries(fields[2:], header.line)
        account = Account(
            fields[0].strip(), (fields[1].strip() if len(fields) > 1 else "") or None, summaries, line=header.line
        )
        count = header.physical
        while self.peek() == "16":
            record = self._next("16")
            detail = _detail(record)
            account.details.append(detail)
            total += _amount(detail.amount, record.line, "16.amount")
            count += record.physical
        trailer = self._next("49")
        count += trailer.physical
        self.problems += _check(trailer, total, count, f"account {account.number}")
        return account, total, count


def _summaries(fields: list[str], line: int) -> tuple[list[tuple[str, str, str]], Decimal]:
    """(type code, amount, item count) of an 03 record's status and summary triples, and their sum."""
    found, total, at = [], Decimal(0), 0
    while at < len(fields):
        code = fields[at].strip()
        if not code:
            at += 1  # "03,107049924,USD,,,,,060,...": empty fields between the triples carry nothing
            continue
        amount = fields[at + 1].strip() if at + 1 < len(fields) else ""
        count = fields[at + 2].strip() if at + 2 < len(fields) else ""
        funds = fields[at + 3].strip().upper() if at + 3 < len(fields) else ""
        found.append((code, amount, count))
        if amount:
            total += _amount(amount, line, f"03.{code}")
        at += 4 + _availability_fields(funds, fields[at + 4] if at + 4 < len(fields) else "")
    return found, total


def _detail(record: Record) -> Detail:
    fields = record.fields + [""] * 8
    funds = fields[2].strip().upper()
    value_date = fields[3].strip() if funds == "V" else None
    start = _text_index(record.fields)
    return Detail(
        type_code=fields[0].strip(),
        amount=fields[1].strip(),
        funds_type=funds,
        value_date=value_date or None,
        bank_reference=fields[start - 2].strip(),
        customer_reference=fields[start - 1].strip(),
        text=(record.text or "").strip(),
        line=record.line,
        pieces=[piece.strip() for piece in record.pieces if piece.strip()],
    )


def _amount(raw: str, line: int, field: str) -> Decimal:
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", text or "0"):
        raise FieldError(field, f"line {line}: not a BAI2 amount (an integer in minor units): {raw!r}")
    return Decimal(text or "0")


def _counts(stated: str, found: int) -> bool:
    """A trailer's count is a number: Bank of America's pads it with zeros (0001284 for 1284)."""
    return stated.isascii() and stated.isdigit() and int(stated) == found


def _check(trailer: Record, total: Decimal, count: int, what: str, children: int | None = None) -> list[FieldError]:
    """What a trailer states that its records do not bear out: control total, number of children, of records."""
    fields = trailer.fields + ["", "", ""]
    problems = []
    stated_total = _amount(fields[0], trailer.line, f"{trailer.code}.control_total")
    if stated_total != total:
        problems.append(
            FieldError(
                f"{trailer.code}.control_total",
                f"line {trailer.line}: {what} control total {stated_total} but the amounts add up to {total}",
            )
        )
    if children is not None:
        stated_children = fields[1].strip()
        if stated_children and not _counts(stated_children, children):
            problems.append(
                FieldError(
                    f"{trailer.code}.count",
                    f"line {trailer.line}: {what} trailer says {stated_children}, found {children}",
                )
            )
    stated_records = (fields[2] if children is not None else fields[1]).strip()
    if stated_records and not _counts(stated_records, count):
        problems.append(
            FieldError(
                f"{trailer.code}.records",
                f"line {trailer.line}: {what} trailer says {stated_records} records, found {count}",
            )
        )
    return problems
