"""Reading the inputs: one JSONL file per stream and the bank and AP files of `bank/`, merged into one event-time order.

Each record is decoded and validated as it is read, so only a valid event's time decides the order. A
record that fails sorts right after the previous record of its own source: a garbage or future-dated bad
line can never hold back the valid events behind it. A valid event older than the one before it in its
source is a late event: it keeps its place (its sort time is the source's latest so far), and its own
event time is what the engine sees.

Sources: `<stream>.jsonl` for each stream present, then every visible file directly inside `bank/` (a
drop folder, in name order), whatever its format: pain.002, camt.05x, MT940/942, BAI2, UBL, CSV or JSON
rows; with a case store, the events people's actions made there (a manual match). A bank file's events
join the merge on the stream each event belongs to; a record it cannot convert (or a file in no format
we read) becomes a bad record like a bad JSONL line. Nothing else in the folder is read (labels.json,
notes).
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple, Protocol

import orjson
from reconstream.models.base import to_micros
from reconstream.models.errors import InvariantBroken
from reconstream.models.events import MALFORMED, SCHEMA_VIOLATION, STREAM_ORDER, Event, EventError, Stream, parse

from .formats.canonical import IngestError, IngestOptions, IngestResult
from .formats.detect import detect
from .formats.ingest import expand, ingest_file, stream_of

BANK_DIR = "bank"
EAGER_BYTES = 1 << 20  # a bank file up to this size is converted whole when first read; a bigger one is streamed
END_OF_INPUT = 1 << 62  # the sort time of what has no time of its own and nothing behind it: after every event
INGEST_ERROR = b'{"ingest_error":'  # how a bank file's conversion error travels as a record (see carried_error)
# The stream a file's conversion errors go on before it has given any event: what its format usually carries.
_FORMAT_STREAMS = {"pain002": Stream.BANK_ACKS, "ubl": Stream.INVOICES, "csv": Stream.INVOICES, "json": Stream.INVOICES}


def file_name(stream: Stream) -> str:
    return f"{stream.value}.jsonl"


@dataclass(frozen=True, slots=True)
class Position:
    """How far one source has been consumed; what a checkpoint remembers per source name.

    A JSONL file: the byte offset and line number reached. A bank file: `line` records converted and
    consumed (offset stays 0: the converters expose no byte offset, and the file is converted again on
    resume). `time_us` is the source's latest valid event time, its sort time so far.
    """

    offset: int = 0
    line: int = 0
    time_us: int = 0


class InputLine(NamedTuple):
    key: tuple[int, int, int]  # (event time, stream rank, line or record number): a total, repeatable order
    stream: Stream
    raw: bytes
    event: Event | None
    error: EventError | None
    after: Position
    name: str  # the source: "<stream>.jsonl" or "bank/<file>"; positions are kept per name
    at: int | str  # line number, or the record's position inside a bank file ("Ntfctn1.Ntry2", "row4")

    @property
    def source(self) -> str:
        return f"{self.name}:{self.at}"

    @property
    def time_us(self) -> int:
        """What a refused record is dated at: its sort time, or 0 (the engine's watermark) at END_OF_INPUT."""
        return 0 if self.key[0] >= END_OF_INPUT else self.key[0]


def classify(raw: bytes, stream: Stream, last_time_us: int) -> tuple[Event | None, EventError | None, int]:
    """(event, error, sort time): one input record of a stream whose latest valid event time so far is given.

    Both shells order their inputs with this rule, which is what makes their outputs agree.
    """
    try:
        event = parse(raw, stream)
    except EventError as error:
        return None, carried_error(raw) or error, last_time_us
    return event, None, max(last_time_us, to_micros(event.event_time))


def conversion_error(name: str, error: IngestError) -> bytes:
    """A bank file's conversion error as a record: the dead letter's raw text, also on a Kafka topic."""
    fields = {"file": name, "position": error.position, "field": error.field, "reason": error.reason}
    return orjson.dumps({"ingest_error": {**fields, "category": error.category}})


def carried_error(raw: bytes) -> EventError | None:
    """The converter's own field and reason for a record made by `conversion_error`, so that both shells
    dead-letter it the same way (the Kafka worker classifies topic records with `classify` too)."""
    if not raw.startswith(INGEST_ERROR):
        return None
    try:
        carried = orjson.loads(raw)["ingest_error"]
        category, field, reason = carried["category"], carried["field"], carried["reason"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if category not in (MALFORMED, SCHEMA_VIOLATION) or not isinstance(field, str) or not isinstance(reason, str):
        return None  # a look-alike someone wrote by hand: refused with the ordinary reason
    return EventError(category, field, reason)


# A record read before its source gave any time to sort by, built once that time is known: given the time and
# the stream of the record it waited for (None at the end of the source), the record as it then sorts.
Early = Callable[[int, Stream | None], InputLine]


def _dated_in_turn(records: Iterable[InputLine | Early]) -> Iterator[InputLine]:
    """A source's records in order, those read before its first dated record (refused ones: they have no time
    of their own) held back until it comes and then sorted just before it, else after every event of the run
    (END_OF_INPUT). So their exceptions are dated in the run's time rather than at the epoch, and a garbage
    line at the top of a file never sorts ahead of the run's events."""
    waiting: list[Early] = []
    for record in records:
        if not isinstance(record, InputLine):
            waiting.append(record)
            continue
        for early in waiting:
            yield early(record.key[0], record.stream)
        waiting = []
        yield record
    for early in waiting:
        yield early(END_OF_INPUT, None)


def read_stream(path: Path, stream: Stream, start: Position) -> Iterator[InputLine]:
    return _dated_in_turn(_stream_lines(path, stream, start))


def _stream_lines(path: Path, stream: Stream, start: Position) -> Iterator[InputLine | Early]:
    rank, name = STREAM_ORDER[stream.value], file_name(stream)
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
            after = Position(offset, line_no, last_time)
            line = InputLine((last_time, rank, line_no), stream, raw, event, error, after, name, line_no)
            yield line if last_time else partial(_redated, line)


def _redated(line: InputLine, time_us: int, _stream: Stream | None) -> InputLine:
    return line._replace(key=(time_us, line.key[1], line.key[2]))


def read_bank_file(path: Path, name: str, start: Position, options: IngestOptions | None = None) -> Iterator[InputLine]:
    """The converted records of one bank or AP file, after the `start.line` already consumed.

    A bank file is immutable, so converting it again gives the same records in the same order: a resume
    converts it again and skips what was consumed. Each event travels as its canonical JSONL line, so it
    is read exactly like a JSONL event (and `recon produce` sends those bytes). A record that fails before
    the file's first event waits for that event (`_dated_in_turn`) and goes on that event's stream.
    """
    return _dated_in_turn(_bank_records(path, name, start, options))


def _bank_records(path: Path, name: str, start: Position, options: IngestOptions | None) -> Iterator[InputLine | Early]:
    results: Iterable[IngestResult] = ingest_file(path, "auto", options)
    if _small(path):
        results = list(results)  # converted at once and closed: a folder of thousands never holds them all open
    stream: Stream | None = None
    last_time = start.time_us
    for number, result in enumerate(results, 1):
        if result.event is not None:
            stream = stream_of(result.event)
        if number <= start.line:
            continue
        if result.event is None and last_time == 0:  # no valid event read from this file yet
            yield partial(_early_bank_line, path, name, number, result, stream)
            continue
        line = _bank_line(path, name, number, result, stream, last_time)
        last_time = line.after.time_us
        yield line


def _early_bank_line(
    path: Path, name: str, number: int, result: IngestResult, seen: Stream | None, time_us: int, stream: Stream | None
) -> InputLine:
    line = _bank_line(path, name, number, result, stream or seen, 0)
    return line._replace(key=(time_us, line.key[1], number))


def _bank_line(
    path: Path, name: str, number: int, result: IngestResult, stream: Stream | None, last_time: int
) -> InputLine:
    if result.event is not None:
        raw = orjson.dumps(result.event)
    elif result.error is not None:
        raw = conversion_error(name, result.error)
    else:
        raise InvariantBroken(f"{name}: record {number} converted to neither an event nor an error")
    stream = stream or _fallback_stream(path)
    event, error, last_time = classify(raw, stream, last_time)
    after = Position(0, number, last_time)
    return InputLine(
        (last_time, STREAM_ORDER[stream.value], number), stream, raw, event, error, after, name, result.position
    )


def _small(path: Path) -> bool:
    try:
        return path.stat().st_size <= EAGER_BYTES
    except OSError:
        return True  # gone or unreadable: ingest_file reports it at once


def _fallback_stream(path: Path) -> Stream:
    try:
        return _FORMAT_STREAMS.get(detect(path), Stream.SETTLEMENTS)
    except Exception:  # the error itself is already reported by ingest_file; this only picks its stream
        return Stream.SETTLEMENTS


CASE_EVENTS = "cases/engine_events"  # the source name of the events people's actions made (a manual match)


class CaseEvents(Protocol):
    """Where the events people's actions made are kept: the case store (shells/cases/store.py)."""

    def engine_events_after(self, seq: int, limit: int = 1000) -> list[tuple[int, str, bytes]]: ...


def read_case_events(feed: CaseEvents, start: Position) -> Iterator[InputLine]:
    """The case store's events after `start.line` (a timeline seq), as they stand when the run reads them:
    each is read like a JSONL line of its stream, so a bad one is dead-lettered the same way."""
    seq, last_time = start.line, start.time_us
    while batch := feed.engine_events_after(seq):
        for seq, stream_name, raw in batch:
            line = fed_line(raw, Stream(stream_name), seq, last_time, CASE_EVENTS)
            last_time = line.after.time_us
            yield line


def fed_line(raw: bytes, stream: Stream, seq: int, last_time_us: int, source: str) -> InputLine:
    """An event a feed numbered (the case store's, the posting queue's verdicts) as the input line a JSONL line
    of its stream would be."""
    event, error, time_us = classify(raw, stream, last_time_us)
    key = (time_us, STREAM_ORDER[stream.value], seq)
    return InputLine(key, stream, raw, event, error, Position(0, seq, time_us), source, seq)


def bank_files(input_dir: Path) -> list[Path]:
    """The files of `bank/`: visible files directly inside it, in name order (as `recon ingest DIR` reads)."""
    folder = input_dir / BANK_DIR
    return expand([folder]) if folder.is_dir() else []


def merged(
    input_dir: Path,
    start: Mapping[str, Position],
    options: IngestOptions | None = None,
    cases: CaseEvents | None = None,
) -> Iterator[InputLine]:
    """Every source, merged by (event time, stream rank, line number); `start` maps source names to positions.

    On equal keys the JSONL files come first (in stream order), then the bank files in name order, then the
    case store's events: heapq.merge is stable, so the order stays total and repeatable, and resuming from
    saved positions continues it exactly.
    """
    readers = [
        read_stream(input_dir / file_name(stream), stream, start.get(file_name(stream), Position()))
        for stream in Stream
        if (input_dir / file_name(stream)).exists()
    ]
    for path in bank_files(input_dir):
        name = f"{BANK_DIR}/{path.name}"
        readers.append(read_bank_file(path, name, start.get(name, Position()), options))
    if cases is not None:
        readers.append(read_case_events(cases, start.get(CASE_EVENTS, Position())))
    readers.append(read_misnamed(input_dir, start))
    return heapq.merge(*readers, key=lambda line: line.key)


# Files an operator meant as input but named so that nothing reads them: a JSONL file that is not a stream's,
# a bank file beside the streams instead of in bank/. Other files (labels.json, a README) are not input.
_BANK_SUFFIXES = frozenset({".xml", ".sta", ".mt940", ".940", ".942", ".bai", ".bai2", ".csv", ".zip", ".txt"})


def misnamed_files(input_dir: Path) -> list[Path]:
    streams = {file_name(stream) for stream in Stream}
    return sorted(
        path
        for path in input_dir.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and path.name not in streams
        and (path.suffix == ".jsonl" or path.suffix.lower() in _BANK_SUFFIXES)
    )


def read_misnamed(input_dir: Path, start: Mapping[str, Position]) -> Iterator[InputLine]:
    """Each misnamed file as one refused record, so that it is reported instead of silently ignored."""
    names = [file_name(stream) for stream in Stream]
    for path in misnamed_files(input_dir):
        if start.get(path.name, Position()).line:
            continue
        guess = difflib.get_close_matches(path.name, names, n=1)
        if path.suffix == ".jsonl":
            hint = f"did you mean {guess[0]}? " if guess else ""
            reason = f"not an input stream, so nothing in it was read: {hint}the streams are {', '.join(names)}"
        else:
            reason = f"looks like a bank file, but bank files are read from {BANK_DIR}/: nothing in it was read"
        stream = Stream(guess[0].removesuffix(".jsonl")) if guess else Stream.SETTLEMENTS
        error = EventError(SCHEMA_VIOLATION, "<file>", reason)
        raw = orjson.dumps({"file": path.name})
        after = Position(0, 1, 0)
        yield InputLine((END_OF_INPUT, STREAM_ORDER[stream.value], 0), stream, raw, None, error, after, path.name, 0)


def total_bytes(input_dir: Path) -> int:
    """The JSONL bytes to read: what progress is measured in (bank files report no byte offsets)."""
    return sum((input_dir / file_name(s)).stat().st_size for s in Stream if (input_dir / file_name(s)).exists())
