"""SWIFT MT94x text as tags: the envelope, headers and separators banks wrap around it taken off.

Banks deliver MT940/942 with SWIFT blocks (`{1:...}{2:...}{4:` ... `-}`), as bare tags, with their own
header lines ("0000 01INGBNL2AXXXX00001", ":940:") and separators ("-XXX-----", "-"). A tag starts a line
as `:NN:` or `:NNa:`; every other line continues the tag before it. A tag may repeat (the old Rabobank
layout writes `:86:` once per line). Each tag keeps its first line number, so errors name the line.

What shows that a file arrived whole is read here too (SWIFT User Handbook, FIN: block 4, the text block,
opens with `{4:` and closes with `-}`; a message's text ends with a `-` line where no block encloses it):
a block 4 opened and never closed, or a file that ends each message with a `-` line but not its last
one, was cut off inside its last message, and is refused naming that message's line. So is a file whose
last line has no line break after it and is not complete by itself (an end line, a trailer block, or a
balance with its decimal comma, which the SWIFT amount format makes mandatory): a cut rarely falls on a
line break. A bare file without end lines has no other mark: its statements' balances are what shows it
whole (mt940.py), and a file cut exactly between two statements reads as a file with fewer of them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from .budget import Budget, unlimited
from .canonical import FieldError

_TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_BLOCK_START = re.compile(r"^\{\d:")
_BLOCK_4 = re.compile(r"\{4:\s*$")
_FRAMING = "\x01\x02\x03\x1a"  # SOH/STX/ETX framing and a DOS end-of-file byte glued to a line
# The end of a message's text: "-}" closing block 4 (trailer blocks may follow on the line: "-}{5:}"), or a
# "-" line, which some banks write as "-XXX" or pad with dashes. A file passed through a code page conversion
# on its way may carry the dash as another dash character (ING's "-XXX" arrives as a soft hyphen and "XXX")
# or a stray non-ASCII character after it (Handelsbanken's "-å"): no tag's text line looks like either.
_DASH = "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_END_LINE = rf"^[{_DASH}](?:[-X]+|[^\x00-\x7f]{{1,2}})?$"
_BLOCK_END = re.compile(r"^-\}")
_SEPARATOR = re.compile(rf"^-\}}|{_END_LINE}")
# A last line complete by itself, line break or not: an end line, a trailer block, a balance whose amount
# has its decimal comma (a point at old Rabobank), or an MT942's count and sum of its entries (:90D:, :90C:).
_COMPLETE_LINE = re.compile(
    rf"^-\}}|{_END_LINE}|^\{{.*\}}$|^:(?:60F|60M|62F|62M|64|65):[CD]\d{{6}}[A-Z]{{3}} ?\d+[,.]\d*$"
    r"|^:90[CD]:\d+[A-Z]{3}\d+[,.]\d*$"
)


@dataclass(slots=True)
class Tag:
    name: str
    line: int
    lines: list[str] = field(default_factory=list)

    @property
    def first(self) -> str:
        return self.lines[0] if self.lines else ""

    @property
    def joined(self) -> str:
        """The value with its line breaks removed: fields wrap at fixed widths, words and numbers too."""
        return "".join(self.lines)

    @property
    def spaced(self) -> str:
        return " ".join(part.strip() for part in self.lines if part.strip())


@dataclass(slots=True)
class Message:
    """One statement (or interim report): its tags in order."""

    tags: list[Tag] = field(default_factory=list)
    ended: bool = False  # an end line ("-}", "-") came after its tags

    @property
    def line(self) -> int:
        return self.tags[0].line if self.tags else 0

    def first(self, *names: str) -> Tag | None:
        return next((tag for tag in self.tags if tag.name in names), None)


def read_tags(text: str, budget: Budget | None = None) -> list[Message]:
    """Messages (split at each `:20:`) of tags, with continuation lines attached; a file cut off inside a
    message its framing encloses is refused (FieldError)."""
    reading = _Reading(budget or unlimited())
    for number, raw in enumerate(io.StringIO(text, newline=None), 1):  # CR, LF or CRLF line ends alike
        reading.line(number, raw)
    return reading.finish()


@dataclass
class _Reading:
    """The state of reading a file's lines into messages and tags."""

    budget: Budget
    messages: list[Message] = field(default_factory=list)
    current: Tag | None = None  # the tag further lines continue
    chars: int = 0  # the current tag's length with its lines, bounded like one record
    block: int | None = None  # the line an open block 4 started at
    last: tuple[int, str, bool] = (0, "", True)  # the last line with text: number, text, ended by a line break

    def line(self, number: int, raw: str) -> None:
        line = raw.rstrip().lstrip(_FRAMING)
        self.budget.record(len(line), f"line {number}")
        if not line.strip():
            return  # a padding line (ASN fills :86: with blank 65-character lines): the tag goes on after it
        self.last = (number, line.strip().rstrip(_FRAMING), raw.endswith("\n"))
        if _BLOCK_START.match(line):
            self._block(number, line)
        elif _SEPARATOR.match(line.strip().rstrip(_FRAMING)):
            self._end(line)
        else:
            self._text(number, line)

    def _block(self, number: int, line: str) -> None:
        """`{1:...}{2:...}{4:` opens a message's blocks; `{5:...}` trails a closed one."""
        _check_closed(self.block, f"a new message starts at line {number}")
        self.current = None
        if _BLOCK_4.search(line):
            self.block = number

    def _end(self, line: str) -> None:
        if self.messages:
            self.messages[-1].ended = True
        if _BLOCK_END.match(line.strip()):
            self.block = None
        self.current = None

    def _text(self, number: int, line: str) -> None:
        found = _TAG.match(line)
        if found is not None:
            self.current = Tag(found.group(1), number, [found.group(2)])
            self.chars = len(line)
            if self.current.name == "20" or not self.messages:
                self.messages.append(Message())
            self.messages[-1].tags.append(self.current)
        elif self.current is not None:
            self.current.lines.append(line)
            self.chars += len(line)
            self.budget.check_size(self.chars, f"line {number} (the :{self.current.name}: of line {self.current.line})")
        # else: a bank's own header line before the first tag of a message ("940 00"): not part of it

    def finish(self) -> list[Message]:
        _check_closed(self.block, "the file ends")
        _check_last_ended(self.messages)
        _check_last_line(*self.last)
        return self.messages


