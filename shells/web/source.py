"""A read-only view of an embedded run's output folder, for the web service: indexed once, then tailed.

The output files are append-only (a resumed run first cuts them back to its checkpoint), so a refresh
reads only the complete lines added since the last one, and starts over when a file got shorter. That
serves a finished run and a running one alike.

Memory stays small for a month of a million events: the exceptions (few) and the payments in flight
are kept; status updates and matches are remembered only as file positions under the ids they concern,
and read back from disk when an invoice's timeline is asked for.

Only what the engine decided is read: its outputs, never the run's input. An input line the engine
refused (a dead letter) may name a real payment with another amount and creditor, or hold values of any
JSON type; what the engine applied is in its outputs already.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from reconstream.models.outputs import PAGE_STREAMS

from ..in_flight import PaymentsInFlight

INDEXED = PAGE_STREAMS
_FILE_NO: dict[str, int] = {name: number for number, name in enumerate(INDEXED)}
_OUTSTANDING_END = {"paid", "payment_rejected"}  # what takes an instruction out of flight


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str  # status_update | exception_raised | exception_resolved | match
    record: dict[str, Any]


# What the engine's payment_sent update says of the instruction, as the in-flight list names it.
_PAYMENT_FIELDS = {
    "amount": "payment_amount",
    "currency": "currency",
    "creditor_name": "creditor_name",
    "batch_id": "batch_id",
    "debtor_account": "debtor_account",
}


class RunFolder:
    """What the API and the pages read. Thread-safe: requests are served from a thread pool.

    `input_dir` is accepted and never read (issue #15, item 7): callers written when the pages took payment
    amounts from the input still pass it (tests/test_web.py, `serving` in cli.py).
    """

    def __init__(self, out_dir: Path, input_dir: Path | None = None, min_refresh_interval: float = 0.1) -> None:
        self.out_dir = out_dir
        self.min_refresh_interval = min_refresh_interval
        self._lock = threading.RLock()
        self._refreshed_at = float("-inf")
        self._reset()
        self.refresh(force=True)

    def _reset(self) -> None:
        self._offsets: dict[str, int] = dict.fromkeys(INDEXED, 0)
        self._heads: dict[str, bytes] = dict.fromkeys(INDEXED, b"")  # first bytes read: a rewrite changes them
        self._exceptions: dict[str, dict[str, Any]] = {}  # latest record per exception id
        self._first_seen: dict[str, datetime] = {}
        # "r:<document id>" and "c:<correlation id>" -> positions (offset << 2 | file number) of records.
        self._positions: dict[str, list[int]] = {}
        self._correlations: dict[str, list[str]] = {}  # invoice id -> its correlation ids
        self._latest_status: dict[str, str] = {}
        self._in_flight = PaymentsInFlight()
        self._dead_letters: Counter[str] = Counter()
        self._status_counts: Counter[str] = Counter()
        self._matches = 0
        self._latest_time: datetime | None = None
        self._cash_mtime: float | None = None
        self._cash: dict[str, Any] = {"as_of": None, "positions": []}

    # -- reading the files --------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Read what was appended since the last refresh (at most every `min_refresh_interval` seconds)."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._refreshed_at < self.min_refresh_interval:
                return
            self._refreshed_at = now
            sizes = {name: self._size(self.out_dir / f"{name}.jsonl") for name in INDEXED}
            if any(sizes[name] < self._offsets[name] or not self._same_head(name) for name in INDEXED):
                self._reset()  # a new run, or a resume cut the files back: index from the start
            for name in INDEXED:
                self._read_new(name, sizes[name])
            self._read_cash_positions()

    @staticmethod
    def _size(path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0

    def _same_head(self, name: str) -> bool:
        """A new run truncates and rewrites the files; by the next refresh one may be longer than before."""
        head = self._heads[name]
        if not head:
            return True
        try:
            with (self.out_dir / f"{name}.jsonl").open("rb") as handle:
                return handle.read(len(head)) == head
        except FileNotFoundError:
            return False

    def _read_new(self, name: str, size: int) -> None:
        """Index the complete lines between the last offset and `size`, streaming (files reach GBs)."""
        start = offset = self._offsets[name]
        if size <= start:
            return
        file_no, index = _FILE_NO[name], getattr(self, f"_index_{name}")
        with (self.out_dir / f"{name}.jsonl").open("rb") as handle:
            handle.seek(start)
            for line in handle:
                if offset + len(line) > size or not line.endswith(b"\n"):
                    break  # a line still being written waits for the next refresh
                if line.strip():
                    index(orjson.loads(line), offset << 2 | file_no)
                offset += len(line)
            if start == 0 and offset:
                handle.seek(0)
                self._heads[name] = handle.read(min(offset, 256))
        self._offsets[name] = offset

    def _remember(self, key: str, position: int) -> None:
        positions = self._positions.get(key)
        if positions is None:
            self._positions[key] = [position]
        elif positions[-1] != position:
            positions.append(position)

    def _saw(self, value: str | None) -> None:
        at = parse_time(value)
        if at is not None and (self._latest_time is None or at > self._latest_time):
            self._latest_time = at

    def _index_exceptions(self, record: dict[str, Any], position: int) -> None:
        exception_id = record["exception_id"]
        self._exceptions[exception_id] = record
        self._first_seen.setdefault(exception_id, parse_time(record["first_seen"]))  # type: ignore[arg-type]
        for ref in record.get("refs") or ():
            self._remember(f"r:{ref}", position)
        if record.get("correlation_id"):
            self._remember(f"c:{record['correlation_id']}", position)
        self._saw(record.get("resolved_at") or record["first_seen"])

    def _index_status_updates(self, record: dict[str, Any], position: int) -> None:
        invoice_id, status, correlation_id = record["invoice_id"], record["status"], record.get("correlation_id")
        self._remember(f"r:{invoice_id}", position)
        if correlation_id:
            self._remember(f"c:{correlation_id}", position)
            known = self._correlations.setdefault(invoice_id, [])
            if correlation_id not in known:
                known.append(correlation_id)
        # File order is each invoice's order: Kafka keys status updates by invoice (sinks/topics.py), so a
        # projected folder interleaves invoices, never one invoice's updates.
        self._latest_status[invoice_id] = status
        self._status_counts[status] += 1
        e2e = record.get("end_to_end_id")
        if status == "payment_sent" and e2e:
            details = {field: record.get(source) for field, source in _PAYMENT_FIELDS.items()}
            self._in_flight.sent(e2e, invoice_id, record["at"], details)
        elif status in _OUTSTANDING_END and e2e:
            self._in_flight.landed(e2e)
        self._saw(record["at"])

    def _index_matches(self, record: dict[str, Any], position: int) -> None:
        self._matches += 1
        for invoice_id in record.get("invoice_ids") or ():
            self._remember(f"r:{invoice_id}", position)
        if record.get("correlation_id"):
            self._remember(f"c:{record['correlation_id']}", position)
        self._saw(record["matched_at"])

    def _index_dead_letters(self, record: dict[str, Any], position: int) -> None:
        self._dead_letters[record["category"]] += 1

    def _read_cash_positions(self) -> None:
        path = self.out_dir / "cash_positions.json"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return  # the embedded runner writes it at the end of a run
        if mtime != self._cash_mtime:
            try:
                self._cash = orjson.loads(path.read_bytes())
                self._cash_mtime = mtime
            except orjson.JSONDecodeError:
                pass  # caught mid-write: the next refresh reads it whole

    def _read_at(self, positions: list[int]) -> list[tuple[int, dict[str, Any]]]:
        by_file: dict[int, list[int]] = {}
        for position in sorted(set(positions)):
            by_file.setdefault(position & 3, []).append(position >> 2)
        records = []
        for file_no, offsets in by_file.items():
            with (self.out_dir / f"{INDEXED[file_no]}.jsonl").open("rb") as handle:
                for offset in offsets:
                    handle.seek(offset)
                    records.append((offset << 2 | file_no, orjson.loads(handle.readline())))
        return records

    # -- what the API and the pages ask --------------------------------------------------------------
    @property
    def as_of(self) -> datetime | None:
        """The run's event time: ages are measured against it, so a replayed month shows its own ages."""
        self.refresh()
        return parse_time(self._cash.get("as_of")) or self._latest_time

    def cash_positions(self) -> dict[str, Any]:
        self.refresh()
        with self._lock:
            return {"as_of": self._cash.get("as_of"), "positions": list(self._cash.get("positions") or ())}

    def exceptions(
        self, owner: str | None = None, category: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """The latest record of each exception that passes the filters, oldest first."""
        self.refresh()
        with self._lock:
            chosen = [
                record
                for record in self._exceptions.values()
                if (owner is None or record["owner_queue"] == owner)
                and (category is None or record["category"] == category)
                and (status is None or record["status"] == status)
            ]
            first_seen = self._first_seen
            chosen.sort(key=lambda record: (first_seen[record["exception_id"]], record["exception_id"]))
            return chosen

    def in_flight_payments(self) -> list[dict[str, Any]]:
        """Instructions sent and neither paid nor rejected, by the engine's status updates, oldest first."""
        self.refresh()
        with self._lock:
            payments = [
                {
                    "end_to_end_id": payment.end_to_end_id,
                    "invoice_ids": list(payment.invoice_ids),
                    "sent_at": payment.sent_at,
                    **payment.details,
                }
                for payment in self._in_flight.payments()
            ]
        payments.sort(key=lambda payment: (parse_time(payment["sent_at"]), payment["end_to_end_id"]))
        return payments

    def timeline(self, invoice_id: str) -> tuple[list[str], str | None, list[TimelineItem]] | None:
        """(correlation ids, latest status, everything about the invoice and its correlation ids, time-ordered)."""
        self.refresh()
        with self._lock:
            positions = list(self._positions.get(f"r:{invoice_id}", ()))
            if not positions:
                return None
            correlations = list(self._correlations.get(invoice_id, ()))
            for correlation_id in correlations:
                positions.extend(self._positions.get(f"c:{correlation_id}", ()))
            records = self._read_at(positions)
            status = self._latest_status.get(invoice_id)
        items: list[tuple[datetime, int, TimelineItem]] = []
        for position, record in records:
            name = INDEXED[position & 3]
            if name == "status_updates":
                item = TimelineItem(parse_time(record["at"]), "status_update", record)  # type: ignore[arg-type]
            elif name == "matches":
                item = TimelineItem(parse_time(record["matched_at"]), "match", record)  # type: ignore[arg-type]
            elif record.get("status") == "resolved":
                item = TimelineItem(parse_time(record["resolved_at"]), "exception_resolved", record)  # type: ignore[arg-type]
            else:
                item = TimelineItem(parse_time(record["first_seen"]), "exception_raised", record)  # type: ignore[arg-type]
            items.append((item.at, position, item))
        items.sort(key=lambda entry: (entry[0], entry[1] & 3, entry[1] >> 2))
        return correlations, status, [item for _, _, item in items]

    def known_invoices(self, ids: list[str]) -> set[str]:
        """Which of these ids are invoices with a status in this run (the pages link only those)."""
        with self._lock:
            return {i for i in ids if i in self._latest_status}

    def counts(self) -> dict[str, Any]:
        """Headline figures for the index page."""
        self.refresh()
        with self._lock:
            open_by_owner: Counter[str] = Counter(
                record["owner_queue"] for record in self._exceptions.values() if record["status"] == "open"
            )
            return {
                "open_by_owner": dict(open_by_owner),
                "exceptions": len(self._exceptions),
                "matches": self._matches,
                "status_updates": dict(self._status_counts),
                "dead_letters": dict(self._dead_letters),
                "in_flight": len(self._in_flight),
            }
