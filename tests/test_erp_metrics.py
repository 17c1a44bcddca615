"""ERP posting metrics (shells/erp/metrics.py): a real PostingService posts through real simulators on loopback
with faults on, and the scraped figures must equal what the posting queue and the simulators' own records say.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from erp_months import RECON, erp_config
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from reconstream.models.invoices import Invoice
from reconstream.models.outputs import PostingRequest
from reconstream.shells.erp.errors import Cause
from reconstream.shells.erp.limits import BreakerState
from reconstream.shells.erp.local import LocalErp, start_local
from reconstream.shells.erp.metrics import PostingMetrics
from reconstream.shells.erp.queue import DECIDED, PENDING, POSTED, REJECTED, TIMED_OUT, PostingQueue
from reconstream.shells.erp.registry import adapter_class
from reconstream.shells.erp.service import Lane, LanePolicy, PostingService
from reconstream.shells.erp.simulator import Faults, Rules
from reconstream.shells.sinks.posting import new_posting
from servers import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

BLOCKED = "V9"
# Quick retries and a breaker that only the outage test can trip: the figures then depend on the faults alone.
QUICK = LanePolicy(
    concurrency=3,
    rate_per_second=1000.0,
    burst=100,
    max_attempts=12,
    max_backoff_seconds=0.02,
    breaker_threshold=1000,
    breaker_cool_off_seconds=0.2,
)


# -- helpers ------------------------------------------------------------------------------------------------
def posting_request(number: str, company_code: str, vendor: str = "V1") -> PostingRequest:
    invoice = Invoice.model_validate(
        {
            "invoice_id": f"ap-{number}",
            "supplier_invoice_number": number,
            "vendor_id": vendor,
            "company_code": company_code,
            "invoice_date": "2026-11-03",
            "due_date": "2026-12-03",
            "currency": "EUR",
            "net_amount": "100.00",
            "tax_amount": "19.00",
            "gross_amount": "119.00",
            "lines": [
                {
                    "line_no": 1,
                    "description": "Office chairs",
                    "quantity": "2",
                    "unit_price": "50.00",
                    "net_amount": "100.00",
                    "tax_rate": "19",
                }
            ],
        }
    )
    return PostingRequest(
        posting_id=f"ap-{number}",
        invoice_id=f"ap-{number}",
        company_code=company_code,
        approved_at=datetime(2026, 11, 4, 9, 0, tzinfo=UTC),
        due_date=invoice.due_date,
        invoice=invoice,
    )


def enqueue(queue: PostingQueue, requests: list[PostingRequest], routes: dict[str, str]) -> None:
    """Through the sink's own conversion, as the engine's posting requests enter the queue."""
    postings = [new_posting(r, r.model_dump_json(exclude_none=True).encode(), routes) for r in requests]
    assert queue.enqueue(postings, time.time()) == len(postings)


def scrape(registry: CollectorRegistry) -> Samples:
    """What Prometheus would read: the text exposition, parsed back."""
    samples: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def records(erp: LocalErp) -> dict[str, Any]:
    """The simulator's own records, read over its control endpoint as an outside observer would."""
    return httpx.get(f"{erp.url}/_sim/records").json()


def set_faults(erp: LocalErp, **changes: Any) -> None:
    httpx.post(f"{erp.url}/_sim/faults", json=changes).raise_for_status()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@dataclass
class Rig:
    """Simulators, lanes, a queue and the service, torn down in reverse whatever the test did."""

    path: Path
    erps: list[LocalErp] = field(default_factory=list)
    lanes: dict[str, Lane] = field(default_factory=dict)
    services: list[PostingService] = field(default_factory=list)
    queues: list[PostingQueue] = field(default_factory=list)

    def erp(self, name: str, kind: str, policy: LanePolicy, faults: Faults | None = None) -> LocalErp:
        local = start_local(kind, faults, Rules(blocked_suppliers=frozenset({BLOCKED})))
        self.erps.append(local)
        self.lanes[name] = Lane(name, adapter_class(kind)(local.target(name, timeout_seconds=5.0)), policy)
        return local

    def queue(self) -> PostingQueue:
        queue = PostingQueue(self.path / f"postings-{len(self.queues)}.sqlite")
        self.queues.append(queue)
        return queue

    def service(self, queue: PostingQueue, metrics: PostingMetrics) -> PostingService:
        service = PostingService(queue, self.lanes, metrics)
        self.services.append(service)
        service.start()
        return service

    def close(self) -> None:
        for service in self.services:
            service.stop()
        for lane in self.lanes.values():
            lane.adapter.close()
        for queue in self.queues:
            queue.close()
        for local in self.erps:
            local.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    built = Rig(tmp_path)
    try:
        yield built
    finally:
        built.close()


