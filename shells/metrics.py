"""Prometheus metrics of a reconciliation run, derived from the engine's outputs: one cheap call per input.

Both shells feed a `RunMetrics` the same way (an `ObservedEngine` around the engine, or an explicit
`observe` call per applied input), so the embedded runner and the Kafka workers report the same figures.

Naming follows the Prometheus conventions: one `recon_` prefix, base units (`_seconds`, `_ratio`),
counters end in `_total`, and every label has a small closed set of values (stream, outcome, category,
kind, owner, result, method, operation, document, topic, partition): never an invoice, payment or
exception id.

Two clocks. The business SLAs (posting latency, approval-to-posting, payment acknowledgment,
reconciliation completion, exception age) are measured on *event time*, so a replay of last month gives
last month's figures; processing latency is wall time spent in the engine.

Cost: the hot path is a few dict updates per input and per output on plain numbers (no lock per
increment, unlike prometheus_client's Counter), against ~150 µs the engine spends on an event. The
families, open exceptions by age and the ratios are built when Prometheus scrapes, not per event.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from reconstream.matchers.bank_codes import BOOKS_TO
from reconstream.models.events import EVENT_TYPE_OF, Event, EventError, Stream
from reconstream.models.exceptions import ROUTING, Category, ExceptionStatus
from reconstream.models.outputs import ApStatus, MatchMethod
from reconstream.streams import Engine, Output, Settings
from reconstream.tables.state import EngineState

from .in_flight import PaymentsInFlight

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

# Buckets sized to what each duration really spans in this business (hours to weeks), not the defaults.
PROCESSING_BUCKETS = (25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 0.1, 1.0)
POSTING_BUCKETS = (HOUR, 4 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY, 14 * DAY, 30 * DAY)
ACK_BUCKETS = (5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, DAY, 2 * DAY)
COMPLETION_BUCKETS = (4 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY, 10 * DAY, 14 * DAY, 30 * DAY)
# The severity rules age exceptions at 1, 3 and 5 days (design.md): those are the edges worth seeing.
AGE_BUCKETS = (HOUR, 4 * HOUR, DAY, 3 * DAY, 5 * DAY, 10 * DAY, 30 * DAY)

STREAMS = tuple(stream.value for stream in Stream)
OUTCOMES = ("applied", "duplicate", "dead_letter")
DEAD_LETTER_CATEGORIES = (Category.MALFORMED_EVENT.value, Category.SCHEMA_VIOLATION.value)
ERP_RESULTS = ("booked", "failed", "timeout")
# The business SLA set of design.md, plus the lag operations watch: what every dashboard must show.
SLA_METRICS = (
    "recon_invoice_posting_latency_seconds",
    "recon_approval_to_posting_seconds",
    "recon_payment_acknowledgment_seconds",
    "recon_reconciliation_completion_seconds",
    "recon_exception_ratio",
    "recon_duplicate_transaction_ratio",
    "recon_erp_sync_success_ratio",
    "recon_consumer_lag_records",
)
RETRY_OPERATIONS = ("payment", "kafka_produce", "kafka_list_offsets", "kafka_recovery")
UNKNOWN = "unknown"  # any label value outside its closed set: the set stays bounded whatever arrives

STREAM_OF_EVENT_TYPE: dict[str, str] = {event_type: stream.value for stream, event_type in EVENT_TYPE_OF.items()}

# Which documents an exception category is a rate of: invoices, payment instructions, bank lines or inputs.
_PER_INVOICE = {
    Category.DUPLICATE_INVOICE,
    Category.AMOUNT_MISMATCH,
    Category.PO_MISSING,
    Category.GR_MISSING,
    Category.UNKNOWN_VENDOR,
    Category.INACTIVE_VENDOR,
    Category.ERP_POSTING_FAILED,
    Category.ERP_TIMEOUT,
}
_PER_PAYMENT = {
    Category.VENDOR_BANK_MISMATCH,
    Category.DUPLICATE_PAYMENT,
    Category.PAYMENT_REJECTED,
    Category.MISSING_ACK,
    Category.MISSING_SETTLEMENT,
    Category.SETTLEMENT_AMOUNT_MISMATCH,
}
_PER_SETTLEMENT = {Category.UNMATCHED_SETTLEMENT}
# malformed_event and schema_violation: per input event.

DEFAULT_MEMORY = 200_000  # per-document timestamps kept for the SLA pairs; the oldest go first


def _remember(table: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    """Bounded memory: a document that never completes is forgotten once `limit` newer ones wait."""
    table[key] = value
    if len(table) > limit:
        table.popitem(last=False)


class Tally:
    """A counter kept as plain numbers per label set: one dict update on the hot path, a family per scrape.

    prometheus_client's Counter takes a lock per increment; the run is the only writer here and a
    scrape reads a snapshot, so plain numbers give the same exposition at a fraction of the cost.
    """

    def __init__(
        self, name: str, documentation: str, labelnames: tuple[str, ...] = (), known: Iterable[tuple[str, ...]] = ()
    ) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        # Known label sets are exposed at 0 from the start: a series that appears late breaks rate().
        self.values: dict[tuple[str, ...], float] = dict.fromkeys(known if labelnames else [()], 0.0)

    def inc(self, key: tuple[str, ...] = (), amount: float = 1.0) -> None:
        self.values[key] = self.values.get(key, 0.0) + amount

    def total(self) -> float:
        return sum(list(self.values.values()))

    def family(self) -> CounterMetricFamily:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, value in list(self.values.items()):
            family.add_metric(list(key), value)
        return family


class Distribution:
    """A histogram kept as plain bucket counts per label set (same reasoning as `Tally`).

    Each label set has one list: the bucket counts, then the sum, so an observation is two list updates.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: tuple[float, ...],
        labelnames: tuple[str, ...] = (),
        known: Iterable[tuple[str, ...]] = (),
    ) -> None:
        self.name, self.documentation, self.labelnames, self.bounds = name, documentation, labelnames, buckets
        self.cells: dict[tuple[str, ...], list[float]] = {}
        for key in known if labelnames else [()]:
            self.cell(key)

    def cell(self, key: tuple[str, ...] = ()) -> list[float]:
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = [0] * (len(self.bounds) + 1) + [0.0]
        return found

    def observe(self, value: float, key: tuple[str, ...] = ()) -> None:
        cell = self.cell(key)
        cell[bisect_left(self.bounds, value)] += 1  # le: a value on a bound counts in that bucket
        cell[-1] += value

    def count(self) -> int:
        return int(sum(sum(cell[:-1]) for cell in list(self.cells.values())))

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, cell in list(self.cells.items()):
            snapshot = list(cell)
            family.add_metric(list(key), _cumulative(self.bounds, snapshot[:-1]), snapshot[-1])
        return family


