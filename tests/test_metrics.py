"""Run metrics: Prometheus naming, bounded labels, every metric filled by a small month, event-time SLAs."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from reconstream.models.events import Stream
from reconstream.models.exceptions import Category
from reconstream.shells.embedded import EmbeddedRunner, RunSummary, run
from reconstream.shells.metrics import RunMetrics
from reconstream.shells.metrics_replay import replay
from reconstream.synthetic import generate

# Every label and the most values it may take: closed sets, never document ids.
LABEL_BOUNDS = {
    "stream": len(Stream) + 1,  # the input streams + unknown
    "outcome": 4,
    "category": len(Category) + 1,
    "kind": 2,
    "owner": 4,
    "operation": 4,
    "result": 3,
    "method": 8,
    "line_class": 14,  # matchers.bank_codes.LineClass
    "books_to": 4,
    "document": 3,
    "topic": 16,
    "partition": 64,
    "le": 16,
}
ID_LIKE = re.compile(r"^(AP-|PMT-|exc-|upd-|match-|dl-|evt-|V\d)|\d{5,}")


def observed_month(directory: Path, invoices: int = 300, seed: int = 5) -> tuple[Path, Path, RunMetrics, RunSummary]:
    """A generated month, plus a late ERP posting that resolves a posting failure, run with metrics on."""
    input_dir, out_dir = directory / "input", directory / "out"
    generate(input_dir, invoices=invoices, seed=seed)
    _post_a_failed_invoice_late(input_dir / "invoice_status.jsonl")
    metrics = RunMetrics()
    summary = run(input_dir, out_dir, metrics=metrics)
    metrics.set_consumer_lag("recon.invoices", 0, 42)  # the Kafka worker's part, set as it would
    metrics.retry("kafka_produce")
    return input_dir, out_dir, metrics, summary


def _post_a_failed_invoice_late(path: Path) -> None:
    """The generator never resolves anything; one late posting makes the resolution metrics real."""
    events = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip().startswith(b"{")]
    valid = [e for e in events if isinstance(e.get("payload"), dict) and "status" in e["payload"]]
    failed = next(e for e in valid if e["payload"]["status"] == "posting_failed")
    posted = next(e for e in valid if e["payload"]["status"] == "posted")
    last = max(datetime.fromisoformat(e["event_time"]) for e in valid if isinstance(e.get("event_time"), str))
    late = {
        **posted,
        "event_id": "evt-test-late-posting",
        "correlation_id": failed.get("correlation_id"),
        "event_time": last.isoformat().replace("+00:00", "Z"),
        "ingest_time": last.isoformat().replace("+00:00", "Z"),
        "payload": {
            **posted["payload"],
            "invoice_id": failed["payload"]["invoice_id"],
            "erp_document_number": "5100999999",
        },
    }
    with path.open("ab") as handle:
        handle.write(orjson.dumps(late) + b"\n")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, RunMetrics, RunSummary]:
    return observed_month(tmp_path_factory.mktemp("observed"))


def families(registry: CollectorRegistry) -> dict[str, list]:
    return {f.name: f.samples for f in registry.collect()}


def test_names_follow_prometheus_conventions(month: tuple[Path, Path, RunMetrics, RunSummary]) -> None:
    metrics = month[2]
    values: dict[tuple[str, str], set[str]] = {}  # (family for le, else "", label) -> values seen
    for family in metrics.registry.collect():
        name = family.name
        assert name.startswith("recon_") and not name.startswith("recon_recon_"), name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), name
        else:
            assert not name.endswith("_total"), f"{name}: only counters end in _total"
        if family.type == "histogram" or any(w in name for w in ("latency", "age", "time", "duration")):
            assert name.endswith("_seconds"), f"{name}: durations and times are in seconds"
        assert not re.search(r"_(ms|milliseconds|minutes|hours|days|percent)(_|$)", name), name
        if family.type == "gauge" and "ratio" in name:
            assert name.endswith("_ratio"), name
        for sample in family.samples:
            for label, value in sample.labels.items():
                assert label in LABEL_BOUNDS, f"{name}: label {label!r} is not one of the bounded labels"
                assert "id" not in label.split("_"), f"{name}: {label} would carry document ids"
                assert label == "le" or not ID_LIKE.search(value), f"{name}: {label}={value!r} looks like an id"
                values.setdefault((name if label == "le" else "", label), set()).add(value)
    for (_, label), seen in values.items():
        assert len(seen) <= LABEL_BOUNDS[label], f"{label}: {len(seen)} distinct values"


def test_every_metric_has_values_after_a_small_month(month: tuple[Path, Path, RunMetrics, RunSummary]) -> None:
    empty = []
    for name, samples in families(month[2].registry).items():
        counts = [s.value for s in samples if s.name.endswith("_count")] or [s.value for s in samples]
        if not any(value > 0 for value in counts):
            empty.append(name)
    assert empty == []
    text = (month[1] / "exceptions.jsonl").read_bytes()
    assert b'"status":"resolved"' in text  # the late posting resolved its posting failure


def test_counts_agree_with_the_run_summary(month: tuple[Path, Path, RunMetrics, RunSummary]) -> None:
    _, _, metrics, summary = month
    samples = families(metrics.registry)
    by_outcome: dict[str, float] = {}
    for s in samples["recon_events_processed"]:
        by_outcome[s.labels["outcome"]] = by_outcome.get(s.labels["outcome"], 0) + s.value
    assert {k: v for k, v in by_outcome.items() if v} == dict(summary.outcomes)
    open_now = {s.labels["category"]: s.value for s in samples["recon_exceptions_open"] if s.value}
    raised = {s.labels["category"]: s.value for s in samples["recon_exceptions_raised"] if s.value}
    assert raised == dict(summary.exceptions)  # the summary counts exceptions raised
    resolved = {s.labels["category"]: s.value for s in samples["recon_exceptions_resolved"] if s.value}
    assert resolved == {"erp_posting_failed": 1}
    assert open_now == {c: n - resolved.get(c, 0) for c, n in raised.items() if n - resolved.get(c, 0)}
    dead = sum(s.value for s in samples["recon_dead_letters"])
    assert dead == summary.dead_letters
    matched = sum(s.value for s in samples["recon_settlements_matched"])
    assert matched == summary.matches


def test_sla_durations_are_event_time_pairs_from_the_outputs(month: tuple[Path, Path, RunMetrics, RunSummary]) -> None:
    out_dir, metrics = month[1], month[2]
    captured: dict[str, datetime] = {}
    approved: dict[str, datetime] = {}
    posting, cycle = [], []
    for line in (out_dir / "status_updates.jsonl").read_bytes().splitlines():
        update = orjson.loads(line)
        at = datetime.fromisoformat(update["at"])
        if update["status"] in ("validated", "on_hold"):
            captured[update["invoice_id"]] = at
        elif update["status"] == "approved":
            approved[update["invoice_id"]] = at
        elif update["status"] == "booked":
            posting.append((at - captured.pop(update["invoice_id"])).total_seconds())
            cycle.append((at - approved.pop(update["invoice_id"])).total_seconds())
    samples = {s.name: s.value for fam in metrics.registry.collect() for s in fam.samples if not s.labels}
    assert samples["recon_invoice_posting_latency_seconds_count"] == len(posting) > 250
    assert samples["recon_invoice_posting_latency_seconds_sum"] == pytest.approx(sum(posting))
    assert samples["recon_approval_to_posting_seconds_sum"] == pytest.approx(sum(cycle))
    assert 0 < samples["recon_erp_sync_success_ratio"] < 1
    # The watermark is the run's event time, not the wall clock.
    as_of = orjson.loads((out_dir / "cash_positions.json").read_bytes())["as_of"]
    assert samples["recon_watermark_timestamp_seconds"] == datetime.fromisoformat(as_of).timestamp()


def test_replaying_the_output_folder_gives_the_live_figures(month: tuple[Path, Path, RunMetrics, RunSummary]) -> None:
    input_dir, out_dir, live, _ = month
    replayed = replay(RunMetrics(), out_dir, input_dir)

    def comparable(metrics: RunMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        skip = ("recon_event_processing_seconds", "recon_consumer_lag_records", "recon_retries")
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in metrics.registry.collect()
            if fam.name not in skip
            for s in fam.samples
        }

    assert comparable(replayed) == pytest.approx(comparable(live))


def test_observing_changes_no_output(month: tuple[Path, Path, RunMetrics, RunSummary], tmp_path: Path) -> None:
    input_dir, out_dir = month[0], month[1]
    run(input_dir, tmp_path / "plain")
    for name in ("exceptions.jsonl", "matches.jsonl", "status_updates.jsonl", "audit.jsonl", "cash_positions.json"):
        assert (tmp_path / "plain" / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_memory_stays_bounded_and_unknown_labels_collapse(month: tuple[Path, Path, RunMetrics, RunSummary]) -> None:
    small = RunMetrics(memory=5)
    replay(small, month[1], month[0])
    assert max(len(small._captured), len(small._approved), len(small._in_flight), len(small._rejected)) <= 5
    small.observe("not-a-stream", "applied", [], 0.001)
    small.count_event("invoices", "not-an-outcome")
    small.retry("whatever")
    labels = {s.labels.get("stream") for fam in small.registry.collect() for s in fam.samples}
    assert "not-a-stream" not in labels and "unknown" in labels


def test_consumer_lag_per_partition_and_its_removal() -> None:
    metrics = RunMetrics()
    metrics.set_consumer_lag("recon.invoices", 3, 120)
    metrics.set_consumer_lag("recon.invoices", 4, -5)  # a stale end offset never shows as negative lag
    text = "\n".join(
        f"{s.name}{s.labels} {s.value}"
        for fam in metrics.registry.collect()
        for s in fam.samples
        if s.name == "recon_consumer_lag_records"
    )
    assert "'partition': '3'" in text and "120.0" in text and "'partition': '4'" in text
    metrics.forget_partition("recon.invoices", 3)
    metrics.forget_partition("recon.invoices", 99)  # never set: nothing to forget, no error
    exposed = [
        f for f in text_string_to_metric_families(_exposition(metrics)) if f.name == "recon_consumer_lag_records"
    ]
    assert [s.labels["partition"] for s in exposed[0].samples] == ["4"]
    assert exposed[0].samples[0].value == 0


def _exposition(metrics: RunMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_a_resumed_state_starts_with_its_open_exceptions(
    month: tuple[Path, Path, RunMetrics, RunSummary], tmp_path: Path
) -> None:
    input_dir, _, live, _ = month
    run(input_dir, tmp_path / "out", state_dir=tmp_path / "state")
    resumed = RunMetrics()
    runner = EmbeddedRunner(input_dir, tmp_path / "out", state_dir=tmp_path / "state", metrics=resumed)
    try:
        assert runner.run().events > 0  # nothing new to read: the finished state is resumed as it is
        assert resumed.open == live.open
        assert resumed.watermark_time == live.watermark_time
        resumed.forget_open(exception for _, exception in runner.engine.state.exceptions.items())
        assert resumed.open == {}  # what a Kafka worker does when the partition is revoked
    finally:
        runner.close()