# -- the figures against the queue and the simulators -------------------------------------------------------
def test_scraped_figures_equal_the_queue_and_the_simulators_records(rig: Rig) -> None:
    # s4 throttles and fails a fifth of its writes each and refuses a blocked supplier; fusion fails every
    # write, so each of its postings spends its budget of 3 and times out; company code 3030 has no ERP.
    s4 = rig.erp(
        "s4",
        "sap",
        QUICK,
        Faults(throttle_rate=0.2, retry_after_seconds=0.02, server_error_rate=0.2, seed=14),
    )
    fusion = rig.erp("fusion", "oracle", replace(QUICK, max_attempts=3), Faults(server_error_rate=1.0))
    routes = {"1010": "s4", "2020": "fusion"}
    queue = rig.queue()
    registry = CollectorRegistry()
    metrics = PostingMetrics(registry, rig.lanes, queue)

    clean = [posting_request(f"S4-{n:03d}", "1010") for n in range(26)]
    blocked = [posting_request(f"S4-B{n}", "1010", vendor=BLOCKED) for n in range(4)]
    doomed = [posting_request(f"FU-{n}", "2020") for n in range(3)]
    unrouted = [posting_request(f"NO-{n}", "3030") for n in range(2)]
    enqueue(queue, clean + blocked + doomed + unrouted, routes)
    service = rig.service(queue, metrics)
    assert service.wait_drained(timeout=10)

    samples = scrape(registry)
    counts = queue.counts()
    s4_records, fusion_records = records(s4), records(fusion)

    # Verdicts: the queue's, and the simulators' documents.
    for erp in ("s4", "fusion"):
        for result in DECIDED:
            assert value(samples, "recon_erp_postings_total", erp=erp, result=result) == counts.get((erp, result), 0)
    assert value(samples, "recon_erp_postings_total", erp="s4", result=POSTED) == len(s4_records["documents"]) == 26
    assert {d["invoice_reference"] for d in s4_records["documents"]} == {
        r.invoice.supplier_invoice_number for r in clean
    }
    assert value(samples, "recon_erp_postings_total", erp="s4", result=REJECTED) == 4
    assert value(samples, "recon_erp_postings_total", erp="fusion", result=TIMED_OUT) == 3
    assert fusion_records["documents"] == []

    # Retries: every 429 and 500 the simulators answered, by cause; and, from the queue, every attempt that
    # got no verdict (all attempts, less the one that got a posted or rejected answer, and the 429s).
    s4_stats, fusion_stats = s4_records["stats"], fusion_records["stats"]
    assert s4_stats.get("throttled", 0) > 0 and s4_stats.get("server_error", 0) > 0  # the faults did hit
    assert value(samples, "recon_erp_posting_retries_total", erp="s4", cause="throttled") == s4_stats["throttled"]
    assert value(samples, "recon_erp_posting_retries_total", erp="s4", cause="server_error") == s4_stats["server_error"]
    assert value(samples, "recon_erp_posting_retries_total", erp="fusion", cause="server_error") == 9
    assert fusion_stats["server_error"] == 9
    for erp in ("s4", "fusion"):
        decided = [row for row in queue.decided() if row[1] == erp]
        counted, throttled = queue.attempts()[erp]  # a 429 spends no attempt: the queue counts it apart
        no_verdict = counted - sum(1 for row in decided if row[2] != TIMED_OUT) + throttled
        assert (
            sum(value(samples, "recon_erp_posting_retries_total", erp=erp, cause=c.value) for c in Cause) == no_verdict
        )
        for cause in (Cause.TIMEOUT, Cause.CONNECTION, Cause.AUTH):
            assert value(samples, "recon_erp_posting_retries_total", erp=erp, cause=cause.value) == 0

    # Histograms: one observation per verdict, and time in the queue covers the deciding call.
    for erp in ("s4", "fusion"):
        for result in DECIDED:
            verdicts = value(samples, "recon_erp_postings_total", erp=erp, result=result)
            for name in ("recon_erp_call_duration_seconds", "recon_erp_enqueue_to_verdict_seconds"):
                assert value(samples, f"{name}_count", erp=erp, result=result) == verdicts
                assert value(samples, f"{name}_bucket", erp=erp, result=result, le="+Inf") == verdicts
            call = value(samples, "recon_erp_call_duration_seconds_sum", erp=erp, result=result)
            queued = value(samples, "recon_erp_enqueue_to_verdict_seconds_sum", erp=erp, result=result)
            assert 0 <= call <= queued

    # The queue now: nothing waits for an ERP; the two unrouted postings wait for a company code's ERP.
    for erp in ("s4", "fusion"):
        for state in ("pending", "in_flight", "parked"):
            assert value(samples, "recon_erp_queue_postings", erp=erp, state=state) == 0
    assert value(samples, "recon_erp_queue_postings", erp="", state="unrouted") == counts[("", "unrouted")] == 2

    assert value(samples, "recon_erp_posting_success_ratio", erp="s4") == pytest.approx(26 / 30)
    assert value(samples, "recon_erp_posting_success_ratio", erp="fusion") == 0.0
    for erp in ("s4", "fusion"):
        assert value(samples, "recon_erp_breaker_state", erp=erp) == 0
        assert value(samples, "recon_erp_breaker_opened_total", erp=erp) == rig.lanes[erp].breaker.opened == 0


