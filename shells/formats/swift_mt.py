"""SWIFT MT94x text as tags: the envelope, headers and separators banks wrap around it taken off.

Banks deliver MT940/942 with SWIFT blocks (`{1:...}{2:...}{4:` ... `-}`), as bare tags, with their own
header lines ("0000 01INGBNL2AXXXX00001", ":940:") and separators ("-XXX-----", "-"). A tag starts a line
as `:NN:` or `:NNa:`; every other line continues the tag before it. A tag may repeat (the old Rabobank
layout writes `:86:` once per line). Each tag keeps its first line number, so errors name the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_BLOCK_START = re.compile(r"^\{\d:")
_BLOCK_4 = re.compile(r"\{4:\s*$")
_FRAMING = "\x01\x02\x03\x1a"  # SOH/STX/ETX framing and a DOS end-of-file byte glued to a line
_SEPARATOR = re.compile(r"^-\}?$|^-[-X]+$")


@dataclass
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


@dataclass
class Message:
    """One statement (or interim report): its tags in order."""

    tags: list[Tag] = field(default_factory=list)

    def first(self, *names: str) -> Tag | None:
        return next((tag for tag in self.tags if tag.name in names), None)


def read_tags(text: str) -> list[Message]:
    """Messages (split at each `:20:`) of tags, with continuation lines attached."""
    messages: list[Message] = []
    current: Tag | None = None
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.rstrip().lstrip(_FRAMING)
        if _BLOCK_START.match(line):
            current = None
            tail = _BLOCK_4.split(line)
            if len(tail) > 1 and tail[-1].strip():
                line = tail[-1]  # a tag on the same line as {4:
            else:
                continue
        if not line.strip():
            continue  # a padding line (ASN fills :86: with blank 65-character lines): the tag goes on after it
        if _SEPARATOR.match(line.strip()):
            current = None
            continue
        found = _TAG.match(line)
        if found is not None:
            current = Tag(found.group(1), number, [found.group(2)])
            if current.name == "20" or not messages:
                messages.append(Message())
            messages[-1].tags.append(current)
        elif current is not None:
            current.lines.append(line)
        # else: a bank's own header line before the first tag of a message ("940 00"): not part of it
    return messages
