"""BAI2 records as banks send them: `/`-terminated, newline- or space-separated, continued by `88` records.

A record is `code,field,field.../`; a logical record continues on `88` records (a transaction's text may
start or go on there, and a summary's fields may be cut anywhere). Some banks put several records on one
physical line. The structure (01 file, 02 group, 03 account, 16 detail, 49/98/99 trailers) and every
trailer's record count and control total are checked before anything is converted: a file that was cut
off, or whose records do not nest, is refused whole, naming the record and line, never half-read; a whole
file whose trailer counts or totals disagree with its records is converted, each disagreement reported.

Written here rather than taken from the `bai2` library: it refuses real banks' files (funds types it does
not know, records split across physical lines) and loops without end on a file cut off mid-record. Its
type-code table is still what says which codes are credits and which debits (bai2.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from .canonical import FieldError

_RECORD_START = re.compile(r"/\s+(?=(?:01|02|03|16|49|88|98|99),)")
CODES = frozenset({"01", "02", "03", "16", "49", "88", "98", "99"})


@dataclass
class Record:
    code: str
    line: int
    fields: list[str]
    physical: int = 1  # physical records it spans (itself and its 88 continuations): what trailers count
    text: str | None = None  # a 16 record's text, with its 88 continuations
    pieces: list[str] = field(default_factory=list)  # that text as the physical records cut it
    terminated: bool = False  # the last physical record ended with "/": what follows is a new piece of text


@dataclass
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


@dataclass
class Account:
    number: str
    currency: str | None
    summaries: list[tuple[str, str, str]]  # (type code, amount, item count)
    details: list[Detail] = field(default_factory=list)
    line: int = 0


@dataclass
class Group:
    receiver: str
    originator: str
    as_of_date: str
    as_of_time: str
    currency: str | None
    modifier: str
    accounts: list[Account] = field(default_factory=list)
    line: int = 0


@dataclass
class File:
    sender: str
    receiver: str
    created_date: str
    created_time: str
    groups: list[Group] = field(default_factory=list)
    # Trailers whose record count or control total disagrees with the records: the file is whole (every
    # trailer came), so its records are converted, and each disagreement is reported beside them.
    problems: list[FieldError] = field(default_factory=list)


def physical_records(text: str) -> list[tuple[int, str]]:
    """(line number, record text) of every physical record, in order."""
    found: list[tuple[int, str]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        found += [(number, piece.strip()) for piece in _RECORD_START.split(line) if piece.strip()]
    return found


def logical_records(text: str) -> list[Record]:
    records: list[Record] = []
    for number, raw in physical_records(text):
        code = raw[:2]
        if code == "88" and raw[2:3] == ":":
            raw = "88," + raw[3:]  # "88:EREF: ..." as one bank writes its continuations: unambiguous
        if (code not in CODES or raw[2:3] != ",") and records and records[-1].code == "16" and records[-1].text:
            records[-1].text += raw.removesuffix("/")  # a 16 record's text wrapped onto a line of its own
            records[-1].pieces.append(raw.removesuffix("/"))
            continue
        if code not in CODES or raw[2:3] != ",":
            raise FieldError("record", f"line {number}: not a BAI2 record (01,02,03,16,49,88,98,99): {raw[:20]!r}")
        body = raw[3:]
        if code == "88":
            if not records:
                raise FieldError("88", f"line {number}: a continuation record before any record")
            _continue(records[-1], body)
            continue
        record = Record(code, number, [], terminated=raw.endswith("/"))
        if code == "16":
            record.fields = body.removesuffix("/").split(",")
            if len(record.fields) >= _text_index(record.fields):
                record.text = ",".join(record.fields[_text_index(record.fields) :])
                record.fields = record.fields[: _text_index(record.fields)]
                record.pieces = [record.text]
        else:
            record.fields = body.rstrip().removesuffix("/").split(",")
        records.append(record)
    return records


def _text_index(fields: list[str]) -> int:
    """Where a 16 record's text starts: after type, amount, funds type and its details, bank and customer ref."""
    funds = fields[2].strip().upper() if len(fields) > 2 else ""
    extra = {"S": 3, "V": 2}.get(funds, 0)
    if funds == "D" and len(fields) > 3 and fields[3].strip().isdigit():
        extra = 1 + 2 * int(fields[3])
    return 3 + extra + 2