def test_the_breaker_gauge_opens_while_the_erp_is_down_and_closes_after(rig: Rig) -> None:
    policy = replace(QUICK, concurrency=2, max_attempts=100, breaker_threshold=3)
    fusion = rig.erp("fusion", "oracle", policy)
    queue = rig.queue()
    registry = CollectorRegistry()
    metrics = PostingMetrics(registry, rig.lanes, queue)
    service = rig.service(queue, metrics)

    set_faults(fusion, down=True)
    enqueue(queue, [posting_request(f"FU-{n}", "2020") for n in range(8)], {"2020": "fusion"})
    wait_for(lambda: value(scrape(registry), "recon_erp_breaker_state", erp="fusion") == 2)
    time.sleep(0.5)  # past two cool-offs: probes go, fail, and the breaker opens again

    samples = scrape(registry)
    assert value(samples, "recon_erp_breaker_state", erp="fusion") == 2
    assert value(samples, "recon_erp_breaker_opened_total", erp="fusion") >= 1
    # Parked, not pending: nothing is decided while the ERP is down (the budget is not spent on it), and at
    # most a probe is in flight.
    depth = {s: value(samples, "recon_erp_queue_postings", erp="fusion", state=s) for s in ("pending", "in_flight")}
    parked = value(samples, "recon_erp_queue_postings", erp="fusion", state="parked")
    assert depth["pending"] == 0
    assert parked + depth["in_flight"] == 8 and parked >= 8 - policy.concurrency
    assert all(value(samples, "recon_erp_postings_total", erp="fusion", result=r) == 0 for r in DECIDED)
    assert ("recon_erp_posting_success_ratio", (("erp", "fusion"),)) not in samples  # no verdict: no ratio

    set_faults(fusion, down=False)
    assert service.wait_drained(timeout=5)
    samples = scrape(registry)
    fusion_records = records(fusion)
    assert value(samples, "recon_erp_breaker_state", erp="fusion") == 0
    assert value(samples, "recon_erp_postings_total", erp="fusion", result=POSTED) == 8
    assert len(fusion_records["documents"]) == 8
    assert value(samples, "recon_erp_posting_success_ratio", erp="fusion") == 1.0
    for state in ("pending", "in_flight", "parked"):
        assert value(samples, "recon_erp_queue_postings", erp="fusion", state=state) == 0
    # Each attempt while down was one look-up answered 503, which the simulator counted.
    down = fusion_records["stats"]["down"]
    assert value(samples, "recon_erp_posting_retries_total", erp="fusion", cause="server_error") == down >= 3
    attempts = sum(row[6] for row in queue.decided())
    assert attempts - 8 == down
    opened = value(samples, "recon_erp_breaker_opened_total", erp="fusion")
    assert 1 <= opened <= rig.lanes["fusion"].breaker.opened