def _cumulative(bounds: tuple[float, ...], counts: Sequence[float]) -> list[tuple[str, float]]:
    running: float = 0
    buckets: list[tuple[str, float]] = []
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
    return buckets


class RunMetrics:
    """The metric set of design.md on one registry, and the observer both shells call per input."""

    def __init__(self, registry: CollectorRegistry | None = None, memory: int = DEFAULT_MEMORY) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.memory = memory
        streams = (*STREAMS, UNKNOWN)
        routes = [(c.value, k.value, o.value) for c, (k, o) in ROUTING.items()]
        owners = sorted({(owner,) for _, _, owner in routes})
        self.events = Tally(
            "recon_events_processed",
            "Input events by stream and outcome (applied, duplicate, dead_letter).",
            ("stream", "outcome"),
            [(s, o) for s in STREAMS for o in OUTCOMES],
        )
        self.processing = Distribution(
            "recon_event_processing_seconds",
            "Wall time the engine spent on one input event.",
            PROCESSING_BUCKETS,
            ("stream",),
            [(s,) for s in STREAMS],
        )
        self.raised = Tally(
            "recon_exceptions_raised",
            "Exceptions raised, by category, kind and owner queue.",
            ("category", "kind", "owner"),
            routes,
        )
        self.resolved = Tally(
            "recon_exceptions_resolved",
            "Exceptions resolved (a late ack, a settlement, a posting).",
            ("category", "kind", "owner"),
            routes,
        )
        self.resolution = Distribution(
            "recon_exception_resolution_seconds",
            "Event time from an exception's first_seen to its resolution.",
            AGE_BUCKETS,
            ("owner",),
            owners,
        )
        self.dead_letters = Tally(
            "recon_dead_letters",
            "Inputs that could not be applied, by input stream and category.",
            ("stream", "category"),
            [(s, c) for s in STREAMS for c in DEAD_LETTER_CATEGORIES],
        )
        self.retries = Tally(
            "recon_retries",
            "Retries: a payment re-sent after a bank rejection, or a Kafka call tried again.",
            ("operation",),
            [(op,) for op in RETRY_OPERATIONS],
        )
        self.invoices_captured = Tally("recon_invoices_captured", "Invoices captured and validated (or put on hold).")
        self.payments_sent = Tally("recon_payments_sent", "Payment instructions sent to the bank.")
        self.matched = Tally(
            "recon_settlements_matched",
            "Bank entries matched to a payment instruction, by method.",
            ("method",),
            [(method.value,) for method in MatchMethod],
        )
        self.classified = Tally(
            "recon_bank_lines_classified",
            "Bank lines that pay no supplier invoice, routed by their bank codes, by class and by whose books.",
            ("line_class", "books_to"),
            [(kind.value, books.value) for kind, books in BOOKS_TO.items()],
        )
        self.erp_sync = Tally(
            "recon_erp_sync",
            "ERP posting outcomes seen: booked, failed (refused), timeout (no answer in the SLA).",
            ("result",),
            [(result,) for result in ERP_RESULTS],
        )
        self.posting_latency = Distribution(
            "recon_invoice_posting_latency_seconds",
            "Event time from invoice capture to its ERP booking.",
            POSTING_BUCKETS,
        )
        self.approval_to_posting = Distribution(
            "recon_approval_to_posting_seconds",
            "Event time from approval to the ERP booking (cycle time).",
            POSTING_BUCKETS,
        )
        self.payment_ack = Distribution(
            "recon_payment_acknowledgment_seconds",
            "Event time from a payment batch's release to the bank's first pain.002 status for it.",
            ACK_BUCKETS,
        )
        self.completion = Distribution(
            "recon_reconciliation_completion_seconds",
            "Event time from a payment instruction's sending to the match of its settlement.",
            COMPLETION_BUCKETS,
        )
        self.tallies: tuple[Tally | Distribution, ...] = (
            self.events,
            self.processing,
            self.raised,
            self.resolved,
            self.resolution,
            self.dead_letters,
            self.retries,
            self.invoices_captured,
            self.payments_sent,
            self.matched,
            self.classified,
            self.erp_sync,
            self.posting_latency,
            self.approval_to_posting,
            self.payment_ack,
            self.completion,
        )
        # Set from outside the hot path (the Kafka worker at each commit): prometheus_client's own gauges.
        self.consumer_lag = Gauge(
            "recon_consumer_lag_records",
            "Kafka: end offset minus committed offset, per input topic-partition.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.watermark = Gauge(
            "recon_watermark_timestamp_seconds",
            "Event time reached (the largest event time applied), Unix seconds.",
            registry=self.registry,
        )
        self.watermark.set_function(self._watermark_seconds)
        self.registry.register(_ScrapeTimeCollector(self))

        # The hot path's lookups, bound once.
        self._streams = frozenset(streams)
        self._route = {c: (c, k, o) for c, k, o in routes}
        self._processing_cells = {stream: self.processing.cell((stream,)) for stream in streams}
        self._on_status = {
            ApStatus.VALIDATED: self._captured_update,
            ApStatus.ON_HOLD: self._captured_update,
            ApStatus.APPROVED: self._approved_update,
            ApStatus.BOOKED: self._booked_update,
            ApStatus.PAYMENT_SENT: self._payment_sent_update,
            ApStatus.PAYMENT_REJECTED: self._payment_rejected_update,
            ApStatus.POSTING_FAILED: self._posting_failed_update,
            ApStatus.REJECTED: self._rejected_update,
        }  # paid: nothing to pair (the match completes a payment's reconciliation)

        # Open exceptions: id -> (category, kind, owner, first_seen). Bounded by what is really open.
        self.open: dict[str, tuple[str, str, str, datetime]] = {}
        self.watermark_time: datetime | None = None
        # Event-time starts waiting for their end, per document (bounded).
        self._captured: OrderedDict[str, datetime] = OrderedDict()
        self._approved: OrderedDict[str, datetime] = OrderedDict()
        self._in_flight = PaymentsInFlight(memory)  # the instructions sent, for reconciliation completion
        self._released: OrderedDict[str, datetime] = OrderedDict()  # batch id -> released at
        self._rejected: OrderedDict[str, bool] = OrderedDict()  # invoices whose payment the bank rejected

    # -- the hot path -----------------------------------------------------------------------------
    def observe(
        self, stream: str, outcome: str, outputs: list[Output], seconds: float, event: Event | None = None
    ) -> None:
        """One input applied: its stream, outcome, outputs, engine wall time and (when valid) the event."""
        cell = self._processing_cells.get(stream)
        if cell is None:  # outside the closed set: counted, under a bounded value
            stream, cell = UNKNOWN, self._processing_cells[UNKNOWN]
        cell[bisect_left(PROCESSING_BUCKETS, seconds)] += 1
        cell[-1] += seconds
        events, key = self.events.values, (stream, outcome)
        if key in events:
            events[key] += 1
        else:
            self.count_event(stream, outcome)
        if event is not None:
            at = event.event_time
            if self.watermark_time is None or at > self.watermark_time:
                self.watermark_time = at
            if outcome == "applied":
                event_type = event.event_type
                if event_type == "payment_batch.released":
                    _remember(self._released, event.payload.batch_id, at, self.memory)  # type: ignore[union-attr]
                elif event_type == "bank_ack.received":
                    released = self._released.pop(event.payload.original_batch_id, None)  # type: ignore[union-attr]
                    if released is not None:  # the first status for a batch is its acknowledgment
                        self.payment_ack.observe((at - released).total_seconds())
        if outputs:
            self.observe_outputs(outputs, stream)

    def count_event(self, stream: str, outcome: str) -> None:
        """An input counted (`observe` does it; a replay of a finished run's audit log calls it alone)."""
        key = (stream, outcome)
        values = self.events.values
        if key in values:
            values[key] += 1
        else:
            self.events.inc(
                (stream if stream in self._streams else UNKNOWN, outcome if outcome in OUTCOMES else UNKNOWN)
            )

    def observe_outputs(self, outputs: Iterable[Output], stream: str = UNKNOWN) -> None:
        """What the engine emitted; also what a watermark tick's timers emit (no input event behind them)."""
        for output in outputs:
            kind = output.stream
            if kind == "status_updates":
                self._status_update(output.record)
            elif kind == "exceptions":
                self._exception(output.record)
            elif kind == "matches":
                self._match(output.record)
            elif kind == "classified_lines":
                record = output.record
                self.classified.inc((record.line_class, record.books_to.value))  # type: ignore[attr-defined]
            elif kind == "dead_letters":
                category = output.record.category  # type: ignore[attr-defined]
                if category not in DEAD_LETTER_CATEGORIES:
                    category = UNKNOWN
                self.dead_letters.inc((stream if stream in self._streams else UNKNOWN, category))

    def _status_update(self, update: Any) -> None:
        handler = self._on_status.get(update.status)
        if handler is not None:
            handler(update)

    def _captured_update(self, update: Any) -> None:
        self.invoices_captured.values[()] += 1
        _remember(self._captured, update.invoice_id, update.at, self.memory)

    def _approved_update(self, update: Any) -> None:
        _remember(self._approved, update.invoice_id, update.at, self.memory)

    def _booked_update(self, update: Any) -> None:
        self.erp_sync.values[("booked",)] += 1
        captured = self._captured.pop(update.invoice_id, None)
        if captured is not None:
            self.posting_latency.observe((update.at - captured).total_seconds())
        approved = self._approved.pop(update.invoice_id, None)
        if approved is not None:
            self.approval_to_posting.observe((update.at - approved).total_seconds())

    def _payment_sent_update(self, update: Any) -> None:
        e2e = update.end_to_end_id
        if e2e is not None and self._in_flight.sent(e2e, update.invoice_id, update.at):
            self.payments_sent.values[()] += 1
        if self._rejected.pop(update.invoice_id, None) is not None:
            self.retries.values[("payment",)] += 1

    def _payment_rejected_update(self, update: Any) -> None:
        _remember(self._rejected, update.invoice_id, True, self.memory)
        if update.end_to_end_id is not None:
            self._in_flight.landed(update.end_to_end_id)

    def _posting_failed_update(self, update: Any) -> None:
        self.erp_sync.values[("failed",)] += 1

    def _rejected_update(self, update: Any) -> None:
        self._captured.pop(update.invoice_id, None)
        self._approved.pop(update.invoice_id, None)

    def _exception(self, exception: Any) -> None:
        exception_id, route = exception.exception_id, self._route[exception.category.value]
        if exception.status is ExceptionStatus.OPEN:
            if exception_id in self.open:
                return
            self.open[exception_id] = (*route, exception.first_seen)
            self.raised.values[route] += 1
            if exception.category is Category.ERP_TIMEOUT:
                self.erp_sync.values[("timeout",)] += 1
        else:
            opened = self.open.pop(exception_id, None)
            self.resolved.values[route] += 1
            if opened is not None and exception.resolved_at is not None:
                self.resolution.observe((exception.resolved_at - opened[3]).total_seconds(), (route[2],))

    def _match(self, match: Any) -> None:
        self.matched.inc((match.method.value,))
        sent = self._in_flight.landed(match.end_to_end_id)
        if sent is not None:  # the first settlement matched completes the instruction's reconciliation
            self.completion.observe((match.matched_at - sent.sent_at).total_seconds())

    def load_open(self, exceptions: Iterable[Any]) -> None:
        """Exceptions already open in a resumed state: the open gauge and the ages count them too."""
        for exception in exceptions:
            if exception.status is ExceptionStatus.OPEN:
                self.open.setdefault(
                    exception.exception_id, (*self._route[exception.category.value], exception.first_seen)
                )

    def forget_open(self, exceptions: Iterable[Any]) -> None:
        """A Kafka partition moved to another worker: its open exceptions are that worker's to report."""
        for exception in exceptions:
            self.open.pop(exception.exception_id, None)

    # -- what the shells set directly ---------------------------------------------------------------
    def set_consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        """Kafka worker: end offset minus committed offset of an input topic-partition it owns."""
        self.consumer_lag.labels(topic, str(partition)).set(max(0, lag))

    def forget_partition(self, topic: str, partition: int) -> None:
        """A revoked partition's lag is another worker's to report."""
        with contextlib.suppress(KeyError):
            self.consumer_lag.remove(topic, str(partition))

    def retry(self, operation: str) -> None:
        """A shell tried an operation again (e.g. kafka_produce when the local queue was full)."""
        self.retries.inc((operation if operation in RETRY_OPERATIONS else UNKNOWN,))

    def advance(self, watermark: datetime) -> None:
        if self.watermark_time is None or watermark > self.watermark_time:
            self.watermark_time = watermark

    def _watermark_seconds(self) -> float:
        return self.watermark_time.timestamp() if self.watermark_time is not None else 0.0