def _check_closed(block: int | None, then: str) -> None:
    if block is not None:
        raise FieldError("-}", f"line {block}: block 4 opened there is not closed by '-}}' before {then} (cut off?)")


def _check_last_ended(messages: list[Message]) -> None:
    """Where a file ends each of its messages with a "-" line, a last message without one was cut off. Not
    every bank ends every message (a Sparkasse file ends its statements but not their pages), so this holds
    only where all the others are ended, and not where the last message ends in a whole closing tag: a file
    whose writer left off the last end line (an MT942 ending in its :90C: sum, railslove/cmxl's sample)."""
    last = messages[-1] if messages else None
    if last is None or last.ended or _closed(last) or len(messages) == 1:
        return
    if all(message.ended for message in messages[:-1]):
        raise FieldError(
            "-",
            f"line {messages[-1].line}: the file's last message has no end line ('-') as its others have (cut off?)",
        )


_CLOSING_TAGS = {"62F", "62M", "64", "65", "90C"}  # the last tags of an MT940 (:86: aside) and of an MT942


def _closed(message: Message) -> bool:
    tag = message.tags[-1] if message.tags else None
    return tag is not None and tag.name in _CLOSING_TAGS and bool(_COMPLETE_LINE.search(f":{tag.name}:{tag.joined}"))


def _check_last_line(number: int, line: str, broken: bool) -> None:
    """A file's last line ends with a line break, or is complete by itself; otherwise the file was cut there."""
    if broken or not line or _COMPLETE_LINE.search(line):
        return
    tag = _TAG.match(line)
    raise FieldError(
        f":{tag.group(1)}:" if tag else "<line>",
        f"line {number}: the file ends inside this line, without a line break (cut off?): {line[:30]!r}",
    )
