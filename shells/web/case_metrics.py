"""The case store's queues as Prometheus gauges, read at each scrape: what is open, what is overdue and
how old the oldest open case is, per owner queue. Unlike the engine's exception gauges these count what
people resolved, so resolving a queue's cases clears its overdue alert (ops/prometheus/alerts.yml)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from reconstream.models.exceptions import OwnerQueue

from ..cases.store import CaseStore


class CaseQueueMetrics(Collector):
    def __init__(self, store: CaseStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        stats = self.store.queue_stats(now)
        open_cases = GaugeMetricFamily("recon_cases_open", "Open cases not snoozed, by owner queue", labels=["owner"])
        overdue = GaugeMetricFamily(
            "recon_cases_overdue", "Open cases past their due time, not snoozed, by owner queue", labels=["owner"]
        )
        oldest = GaugeMetricFamily(
            "recon_case_oldest_open_age_seconds",
            "Age of the oldest open case not snoozed (0 when none), by owner queue",
            labels=["owner"],
        )
        for owner in OwnerQueue:  # every queue, zero when empty: an alert on it clears rather than goes stale
            count, late, first_seen = stats.get(owner.value, (0, 0, None))
            open_cases.add_metric([owner.value], count)
            overdue.add_metric([owner.value], late)
            oldest.add_metric([owner.value], max(0.0, (now - first_seen).total_seconds()) if first_seen else 0.0)
        yield open_cases
        yield overdue
        yield oldest
