"""Event-time timers that survive a restart: a table is the truth, a heap is the index."""

from __future__ import annotations

import heapq
from enum import StrEnum
from typing import NamedTuple

from .store import JSON, Store


class TimerKind(StrEnum):
    """What a timer waits for. Its value is stored in the timer's key ("<kind>|<ref>"): never rename one."""

    ACK = "ack"  # a pain.002 status for an instruction sent (streams/payments.py)
    SETTLEMENT = "settlement"  # a bank line settling it
    POSTING = "posting"  # the ERP's posting of an approved invoice (streams/invoices.py)
    POSTING_HOLD = "posting_hold"  # the posting a held bank line waits for (streams/settlements.py)
    RETIRE = "retire"  # a paid invoice's retention running out (streams/retention.py)
    UNMATCHED_EXPIRY = "unmatched_expiry"  # a line in review past its manual match window (streams/unmatched_lines.py)


class Timer(NamedTuple):
    deadline_us: int
    kind: TimerKind
    ref: str


class TimerQueue:
    def __init__(self, store: Store, name: str = "timers") -> None:
        self._table = store.table(name, JSON)
        self._heap: list[Timer] = [_timer(key, deadline) for key, deadline in self._table.items()]
        heapq.heapify(self._heap)
        self._fired: list[Timer] | None = None  # while a unit is open: what it popped, for a rollback

    def begin(self) -> None:
        self._fired = []

    def end(self) -> None:
        self._fired = None

    def rollback(self) -> None:
        """The table's rows are back (the journal's work); their heap entries must be too."""
        for timer in self._fired or ():
            heapq.heappush(self._heap, timer)
        self._fired = None

    def schedule(self, deadline_us: int, kind: TimerKind, ref: str) -> None:
        self._table[f"{kind}|{ref}"] = deadline_us
        heapq.heappush(self._heap, Timer(deadline_us, kind, ref))

    def cancel(self, kind: TimerKind, ref: str) -> None:
        # The heap entry stays; pop_due skips entries whose table row is gone or was rescheduled.
        key = f"{kind}|{ref}"
        if key in self._table:
            del self._table[key]

    def pop_due(self, watermark_us: int) -> list[Timer]:
        """Timers whose deadline is strictly before the watermark, in (deadline, kind, ref) order."""
        due: list[Timer] = []
        while self._heap and self._heap[0].deadline_us < watermark_us:
            timer = heapq.heappop(self._heap)
            key = f"{timer.kind}|{timer.ref}"
            if self._table.get(key) == timer.deadline_us:
                del self._table[key]
                due.append(timer)
                if self._fired is not None:
                    self._fired.append(timer)
        return due

    def __len__(self) -> int:
        return len(self._heap)


def _timer(key: str, deadline_us: int) -> Timer:
    kind, ref = key.split("|", 1)
    return Timer(deadline_us, TimerKind(kind), ref)
