"""The posting service: workers per ERP take postings from the queue, most urgent first, and post them
through the ERP's adapter within its limits; the verdict goes back to the queue with the event it makes.

- Concurrency: an ERP gets `concurrency` workers, so no more requests are in flight to it at once.
- Rate: a token bucket per ERP; a 429 pauses the whole ERP for its Retry-After.
- Retries: exponential backoff with full jitter (tenacity's, through shells/retrying.py) from the attempt
  count the queue keeps, up to `max_attempts`; then the posting is timed out (`posting_timed_out`), never
  silently dropped. A 429 spends no attempt: it is the ERP's flow control, not a failure.
- Breaker: after `breaker_threshold` failures of the ERP itself in a row, its postings are parked (left
  pending, their attempts not spent) until a probe after the cool-off succeeds.
- Never twice: an attempt that may have booked the invoice (a timeout, a dropped connection, a kill during the
  call) makes the next one look the invoice up first (`uncertain` in the queue).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconstream.models.invoices import InvoiceStatus
from reconstream.models.outputs import PostingRequest

from ..retrying import backoff
from .adapter import ErpAdapter, ErpDocument
from .errors import Cause, ErpRejected, ErpUnavailable
from .limits import BreakerState, CircuitBreaker, RateLimit
from .outcomes import outcome_event
from .queue import POSTED, REJECTED, TIMED_OUT, Posting, PostingQueue

log = logging.getLogger(__name__)
_IDLE_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class LanePolicy:
    """One ERP's limits, from the config file: what its service protection or licence allows."""

    concurrency: int = 4
    rate_per_second: float = 20.0
    burst: int = 10
    max_attempts: int = 8
    max_backoff_seconds: float = 60.0
    breaker_threshold: int = 5
    breaker_cool_off_seconds: float = 30.0


class PostingSensor:
    """What the posting service reports, after faust's sensors: the service calls these and never asks whether
    anyone listens; the Prometheus sensor (shells/erp/metrics.py) overrides them."""

    def on_retry(self, erp: str, cause: Cause) -> None:
        """An attempt got no verdict and will be tried again, or was the last one."""

    def on_decided(self, erp: str, state: str, call_seconds: float, queued_seconds: float) -> None:
        """A verdict: posted, rejected or timed_out; the last call's duration and the time since enqueued."""

    def on_breaker(self, erp: str, state: BreakerState) -> None:
        """The ERP's breaker changed state."""


@dataclass
class Lane:
    """One ERP as the service drives it: its adapter and its limits."""

    name: str
    adapter: ErpAdapter
    policy: LanePolicy = field(default_factory=LanePolicy)

    def __post_init__(self) -> None:
        self.limit = RateLimit(self.policy.rate_per_second, self.policy.burst)
        self.breaker = CircuitBreaker(self.policy.breaker_threshold, self.policy.breaker_cool_off_seconds)


