"""The converter API: bank and AP files in, canonical JSONL events (or named errors) out.

Nothing a file contains may end a run: every failure, including a converter bug, comes back as an
IngestResult with an error naming the file, the position reached and the field, and the next file goes
on. Results are yielded as they are produced, so a streamed statement is never held in memory. Each
conversion runs against its file's budget (budget.py): a file that would take too long, or hold too many
or too large records, is refused with the bound named, like a file that does not parse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from reconstream.models.errors import InvariantBroken
from reconstream.models.events import EVENT_TYPE_OF, MALFORMED, Stream

from . import archive, bai2, camt, flatfile, mt940, pain002, ubl
from .budget import LimitError
from .canonical import FieldError, IngestError, IngestOptions, IngestResult, SourceFile
from .detect import FORMATS, FormatError, detect
from .safexml import BadXmlError, UnsafeXmlError

Converter = Callable[[SourceFile, IngestOptions], Iterator[IngestResult]]

CONVERTERS: dict[str, tuple[str, Converter]] = {
    "pain002": ("pain.002", pain002.convert),
    "camt052": ("camt.052", partial(camt.convert, expected="camt.052")),
    "camt053": ("camt.053", partial(camt.convert, expected="camt.053")),
    "camt054": ("camt.054", partial(camt.convert, expected="camt.054")),
    "mt940": ("mt940", mt940.convert),
    "mt942": ("mt942", mt940.convert),
    "bai2": ("bai2", bai2.convert),
    "ubl": ("ubl", ubl.convert),
    "csv": ("csv", flatfile.convert_csv),
    "json": ("json", flatfile.convert_json),
}
CHOICES = ("auto", *FORMATS)
_STREAM_OF_TYPE = {event_type: stream for stream, event_type in EVENT_TYPE_OF.items()}
_EXPECTED = (UnsafeXmlError, BadXmlError, FormatError, FieldError, LimitError, OSError, UnicodeDecodeError)


def ingest_file(path: Path | str, format: str = "auto", options: IngestOptions | None = None) -> Iterator[IngestResult]:
    """Canonical events (or errors) from one file; never raises for anything the file contains."""
    path = Path(path)
    options = options or IngestOptions()
    reached = "file"
    try:
        fmt = detect(path) if format == "auto" else format
        if fmt == "zip":  # each member is converted by ingest_file, against a budget of its own
            for result in archive.convert_archive(path, options, ingest_file):
                reached = result.position
                yield result
            return
        if fmt not in CONVERTERS:
            raise FormatError(f"unknown format {fmt!r}; use one of {', '.join(CHOICES)}")
        label, converter = CONVERTERS[fmt]
        budget = options.budget(path.stat().st_size)
        for result in _distinct_lines(budget.run(converter(SourceFile(path, label, budget), options))):
            reached = result.position
            yield result
    except _EXPECTED as exc:
        yield _failure(path, reached, exc)
    except Exception as exc:  # a converter bug is reported like bad input: the other files still convert
        yield _failure(path, reached, exc, unexpected=True)


def _distinct_lines(results: Iterator[IngestResult]) -> Iterator[IngestResult]:
    """A bank line's reference repeated within one file on one account names another line (PostFinance's
    two entries under one AcctSvcrRef, a Finnish entry's two details under one reference): the second is
    `<ref>/2`. The engine books a reference once per account (the same line in a later statement), so
    without it the second line would go unbooked. A file read again numbers its lines the same way."""
    seen: Counter[tuple[str, str]] = Counter()
    for result in results:
        event = result.event
        if event is not None and event["event_type"] == "settlement.booked":
            payload = event["payload"]
            line = (repr(sorted(payload["account"].items())), payload["entry_id"])
            seen[line] += 1
            if seen[line] > 1:
                payload["entry_id"] = f"{payload['entry_id']}/{seen[line]}"
        yield result


def _failure(path: Path, reached: str, exc: Exception, unexpected: bool = False) -> IngestResult:
    position = reached if reached == "file" else f"after {reached}"
    if isinstance(exc, FieldError | LimitError):
        field, reason = exc.field, exc.reason
    elif isinstance(exc, UnsafeXmlError | BadXmlError):
        field, reason = "<xml>", str(exc)
    elif isinstance(exc, FormatError):
        field, reason = "<format>", str(exc)
    else:
        field, reason = "<file>", f"{'unexpected ' if unexpected else ''}{type(exc).__name__}: {exc}"
    error = IngestError(path.name, position, field, reason, MALFORMED)
    return IngestResult(path.name, position, error=error)


def expand(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given, folders as their visible files in name order (one level: a drop folder)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            files.append(path)
    return files


def ingest_paths(
    paths: Iterable[Path | str], format: str = "auto", options: IngestOptions | None = None
) -> Iterator[IngestResult]:
    for path in expand(paths):
        yield from ingest_file(path, format, options)


def stream_of(event: dict[str, Any]) -> Stream:
    """The input stream (file `<stream>.jsonl` or topic) a converted event belongs on."""
    return _STREAM_OF_TYPE[event["event_type"]]


def to_jsonl(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event) + b"\n"


@dataclass
class StageSummary:
    events: Counter[str] = field(default_factory=Counter)  # by stream
    errors: list[IngestError] = field(default_factory=list)


def stage_files(
    paths: Iterable[Path | str], input_dir: Path, format: str = "auto", options: IngestOptions | None = None
) -> StageSummary:
    """Append converted events to the runner's `<stream>.jsonl` files in input_dir.

    Safe to repeat: the same file always converts to the same event_ids, and the engine applies an
    event_id once, so staging a file twice changes nothing.
    """
    summary = StageSummary()
    handles: dict[Stream, Any] = {}
    try:
        for result in ingest_paths(paths, format, options):
            if result.error is not None:
                summary.errors.append(result.error)
                continue
            if result.event is None:
                raise InvariantBroken(f"{result.file}:{result.position}: converted to neither an event nor an error")
            stream = stream_of(result.event)
            if stream not in handles:
                handles[stream] = (input_dir / f"{stream.value}.jsonl").open("ab")
            handles[stream].write(to_jsonl(result.event))
            summary.events[stream.value] += 1
    finally:
        for handle in handles.values():
            handle.close()
    return summary