# -- the sensor on its own ----------------------------------------------------------------------------------
def test_counts_from_many_threads_are_exact_and_labels_stay_closed(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics = PostingMetrics(registry, ["s4", "fusion"])
    threads, per_thread = 8, 2000

    def report() -> None:
        for n in range(per_thread):
            metrics.on_retry("s4", Cause.THROTTLED)
            metrics.on_decided("s4", POSTED, 0.02, 1.5 + n % 3)

    workers = [threading.Thread(target=report) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    metrics.on_retry("sap-typo", Cause.AUTH)  # an ERP outside the config, a state outside the queue's
    metrics.on_decided("s4", "lost", -1.0, -1.0)  # a clock step back must not subtract from _sum
    metrics.on_breaker("fusion", BreakerState.HALF_OPEN)

    samples = scrape(registry)
    total = threads * per_thread
    assert value(samples, "recon_erp_posting_retries_total", erp="s4", cause="throttled") == total
    assert value(samples, "recon_erp_postings_total", erp="s4", result=POSTED) == total
    assert value(samples, "recon_erp_call_duration_seconds_count", erp="s4", result=POSTED) == total
    assert value(samples, "recon_erp_call_duration_seconds_bucket", erp="s4", result=POSTED, le="0.01") == 0
    assert value(samples, "recon_erp_call_duration_seconds_bucket", erp="s4", result=POSTED, le="0.025") == total
    assert value(samples, "recon_erp_enqueue_to_verdict_seconds_bucket", erp="s4", result=POSTED, le="1.0") == 0
    assert value(samples, "recon_erp_posting_retries_total", erp="unknown", cause="auth") == 1
    assert value(samples, "recon_erp_postings_total", erp="s4", result="unknown") == 1
    assert value(samples, "recon_erp_call_duration_seconds_sum", erp="s4", result="unknown") == 0
    assert value(samples, "recon_erp_breaker_state", erp="fusion") == 1
    assert value(samples, "recon_erp_breaker_state", erp="s4") == 0
    # Every known series from the start, at 0: rate() needs no first event.
    assert value(samples, "recon_erp_posting_retries_total", erp="fusion", cause="timeout") == 0
    assert value(samples, "recon_erp_postings_total", erp="fusion", result=TIMED_OUT) == 0
    assert not any(name == "recon_erp_queue_postings" for name, _ in samples)  # no queue attached yet

    # The queue comes later (PostingBeside opens it), and a queue that cannot be read leaves the rest scraped.
    queue = PostingQueue(tmp_path / "postings.sqlite")
    enqueue(queue, [posting_request("S4-1", "1010")], {"1010": "s4"})
    metrics.attach(queue)
    assert value(scrape(registry), "recon_erp_queue_postings", erp="s4", state=PENDING) == 1
    queue.close()
    samples = scrape(registry)
    assert not any(name == "recon_erp_queue_postings" for name, _ in samples)
    assert value(samples, "recon_erp_postings_total", erp="s4", result=POSTED) == total

    with pytest.raises(ValueError, match="Duplicated timeseries"):
        PostingMetrics(registry, ["s4"])  # a second sensor on one registry is refused, not exposed twice


def test_recon_post_drain_serves_the_posting_metrics_while_it_posts(tmp_path: Path) -> None:
    """`recon post drain --metrics-port`: a real drain process, scraped over HTTP while it posts to a simulator
    that answers each write slowly; what it served agrees with the queue it leaves."""
    local = start_local("sap", Faults(slow_rate=1.0, slow_seconds=0.15))
    try:
        requests = [posting_request(f"DR-{n:03d}", "1010") for n in range(24)]
        lines = tmp_path / "posting_requests.jsonl"
        lines.write_bytes(b"".join(r.model_dump_json(exclude_none=True).encode() + b"\n" for r in requests))
        entry = local.config_entry("s4", ["1010"], local.write_credentials(tmp_path / "sap.json"))
        config = erp_config(tmp_path / "recon.toml", entry, concurrency=1)
        queue_path = tmp_path / "postings.sqlite"
        subprocess.run(
            [*RECON, "post", "enqueue", str(lines), "--queue", str(queue_path), "--config", str(config)], check=True
        )
        port = free_port()
        command = [*RECON, "post", "drain", "--queue", str(queue_path), "--config", str(config)]
        drain = subprocess.Popen([*command, "--metrics-port", str(port)], stderr=subprocess.PIPE, text=True)
        try:
            seen: dict[str, float] = {}

            def posting_and_scraped() -> bool:
                try:
                    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2.0).text
                except httpx.TransportError:
                    return False
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if sample.labels.get("erp") == "s4":
                            seen[f"{sample.name}|{sample.labels.get('result') or sample.labels.get('state')}"] = (
                                sample.value
                            )
                return seen.get("recon_erp_postings_total|posted", 0) >= 3

            wait_for(posting_and_scraped, timeout=60.0)
            assert seen["recon_erp_queue_postings|pending"] > 0  # still working through the burst
            assert drain.wait(timeout=120) == 0, drain.stderr.read() if drain.stderr else ""
        finally:
            if drain.poll() is None:
                drain.kill()
                drain.wait()
        assert len(records(local)["documents"]) == len(requests)
        queue = PostingQueue(queue_path)
        try:
            assert {state for (_, state) in queue.counts()} == {POSTED}
        finally:
            queue.close()
    finally:
        local.stop()
