"""Prometheus metrics of ERP posting: the posting service's sensor (shells/erp/service.py `PostingSensor`).

What the service reports as it happens (retries, verdicts with their durations, breaker changes) is counted
here; what the queue holds (depth by state, the success ratio) is read from `PostingQueue.counts()` when
Prometheus scrapes, so a quiet service costs nothing and the figures are the queue's own.

Names follow shells/metrics.py: the `recon_` prefix, base units, `_total` on counters, closed label sets.
`erp` is one of the ERP names of the config (anything else reads `unknown`; unrouted postings, which have
no ERP yet, read `erp=""`, as `counts()` gives them), `cause` one of `Cause`, `result` one of the queue's
verdicts (posted, rejected, timed_out), `state` pending, in_flight, parked or unrouted.

- recon_erp_posting_retries_total{erp,cause}: attempts that got no verdict (retried, or the last one).
- recon_erp_postings_total{erp,result}: verdicts.
- recon_erp_call_duration_seconds{erp,result}: the deciding attempt's ERP call (look-up, token, post).
- recon_erp_enqueue_to_verdict_seconds{erp,result}: from the posting's entry into the queue to its verdict.
- recon_erp_breaker_state{erp}: 0 closed, 1 half-open, 2 open, as the service last reported it (so it is as
  exact as the service's `on_breaker` calls: each must be a real change, reported in the order it happened).
- recon_erp_breaker_opened_total{erp}: times the breaker was reported opening.
- recon_erp_queue_postings{erp,state}: postings waiting now. The states are disjoint, so sum() is the open
  work: `parked` is what is pending for an ERP whose breaker is open, and `pending` then reads 0.
- recon_erp_posting_success_ratio{erp}: posted / decided over every posting the queue holds decided.

The ratio is not `recon_erp_sync_success_ratio`: RunMetrics already exposes that name (unlabelled, from the
engine's events), and two families of one name on one registry break the exposition.

Thread safety: the service calls the sensor from every worker thread. One lock guards the plain-number
tallies (shells/metrics.py `Tally` and `Distribution`, whose read-modify-write is not atomic); a call is a lock
and a few dict updates, nothing against an HTTP call, and a scrape copies under the same lock, so the
verdict counter and the histograms' counts agree within one scrape.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ..metrics import DAY, HOUR, MINUTE, UNKNOWN, Distribution, Tally
from .errors import Cause
from .limits import BreakerState
from .queue import DECIDED, IN_FLIGHT, PENDING, POSTED, UNROUTED, PostingQueue
from .service import PostingSensor

log = logging.getLogger(__name__)

PARKED = "parked"  # not a queue state: pending postings of an ERP whose breaker is open
QUEUE_STATES = (PENDING, IN_FLIGHT, PARKED, UNROUTED)
NO_ERP = ""  # what counts() calls the ERP of an unrouted posting
CAUSES = tuple(cause.value for cause in Cause)
BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

# An ERP call on loopback takes milliseconds, over the internet a few hundred; the adapters time out at 10 s
# by default and one attempt may be a token fetch, a look-up and the post: up to a minute.
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Enqueue to verdict: one poll and one call when the queue is idle; hours for a month-end burst under an
# ERP's rate limit, or postings parked through an outage; a day and more is an incident.
QUEUED_BUCKETS = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    12 * HOUR,
    DAY,
)

RETRIES = "recon_erp_posting_retries"
POSTINGS = "recon_erp_postings"
CALL_SECONDS = "recon_erp_call_duration_seconds"
QUEUED_SECONDS = "recon_erp_enqueue_to_verdict_seconds"
BREAKER_STATE = "recon_erp_breaker_state"
BREAKER_OPENED = "recon_erp_breaker_opened"
QUEUE_POSTINGS = "recon_erp_queue_postings"
SUCCESS_RATIO = "recon_erp_posting_success_ratio"


class PostingMetrics(PostingSensor):
    """The posting service's sensor on `registry`, for the ERPs named in the config.

    `queue` may come later (`attach`): PostingBeside opens its queue itself, after the sensor is made; until
    then the queue-derived families are left out of the scrape.
    """

    def __init__(self, registry: CollectorRegistry, erps: Iterable[str], queue: PostingQueue | None = None) -> None:
        self.erps: tuple[str, ...] = tuple(dict.fromkeys(erps))
        if NO_ERP in self.erps:
            raise ValueError("erps: an ERP needs a name (the empty one labels unrouted postings)")
        self.queue = queue
        self._known = frozenset(self.erps)
        self._lock = threading.Lock()
        verdicts = [(erp, result) for erp in self.erps for result in DECIDED]
        # Every known label set starts at 0: a series that appears with its first event breaks rate().
        self.retries = Tally(
            RETRIES,
            "ERP posting attempts that got no verdict (retried, or the last of the budget), by ERP and cause.",
            ("erp", "cause"),
            [(erp, cause) for erp in self.erps for cause in CAUSES],
        )
        self.postings = Tally(
            POSTINGS, "ERP posting verdicts: posted, rejected by the ERP, timed_out.", ("erp", "result"), verdicts
        )
        self.call_seconds = Distribution(
            CALL_SECONDS,
            "Duration of the attempt that got the verdict: the ERP calls it made (look-up, token, post).",
            CALL_BUCKETS,
            ("erp", "result"),
            verdicts,
        )
        self.queued_seconds = Distribution(
            QUEUED_SECONDS,
            "Time from a posting's entry into the posting queue to its verdict.",
            QUEUED_BUCKETS,
            ("erp", "result"),
            verdicts,
        )
        self.breaker_opened = Tally(
            BREAKER_OPENED,
            "Times an ERP's circuit breaker opened (postings parked).",
            ("erp",),
            [(e,) for e in self.erps],
        )
        # Breakers start closed (shells/erp/limits.py): the gauge says so before the first change.
        self.breakers: dict[str, BreakerState] = dict.fromkeys(self.erps, BreakerState.CLOSED)
        registry.register(_PostingCollector(self))

    def attach(self, queue: PostingQueue) -> None:
        """The queue whose depth and verdicts the scrape reads."""
        self.queue = queue

    # -- the sensor: called from the service's worker threads -----------------------------------------------
    def on_retry(self, erp: str, cause: Cause) -> None:
        key = (self._erp(erp), str(cause) if cause in CAUSES else UNKNOWN)
        with self._lock:
            self.retries.inc(key)

    def on_decided(self, erp: str, state: str, call_seconds: float, queued_seconds: float) -> None:
        key = (self._erp(erp), state if state in DECIDED else UNKNOWN)
        # The service measures on wall time, which can step back: a negative duration would subtract from _sum.
        call, queued = max(0.0, call_seconds), max(0.0, queued_seconds)
        with self._lock:
            self.postings.inc(key)
            self.call_seconds.observe(call, key)
            self.queued_seconds.observe(queued, key)

    def on_breaker(self, erp: str, state: BreakerState) -> None:
        label = self._erp(erp)
        if state not in BREAKER_VALUES:
            return  # not a breaker state: the gauge has no value for it, and a scrape must not fail on it
        state = BreakerState(state)
        with self._lock:
            before = self.breakers.get(label, BreakerState.CLOSED)
            self.breakers[label] = state
            # Two workers that saw the same opening both report it: count the change, not the reports.
            if state is BreakerState.OPEN and before is not BreakerState.OPEN:
                self.breaker_opened.inc((label,))

    def _erp(self, erp: str) -> str:
        return erp if erp in self._known else UNKNOWN

    # -- the scrape ---------------------------------------------------------------------------------------
    def snapshot(self) -> tuple[list[Metric], dict[str, BreakerState]]:
        """The event-fed families and the breaker states, copied under the lock the workers write under."""
        with self._lock:
            families = [
                self.retries.family(),
                self.postings.family(),
                self.call_seconds.family(),
                self.queued_seconds.family(),
                self.breaker_opened.family(),
            ]
            return families, dict(self.breakers)


class _PostingCollector(Collector):
    def __init__(self, metrics: PostingMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        # Without describe() the registry would not know these names, and a second sensor (or another
        # collector of the same names) on the registry would go unnoticed until scrapes came out broken.
        return [
            CounterMetricFamily(RETRIES, ""),
            CounterMetricFamily(POSTINGS, ""),
            HistogramMetricFamily(CALL_SECONDS, ""),
            HistogramMetricFamily(QUEUED_SECONDS, ""),
            CounterMetricFamily(BREAKER_OPENED, ""),
            GaugeMetricFamily(BREAKER_STATE, ""),
            GaugeMetricFamily(QUEUE_POSTINGS, ""),
            GaugeMetricFamily(SUCCESS_RATIO, ""),
        ]

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        families, breakers = m.snapshot()
        yield from families
        state = GaugeMetricFamily(
            BREAKER_STATE,
            "An ERP's circuit breaker as last reported: 0 closed, 1 half-open (one probe), 2 open (parked).",
            labels=["erp"],
        )
        for erp, value in breakers.items():
            state.add_metric([erp], BREAKER_VALUES[value])
        yield state
        queue = m.queue
        if queue is None:
            return
        try:
            counts = queue.counts()
        except sqlite3.Error as exc:  # a closed or broken queue: the event counters above still get scraped
            log.warning("ERP posting metrics: the posting queue could not be read (%s)", exc)
            return
        yield self._depth(counts, breakers)
        yield self._success(counts)

    def _depth(self, counts: dict[tuple[str, str], int], breakers: dict[str, BreakerState]) -> GaugeMetricFamily:
        m = self.metrics
        depth: dict[tuple[str, str], int] = {(erp, s): 0 for erp in m.erps for s in (PENDING, IN_FLIGHT, PARKED)}
        depth[(NO_ERP, UNROUTED)] = 0
        for (erp, state), count in counts.items():
            if state == UNROUTED:
                key = (NO_ERP, UNROUTED)
            elif state in (PENDING, IN_FLIGHT):
                # An ERP dropped from the config still has postings nobody drains: worth seeing, under `unknown`.
                label = erp if erp in m.erps else UNKNOWN
                parked = state == PENDING and breakers.get(label) is BreakerState.OPEN
                key = (label, PARKED if parked else state)
            else:
                continue  # decided: not waiting any more
            depth[key] = depth.get(key, 0) + count
        family = GaugeMetricFamily(
            QUEUE_POSTINGS,
            "Postings in the posting queue waiting now, by ERP and state (pending, in_flight, parked: pending "
            'for an ERP whose breaker is open, unrouted: no ERP for the company code, erp=""). States are disjoint.',
            labels=["erp", "state"],
        )
        for (erp, state), count in depth.items():
            family.add_metric([erp, state], count)
        return family

    def _success(self, counts: dict[tuple[str, str], int]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            SUCCESS_RATIO,
            "ERP synchronization success: postings posted per posting decided (posted, rejected, timed_out), "
            "over every verdict the posting queue holds; absent for an ERP with none.",
            labels=["erp"],
        )
        for erp in self.metrics.erps:
            decided = sum(counts.get((erp, state), 0) for state in DECIDED)
            if decided:
                family.add_metric([erp], counts.get((erp, POSTED), 0) / decided)
        return family
