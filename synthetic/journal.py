"""The event journal: envelopes around payloads, one list of lines per input stream, written sorted.

Events are built as plain dicts and serialised once with orjson; pydantic is left to the engine, because
a million model validations would cost more than the whole scenario. Anything at or after the horizon is
dropped here, which is what leaves late flows incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from random import Random
from typing import Any

import orjson
from reconstream.models.events import EVENT_TYPE_OF, Stream

from .clock import Formatter

PREFIX: dict[Stream, str] = {
    Stream.VENDORS: "vnd",
    Stream.PURCHASE_ORDERS: "po",
    Stream.GOODS_RECEIPTS: "gr",
    Stream.INVOICES: "inv",
    Stream.INVOICE_STATUS: "sts",
    Stream.PAYMENT_BATCHES: "pay",
    Stream.BANK_ACKS: "ack",
    Stream.SETTLEMENTS: "stl",
    Stream.BALANCES: "bal",
}


def file_name(stream: Stream) -> str:
    return f"{stream.value}.jsonl"


@dataclass(frozen=True, slots=True)
class Insert:
    """A line placed into a file after sorting: a re-delivery of its neighbour, or garbage."""

    stream: Stream
    position: int  # index in the sorted lines it goes after (re-delivery) or before (garbage)
    raw: bytes | None  # None: repeat the line at `position`
    label: str | None = None  # the category its 1-based line number is planted under


class Journal:
    def __init__(self, rng: Random, fmt: Formatter, horizon: int) -> None:
        self.rng = rng
        self.fmt = fmt
        self.horizon = horizon
        # (event time, line, valid): the flag keeps planted bad events out of re-deliveries and truncations.
        self.lines: dict[Stream, list[tuple[int, bytes, bool]]] = {stream: [] for stream in Stream}
        self._serial = 0
        self.last_valid = 0  # the engine's final watermark: the latest valid event time

    def next_event_id(self, stream: Stream) -> str:
        self._serial += 1
        return f"evt-{PREFIX[stream]}-{self._serial:09d}"

    def reserve(self, stream: Stream, ts: int) -> bool:
        """An event someone else writes (the posting service's verdict): its id and draw are used up as if it
        were written here, so the rest of the month is the one `add` would have made. False after the horizon."""
        if ts >= self.horizon:
            return False
        self.next_event_id(stream)
        self.rng.random()  # the ingest delay `add` would have drawn
        return True

    def keeps(self, ts: int) -> bool:
        return ts < self.horizon

    def add(
        self,
        stream: Stream,
        ts: int,
        source: str,
        payload: dict[str, Any],
        correlation_id: str | None = None,
        batch_correlation_id: str | None = None,
        schema_version: int = 1,
    ) -> str | None:
        """Append one valid event; returns its event_id, or None when it falls after the horizon."""
        if ts >= self.horizon:
            return None
        event_id = self.next_event_id(stream)
        envelope: dict[str, Any] = {"event_id": event_id}
        if correlation_id is not None:
            envelope["correlation_id"] = correlation_id
        if batch_correlation_id is not None:
            envelope["batch_correlation_id"] = batch_correlation_id
        envelope["event_type"] = EVENT_TYPE_OF[stream]
        envelope["schema_version"] = schema_version
        envelope["source_system"] = source
        envelope["event_time"] = self.fmt.instant(ts)
        # Middleware, queues and polling put seconds to minutes between the business event and our intake.
        envelope["ingest_time"] = self.fmt.instant(ts + 2 + int(self.rng.random() * 150))
        envelope["payload"] = payload
        self.lines[stream].append((ts, orjson.dumps(envelope), True))
        self.last_valid = max(self.last_valid, ts)
        return event_id

    def add_raw(self, stream: Stream, ts: int, envelope: dict[str, Any]) -> None:
        """An event that is meant to fail validation; it sorts by `ts` but never moves the watermark."""
        self.lines[stream].append((ts, orjson.dumps(envelope), False))

    def sort(self) -> None:
        for lines in self.lines.values():
            lines.sort(key=itemgetter(0))  # stable: ties keep creation order, which is deterministic

    def write(self, out_dir: Path, inserts: Iterable[Insert]) -> tuple[int, list[tuple[str, str]]]:
        """Write every file; returns the number of lines and the (category, "file:line") of labelled inserts."""
        after: dict[Stream, dict[int, list[Insert]]] = {stream: {} for stream in Stream}
        for insert in inserts:
            after[insert.stream].setdefault(insert.position, []).append(insert)
        total, labelled = 0, []
        for stream in Stream:
            out: list[bytes] = []
            pending = after[stream]
            for index, (_, raw, _) in enumerate(self.lines[stream]):
                for insert in pending.get(index, ()):
                    if insert.raw is not None:  # garbage goes before the line at `position`
                        out.append(insert.raw)
                        if insert.label is not None:
                            labelled.append((insert.label, f"{file_name(stream)}:{len(out)}"))
                out.append(raw)
                for insert in pending.get(index, ()):
                    if insert.raw is None:  # a re-delivery repeats the line right behind it
                        out.append(raw)
            (out_dir / file_name(stream)).write_bytes(b"\n".join(out) + b"\n" if out else b"")
            total += len(out)
        return total, labelled