class PostingService:
    def __init__(
        self,
        queue: PostingQueue,
        lanes: dict[str, Lane],
        sensor: PostingSensor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.lanes = lanes
        self.sensor = sensor or PostingSensor()
        self.clock = clock
        self._stop = threading.Event()
        self._new_work = threading.Condition()  # idle workers wait on it: a posting enqueued wakes them at once
        self._threads: list[threading.Thread] = []
        for lane in lanes.values():
            lane.breaker.on_change = functools.partial(self.sensor.on_breaker, lane.name)

    def start(self) -> None:
        """Postings a killed process left in flight become uncertain, then every ERP's workers start."""
        self.queue.recover(self.clock())
        for lane in self.lanes.values():
            for number in range(lane.policy.concurrency):
                name = f"post-{lane.name}-{number}"
                thread = threading.Thread(target=self._work, args=(lane,), name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def wake(self) -> None:
        """Postings were enqueued: idle workers look now rather than at their next poll."""
        with self._new_work:
            self._new_work.notify_all()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout=60)
        if self._threads and not any(thread.is_alive() for thread in self._threads):
            self.queue.stopped()
        self._threads.clear()

    def wait_drained(self, timeout: float | None = None, poll: float = 0.05) -> bool:
        """Until no posting of a configured ERP is pending or in flight; False when `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while any(self.queue.open_work(name) for name in self.lanes):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(poll)
        return True

    def _work(self, lane: Lane) -> None:
        while not self._stop.is_set():
            now = self.clock()
            if not lane.breaker.allow(now):
                self._stop.wait(min(lane.breaker.wait_time(now), 0.5) or _IDLE_POLL_SECONDS)  # parked
                continue
            posting = self.queue.claim(lane.name, now)
            if posting is None:
                lane.breaker.neutral()  # a probe slot taken for nothing is given back
                with self._new_work:
                    if not self._stop.is_set():
                        self._new_work.wait(_IDLE_POLL_SECONDS)  # a retry coming due is found by this poll
                continue
            wait = lane.limit.wait_time(self.clock())
            while wait > 0 and not self._stop.is_set():
                self._stop.wait(wait)
                wait = lane.limit.wait_time(self.clock())
            if self._stop.is_set():
                self.queue.release(posting.posting_id)
                return
            self._attempt(lane, posting)

    def _attempt(self, lane: Lane, posting: Posting) -> None:
        request = PostingRequest.model_validate_json(posting.request)
        started = self.clock()
        try:
            document = self._book(lane, request, posting)
        except ErpRejected as refused:
            lane.breaker.succeeded()  # the ERP answered: it is up
            self._decide(lane, posting, request, REJECTED, started, error=refused.message)
        except ErpUnavailable as failure:
            self._failed(lane, posting, request, failure, started)
        except Exception as exc:
            log.exception("posting %s to %s: unexpected failure", posting.posting_id, lane.name)
            unexpected = ErpUnavailable(Cause.SERVER_ERROR, f"unexpected answer ({type(exc).__name__})", None, True)
            self._failed(lane, posting, request, unexpected, started)
        else:
            lane.breaker.succeeded()
            self._decide(lane, posting, request, POSTED, started, document=document)

    @staticmethod
    def _book(lane: Lane, request: PostingRequest, posting: Posting) -> ErpDocument:
        """The document the invoice is booked as: found by a look-up when an earlier attempt may have booked it,
        else posted now."""
        if posting.uncertain:
            found = lane.adapter.find_posted(request.invoice, _first_sent(posting))
            if found is not None:
                return found
        return lane.adapter.post(request.invoice)

    def _failed(
        self, lane: Lane, posting: Posting, request: PostingRequest, failure: ErpUnavailable, started: float
    ) -> None:
        now = self.clock()
        self.sensor.on_retry(lane.name, failure.cause)
        if failure.cause is Cause.THROTTLED:
            # Flow control, not a failure: the whole ERP waits as asked, and the attempt is not spent. An ERP
            # that throttles for ever leaves its postings pending, where the engine's posting SLA finds them.
            lane.breaker.neutral()
            wait = (
                failure.retry_after if failure.retry_after is not None else backoff(1, lane.policy.max_backoff_seconds)
            )
            lane.limit.pause_until(now + wait)
            self.queue.retry(posting.posting_id, now + wait, str(failure), failure.maybe_committed, counted=False)
            return
        lane.breaker.failed(now)
        if posting.attempts >= lane.policy.max_attempts:
            looked_up = failure.maybe_committed or posting.uncertain
            try:
                found = self._last_look(lane, request, posting) if looked_up else None
            except ErpRejected as refused:  # the ERP had judged an attempt whose answer was lost
                self._decide(lane, posting, request, REJECTED, started, error=refused.message)
                return
            if found is not None:
                self._decide(lane, posting, request, POSTED, started, document=found)
                return
            error = f"no verdict after {posting.attempts} attempts; the last: {failure}"
            self._decide(lane, posting, request, TIMED_OUT, started, error=error)
            return
        wait = backoff(posting.attempts, lane.policy.max_backoff_seconds)
        if failure.retry_after is not None:
            wait = max(wait, min(failure.retry_after, lane.policy.max_backoff_seconds))
        self.queue.retry(posting.posting_id, now + wait, str(failure), failure.maybe_committed)

    @staticmethod
    def _last_look(lane: Lane, request: PostingRequest, posting: Posting) -> ErpDocument | None:
        """Before a posting is given up: whether an attempt whose answer was lost booked it after all (a
        look-up is a read, which ERPs throttle and fail far less than writes). An ERP that keeps its answers
        may say it refused one instead: ErpRejected goes to the caller."""
        try:
            return lane.adapter.find_posted(request.invoice, _first_sent(posting))
        except ErpUnavailable:
            return None

    def _decide(
        self,
        lane: Lane,
        posting: Posting,
        request: PostingRequest,
        state: str,
        started: float,
        document: ErpDocument | None = None,
        error: str | None = None,
    ) -> None:
        now = self.clock()
        status = {
            POSTED: InvoiceStatus.POSTED,
            REJECTED: InvoiceStatus.POSTING_FAILED,
            TIMED_OUT: InvoiceStatus.POSTING_TIMED_OUT,
        }[state]
        event = outcome_event(request, status, lane.name, now - posting.enqueued_at, document, error)
        self.queue.decide(
            posting.posting_id,
            state,
            event,
            now,
            error=error,
            document_number=document.document_number if document else None,
            fiscal_year=document.fiscal_year if document else None,
        )
        self.sensor.on_decided(lane.name, state, now - started, now - posting.enqueued_at)


def _first_sent(posting: Posting) -> datetime | None:
    """When the posting was first claimed (the queue's clock is wall time): no attempt's answer is older."""
    return None if posting.first_sent_at is None else datetime.fromtimestamp(posting.first_sent_at, UTC)
