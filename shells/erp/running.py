"""ERP posting beside an embedded run: the sink that fills the queue, the service's workers posting from it
meanwhile, and the verdicts read back into the run as input events.

A run reads a month in seconds, an ERP answers in milliseconds to minutes, and the engine's timers run on event
time: left alone, the run's clock would pass every approval's posting SLA before the verdicts came back, and
raise an erp_timeout for invoices the ERP booked a moment later. So the run is paced: before it reads an
event dated more than `allowance` after the approval of a posting still undecided, it waits for that verdict,
applying verdicts as they come, but never longer than `hold_seconds` of wall time for one posting (an ERP that
is down does not stop reconciliation; its postings' SLA timers then fire, which is the truth). In a live run,
where event time is wall time, the allowance is never reached while the service works.

The position in the verdicts is kept in the run's checkpoint: after a kill, those after it are applied again
(the queue keeps them) and the engine drops any it already has by event id. A verdict is applied only once the
engine has its invoice's approval: after a kill the queue can hold verdicts on approvals the resumed run has
not read again yet, and those wait (shells/embedded.py `_apply_verdicts`).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from reconstream.models.base import to_micros
from reconstream.models.outputs import posting_id

from ..sinks.posting import PostingSink
from .limits import BreakerState
from .queue import NewPosting, PostingQueue, Verdict
from .service import Lane, PostingSensor, PostingService

QUEUE_FILE = "postings.sqlite"


class PostingBeside:
    def __init__(
        self,
        queue_path: Path,
        lanes: dict[str, Lane],
        routes: Mapping[str, str],
        drain_seconds: float,
        allowance: timedelta = timedelta(hours=4),
        hold_seconds: float = 30.0,
        sensor: PostingSensor | None = None,
    ) -> None:
        self.queue = PostingQueue(queue_path)
        self.routes = routes
        self.drain_seconds = drain_seconds
        self.allowance_us = int(allowance.total_seconds() * 1_000_000)
        self.hold_seconds = hold_seconds
        self.service = PostingService(self.queue, lanes, sensor)
        self.queue.route(dict(routes))  # postings that waited for their company code's ERP to be configured
        self._sink = PostingSink(self.queue, routes, on_request=self._requested)
        self._undecided: dict[str, str] = {}  # posting id -> its ERP: what the run waits for
        self._oldest: list[tuple[int, str]] = []  # (approval µs, posting id), with entries no longer waited for
        for undecided_id, erp, approved_at in self.queue.undecided():
            self._wait_for(undecided_id, erp, approved_at)

    def sink(self) -> PostingSink:
        return self._sink

    def flush(self) -> None:
        """Requests the sink holds, into the queue now: the run is about to wait for them."""
        self._sink.flush()
        self.service.wake()

    def _requested(self, posting: NewPosting) -> None:
        self._wait_for(posting.posting_id, posting.erp, posting.approved_at)

    def _wait_for(self, undecided_id: str, erp: str | None, approved_at: str) -> None:
        if erp is not None and erp in self.service.lanes and undecided_id not in self._undecided:
            self._undecided[undecided_id] = erp
            heapq.heappush(self._oldest, (to_micros(datetime.fromisoformat(approved_at)), undecided_id))

    def verdicts_after(self, seq: int) -> list[Verdict]:
        """Every verdict decided after `seq`, in the order decided."""
        found: list[Verdict] = []
        while batch := self.queue.verdicts(found[-1].seq if found else seq):
            found += batch
        return found

    def applied(self, invoice_id: str) -> None:
        """The run applied this invoice's verdict: it no longer waits for it."""
        self._undecided.pop(posting_id(invoice_id), None)

    def oldest_undecided_us(self) -> int | None:
        """The approval time of the oldest posting the run waits for: one without a verdict, whose ERP is not
        known to be down (its breaker open)."""
        while self._oldest:
            posting_id = self._oldest[0][1]
            erp = self._undecided.get(posting_id)
            if erp is not None and self.service.lanes[erp].breaker.state is not BreakerState.OPEN:
                return self._oldest[0][0]
            heapq.heappop(self._oldest)
            self._undecided.pop(posting_id, None)
        return None

    def stop_waiting(self) -> None:
        """The hold ran out: no posting undecided now is waited for any more. Their verdicts, when they come,
        are still applied."""
        self._undecided.clear()
        self._oldest.clear()

    def open_work(self) -> int:
        return sum(self.queue.open_work(name) for name in self.service.lanes)

    def start(self) -> PostingBeside:
        self.service.start()
        return self

    def close(self) -> None:
        self.service.stop()
        for lane in self.service.lanes.values():
            lane.adapter.close()
        self.queue.close()
