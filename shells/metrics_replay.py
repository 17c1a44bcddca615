"""Metrics of a finished run, rebuilt from its output folder: what `recon serve` shows at /metrics.

The event-time figures come out as a live run reports them (the same records, in event-time order);
the input counts come from the audit log. Two things a folder cannot tell: the engine's wall time per
event (processing latency stays empty) and bank acknowledgments, which are inputs, not outputs: given
the input folder, acknowledgment times are read from payment_batches.jsonl and bank_acks.jsonl.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from reconstream.models.exceptions import ReconException
from reconstream.models.outputs import ClassifiedLine, DeadLetter, Match, OutputStream, StatusUpdate
from reconstream.streams import Output

from .metrics import STREAM_OF_EVENT_TYPE, UNKNOWN, RunMetrics

# Each output file: its record class, and the field that says when it happened. The order breaks a tie of times.
_FILES: dict[OutputStream, tuple[type[Any], tuple[str, ...]]] = {
    OutputStream.STATUS_UPDATES: (StatusUpdate, ("at",)),
    OutputStream.EXCEPTIONS: (ReconException, ("resolved_at", "first_seen")),
    OutputStream.MATCHES: (Match, ("matched_at",)),
    OutputStream.CLASSIFIED_LINES: (ClassifiedLine, ("classified_at",)),
}


def _lines(path: Path) -> Iterator[bytes]:
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            # A last line without its newline is being written, or was cut by a crash: not a record yet.
            if line.endswith(b"\n") and line.strip():
                yield line


def _stream_of_source(source: str) -> str:
    """`invoices.jsonl:12` -> `invoices` (embedded); anything else is not a stream name this shell knows."""
    name, _, _ = source.partition(".jsonl")
    return name if name != source else UNKNOWN


def _records(out_dir: Path, name: OutputStream) -> Iterator[tuple[datetime, int, Output]]:
    model, time_fields = _FILES[name]
    rank = list(_FILES).index(name)
    for line in _lines(out_dir / f"{name}.jsonl"):
        record = model.model_validate_json(line)
        at = next(getattr(record, f) for f in time_fields if getattr(record, f) is not None)
        yield at, rank, Output(name, record)


def replay(metrics: RunMetrics, out_dir: Path, input_dir: Path | None = None) -> RunMetrics:
    files: set[str] = set()
    for line in _lines(out_dir / f"{OutputStream.AUDIT}.jsonl"):
        record = orjson.loads(line)
        source = _stream_of_source(record.get("source") or "")
        # The event type names the stream as the live observer does (a bank file's entries are settlements).
        stream = STREAM_OF_EVENT_TYPE.get(record.get("event_type") or "", source)
        metrics.count_event(stream, record.get("outcome") or UNKNOWN)
        files.add(f"{source}.jsonl")
    for name in sorted(files - {f"{UNKNOWN}.jsonl"}):
        # As the embedded runner reports its input lag (per file, partition 0): a finished run has none left.
        metrics.set_consumer_lag(name, 0, 0)
    for line in _lines(out_dir / f"{OutputStream.DEAD_LETTERS}.jsonl"):
        dead = DeadLetter.model_validate_json(line)
        metrics.observe_outputs([Output(OutputStream.DEAD_LETTERS, dead)], _stream_of_source(dead.source))
    # Merged by event time, as the engine emitted them: a payment's sending comes before its match.
    merged = heapq.merge(*(_records(out_dir, name) for name in _FILES), key=lambda item: (item[0], item[1]))
    for at, _, output in merged:
        metrics.advance(at)
        metrics.observe_outputs([output])
    if input_dir is not None:
        _acknowledgments(metrics, input_dir)
    cash = out_dir / f"{OutputStream.CASH_POSITIONS}.json"
    if cash.exists():
        as_of = orjson.loads(cash.read_bytes()).get("as_of")
        if as_of:
            metrics.advance(datetime.fromisoformat(as_of))
    return metrics


def _event_time(event: dict[str, Any]) -> datetime:
    """The event's time, as the engine reads it: a time without its offset is refused (dead-lettered)."""
    at = datetime.fromisoformat(event["event_time"])
    if at.tzinfo is None:
        raise ValueError("event_time without a UTC offset")
    return at


def _acknowledgments(metrics: RunMetrics, input_dir: Path) -> None:
    released: dict[str, datetime] = {}
    for line in _lines(input_dir / "payment_batches.jsonl"):
        try:
            event = orjson.loads(line)
            batch_id = event["payload"]["batch_id"]
            if isinstance(batch_id, str):  # the engine refuses any other; so does this view
                released.setdefault(batch_id, _event_time(event))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # dead-lettered by the engine, skipped here
    acks: list[tuple[datetime, str]] = []
    for line in _lines(input_dir / "bank_acks.jsonl"):
        try:
            event = orjson.loads(line)
            batch_id = event["payload"]["original_batch_id"]
            if isinstance(batch_id, str):
                acks.append((_event_time(event), batch_id))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    for at, batch_id in sorted(acks):
        sent = released.pop(batch_id, None)  # the first status for a batch is its acknowledgment
        if sent is not None and at >= sent:
            metrics.payment_ack.observe((at - sent).total_seconds())
