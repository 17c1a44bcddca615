"""Reading the input streams: one JSONL file per stream, merged into one event-time order.

Each line is decoded and validated as it is read, so only a valid event's time decides the order. A
line that fails sorts right after the previous line of its own file: a garbage or future-dated bad line
can never hold back the valid events behind it. A valid event older than the one before it in its file
is a late event: it keeps its place in the file (its sort time is the file's latest so far), and its
own event time is what the engine sees.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from reconstream.models.base import to_micros
from reconstream.models.events import STREAM_ORDER, Event, EventError, Stream, parse


def file_name(stream: Stream) -> str:
    return f"{stream.value}.jsonl"


@dataclass(frozen=True, slots=True)
class Position:
    """How far one input file has been consumed; what a checkpoint remembers per stream."""

    offset: int = 0
    line: int = 0
    time_us: int = 0


class InputLine(NamedTuple):
    key: tuple[int, int, int]  # (event time, stream rank, line number): a total, repeatable order
    stream: Stream
    raw: bytes
    event: Event | None
    error: EventError | None
    after: Position

    @property
    def source(self) -> str:
        return f"{file_name(self.stream)}:{self.after.line}"


def classify(raw: bytes, stream: Stream, last_time_us: int) -> tuple[Event | None, EventError | None, int]:
    """(event, error, sort time): one input record of a stream whose latest valid event time so far is given.

    Both shells order their inputs with this rule, which is what makes their outputs agree.
    """
    try:
        event = parse(raw, stream)
    except EventError as error:
        return None, error, last_time_us
    return event, None, max(last_time_us, to_micros(event.event_time))


def read_stream(path: Path, stream: Stream, start: Position) -> Iterator[InputLine]:
    rank = STREAM_ORDER[stream.value]
    offset, line_no, last_time = start.offset, start.line, start.time_us
    with path.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            offset += len(raw)
            line_no += 1
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue  # blank lines carry nothing; skipping them loses nothing
            event, error, last_time = classify(raw, stream, last_time)
            yield InputLine((last_time, rank, line_no), stream, raw, event, error, Position(offset, line_no, last_time))


def merged(input_dir: Path, start: dict[Stream, Position]) -> Iterator[InputLine]:
    """Every present stream file, merged by (event time, stream rank, line number)."""
    readers = [
        read_stream(input_dir / file_name(stream), stream, start.get(stream, Position()))
        for stream in Stream
        if (input_dir / file_name(stream)).exists()
    ]
    return heapq.merge(*readers, key=lambda line: line.key)


def total_bytes(input_dir: Path) -> int:
    return sum((input_dir / file_name(s)).stat().st_size for s in Stream if (input_dir / file_name(s)).exists())