def _continue(record: Record, body: str) -> None:
    record.physical += 1
    if record.code == "16":
        if record.text is not None:
            # After a "/" the text goes on as a new piece; without one the line was cut mid-word (NatWest).
            record.text += (" " if record.terminated and record.text else "") + body.removesuffix("/")
            record.pieces.append(body.removesuffix("/"))
            record.terminated = body.endswith("/")
            return
        record.fields += body.removesuffix("/").split(",")
        start = _text_index(record.fields)
        if len(record.fields) >= start:
            record.text = ",".join(record.fields[start:])
            record.fields = record.fields[:start]
            record.pieces = [record.text]
        return
    record.fields += body.rstrip().removesuffix("/").split(",")  # "...,190/" + "88,500000,,,": fields go on


def parse(text: str) -> File:
    records = logical_records(text)
    if not records or records[0].code != "01":
        raise FieldError("01", "line 1: a BAI2 file starts with a 01 file header")
    return _Reader(records).file()


class _Reader:
    """Walks the records in their nesting, checking each trailer's record count and control total."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.at = 0
        self.problems: list[FieldError] = []

    def _next(self, *codes: str) -> Record:
        if self.at >= len(self.records):
            last = self.records[-1]
            due = "/".join(codes)
            raise FieldError(
                due, f"after line {last.line}: the file ends where a {due} record was due (cut off?)"
            )
        record = self.records[self.at]
        if record.code not in codes:
            due = "/".join(codes)
            raise FieldError(due, f"line {record.line}: expected a {due} record, found {record.code}")
        self.at += 1
        return record

    def _peek(self) -> str | None:
        return self.records[self.at].code if self.at < len(self.records) else None

    def file(self) -> File:
        header = self._next("01")
        head = header.fields + [""] * 4
        found = File(head[0], head[1], head[2], head[3])
        total, groups, count = Decimal(0), 0, header.physical
        while self._peek() == "02":
            group, group_total, group_count = self.group()
            found.groups.append(group)
            total += group_total
            groups += 1
            count += group_count
        trailer = self._next("99")
        count += trailer.physical
        self.problems += _check(trailer, total, count, "file", groups)
        found.problems = self.problems
        if self.at != len(self.records):
            extra = self.records[self.at]
            raise FieldError(extra.code, f"line {extra.line}: record {extra.code} after the file trailer (99)")
        return found

    def group(self) -> tuple[Group, Decimal, int]:
        header = self._next("02")
        head = header.fields + [""] * 7
        group = Group(head[0], head[1], head[3], head[4], head[5] or None, head[6], line=header.line)
        total, accounts, count = Decimal(0), 0, header.physical
        while self._peek() == "03":
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
        while self._peek() == "16":
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
        extra = {"S": 3, "V": 2}.get(funds, 0)
        if funds == "D" and at + 4 < len(fields) and fields[at + 4].strip().isdigit():
            extra = 1 + 2 * int(fields[at + 4])
        at += 4 + extra
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
        if stated_children and stated_children != str(children):
            problems.append(
                FieldError(
                    f"{trailer.code}.count",
                    f"line {trailer.line}: {what} trailer says {stated_children}, found {children}",
                )
            )
    stated_records = (fields[2] if children is not None else fields[1]).strip()
    if stated_records and stated_records != str(count):
        problems.append(
            FieldError(
                f"{trailer.code}.records",
                f"line {trailer.line}: {what} trailer says {stated_records} records, found {count}",
            )
        )
    return problems