class _ScrapeTimeCollector(Collector):
    """Open exceptions, their ages and the SLA ratios: computed per scrape, never per event."""

    def __init__(self, metrics: RunMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        m = self.metrics
        for tally in m.tallies:
            yield tally.family()
        open_now = list(m.open.values())  # a snapshot: the run may go on in another thread
        by_labels: dict[tuple[str, str, str], int] = {(c.value, k.value, o.value): 0 for c, (k, o) in ROUTING.items()}
        for category, kind, owner, _ in open_now:
            by_labels[(category, kind, owner)] += 1
        family = GaugeMetricFamily(
            "recon_exceptions_open",
            "Exceptions open now, by category, kind and owner queue.",
            labels=["category", "kind", "owner"],
        )
        for labels, count in by_labels.items():
            family.add_metric(list(labels), count)
        yield family
        yield from self._ages(open_now)
        yield from self._ratios()

    def _ages(
        self, open_now: list[tuple[str, str, str, datetime]]
    ) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        """Open exceptions by age in event time (watermark minus first_seen), per owner queue."""
        now = self.metrics.watermark_time
        owners = sorted({owner.value for _, (_, owner) in ROUTING.items()})
        counts = {owner: [0] * (len(AGE_BUCKETS) + 1) for owner in owners}
        sums = dict.fromkeys(owners, 0.0)
        oldest = dict.fromkeys(owners, 0.0)
        for _, _, owner, first_seen in open_now:
            age = max(0.0, (now - first_seen).total_seconds()) if now is not None else 0.0
            sums[owner] += age
            oldest[owner] = max(oldest[owner], age)
            counts[owner][bisect_left(AGE_BUCKETS, age)] += 1
        # The text format has no gauge histogram: this is a histogram of *current* ages, recomputed per
        # scrape, so read it with histogram_quantile() directly, never through rate().
        family = HistogramMetricFamily(
            "recon_exception_open_age_seconds",
            "Open exceptions by age in event time, per owner queue (a snapshot per scrape: no rate()).",
            labels=["owner"],
        )
        for owner in owners:
            family.add_metric([owner], _cumulative(AGE_BUCKETS, counts[owner]), sums[owner])
        yield family
        oldest_family = GaugeMetricFamily(
            "recon_exception_oldest_open_age_seconds",
            "Age in event time of the oldest open exception, per owner queue (0 when none is open).",
            labels=["owner"],
        )
        for owner in owners:
            oldest_family.add_metric([owner], oldest[owner])
        yield oldest_family

    def _ratios(self) -> Iterator[GaugeMetricFamily]:
        m = self.metrics
        raised: dict[str, float] = {}
        for (category, _, _), value in list(m.raised.values.items()):
            raised[category] = raised.get(category, 0.0) + value
        events = dict(m.events.values)
        inputs = sum(events.values())
        invoices = m.invoices_captured.total()
        payments = m.payments_sent.total()
        settlements = sum(
            v for (stream, outcome), v in events.items() if stream == "settlements" and outcome == "applied"
        )

        exception_ratio = GaugeMetricFamily(
            "recon_exception_ratio",
            "Exceptions raised per document they concern (invoices captured, payments "
            "sent, bank lines applied, or input events), by category.",
            labels=["category"],
        )
        for category in Category:
            if category in _PER_INVOICE:
                base = invoices
            elif category in _PER_PAYMENT:
                base = payments
            elif category in _PER_SETTLEMENT:
                base = settlements
            else:
                base = inputs
            if base:
                exception_ratio.add_metric([category.value], raised.get(category.value, 0.0) / base)
        yield exception_ratio

        duplicates = GaugeMetricFamily(
            "recon_duplicate_transaction_ratio",
            "Duplicates caught per document: invoices (duplicate_invoice per "
            "invoice captured), payments (duplicate_payment per instruction sent), events (redeliveries per input).",
            labels=["document"],
        )
        if invoices:
            duplicates.add_metric(["invoice"], raised.get(Category.DUPLICATE_INVOICE.value, 0.0) / invoices)
        if payments:
            duplicates.add_metric(["payment"], raised.get(Category.DUPLICATE_PAYMENT.value, 0.0) / payments)
        if inputs:
            redelivered = sum(v for (_, outcome), v in events.items() if outcome == "duplicate")
            duplicates.add_metric(["event"], redelivered / inputs)
        yield duplicates

        erp = {labels[0]: value for labels, value in list(m.erp_sync.values.items())}
        attempts = sum(erp.values())
        success = GaugeMetricFamily(
            "recon_erp_sync_success_ratio",
            "ERP postings booked per posting outcome seen (booked, failed, timeout).",
        )
        if attempts:
            success.add_metric([], erp.get("booked", 0.0) / attempts)
        yield success


class ObservedEngine(Engine):
    """The engine, timed and observed: what both shells use when metrics are on (one line to wire).

    The outcome is decided as the embedded runner decides it: an event id seen before is a duplicate,
    an event that produced a dead letter is one; everything else was applied.
    """

    def __init__(self, state: EngineState, settings: Settings | None = None, metrics: RunMetrics | None = None) -> None:
        super().__init__(state, settings)
        self.metrics = metrics if metrics is not None else RunMetrics()
        # A resumed state (embedded --state-dir, or a Kafka partition restored from its changelog) already
        # has open exceptions and an event time: start the gauges from them, not from zero.
        self.metrics.load_open(exception for _, exception in state.exceptions.items())
        if self.watermark_us:
            self.metrics.advance(self.watermark)

    def process(self, event: Event, source: str = "") -> list[Output]:
        seen = event.event_id in self.state.seen_events
        started = perf_counter()
        outputs = super().process(event, source)
        seconds = perf_counter() - started
        if seen:
            outcome = "duplicate"
        elif outputs and any(o.stream == "dead_letters" for o in outputs):
            outcome = "dead_letter"
        else:
            outcome = "applied"
        self.metrics.observe(STREAM_OF_EVENT_TYPE.get(event.event_type, UNKNOWN), outcome, outputs, seconds, event)
        return outputs

    def reject(self, error: EventError, source: str, stream: str, raw: bytes, at_us: int = 0) -> list[Output]:
        started = perf_counter()
        outputs = super().reject(error, source, stream, raw, at_us)
        self.metrics.observe(stream, "dead_letter", outputs, perf_counter() - started)
        return outputs

    def advance_to(self, event_time_us: int) -> list[Output]:
        outputs = super().advance_to(event_time_us)
        self.metrics.advance(self.watermark)
        self.metrics.observe_outputs(outputs)
        return outputs
