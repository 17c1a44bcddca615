"""The distributed shell on a real Apache Kafka broker: parity with the embedded engine, two workers,
a SIGKILL mid-run, and bad input on a topic. Every process here is a real `recon` subprocess."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from reconstream.shells.audit import chain_hash
from reconstream.shells.embedded import run
from reconstream.shells.kafka.audit_topic import read_partitions
from reconstream.shells.kafka.tail import read_topic
from reconstream.shells.kafka.topics import OUTPUT_STREAMS, Topics
from reconstream.synthetic import generate

pytestmark = pytest.mark.kafka

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
INVOICES = int(os.environ.get("RECON_KAFKA_INVOICES", "8000"))  # ~40,000 events over six partitions
REFUSED = {"malformed_event", "schema_violation"}  # their refs name the input's place, which differs by shell


@dataclass
class Results:
    """What both shells must agree on, with the transport-specific part (where a bad input sat) left out."""

    exceptions: dict[str, dict[str, Any]]  # final record per exception_id
    refused: Counter[tuple[str, str]]  # (category, reason) of exceptions raised for refused input
    dead_letters: Counter[tuple[Any, ...]]
    matches: dict[str, dict[str, Any]]
    status_updates: dict[str, dict[str, Any]]
    cash_positions: dict[str, dict[str, Any]]


def results_of(records: dict[str, list[dict[str, Any]]]) -> Results:
    """Deduplicated by id first: a consumer of at-least-once output keeps one record per id (the last)."""
    latest = {record["exception_id"]: record for record in records["exceptions"]}
    refused = Counter((e["category"], e["reason"]) for e in latest.values() if e["category"] in REFUSED)
    dead = {d["dead_letter_id"]: d for d in records["dead_letters"]}.values()
    return Results(
        exceptions={i: e for i, e in latest.items() if e["category"] not in REFUSED},
        refused=refused,
        dead_letters=Counter(
            (d["stream"], d["category"], d["field"], d["reason"], d.get("event_id"), d["raw"]) for d in dead
        ),
        matches={m["match_id"]: m for m in records["matches"]},
        status_updates={u["update_id"]: u for u in records["status_updates"]},
        cash_positions={f"{c['account']}|{c['currency']}": c for c in records["cash_positions"]},
    )


def embedded_results(out_dir: Path) -> Results:
    records = {
        name: [orjson.loads(line) for line in (out_dir / f"{name}.jsonl").read_bytes().splitlines()]
        for name in ("exceptions", "matches", "status_updates", "dead_letters")
    }
    records["cash_positions"] = orjson.loads((out_dir / "cash_positions.json").read_bytes())["positions"]
    return results_of(records)


def kafka_results(bootstrap: str, topics: Topics) -> Results:
    records: dict[str, list[dict[str, Any]]] = {}
    for name in OUTPUT_STREAMS:
        values = [value for _, value in read_topic(bootstrap, topics.output(name), to_end=True) if value]
        records[name] = [orjson.loads(value) for value in values]
    return results_of(records)


def assert_same(kafka: Results, embedded: Results) -> None:
    assert kafka.matches.keys() == embedded.matches.keys()
    assert kafka.matches == embedded.matches
    assert kafka.exceptions.keys() == embedded.exceptions.keys()
    assert kafka.exceptions == embedded.exceptions
    assert kafka.refused == embedded.refused
    assert kafka.dead_letters == embedded.dead_letters
    assert kafka.status_updates == embedded.status_updates
    assert kafka.cash_positions == embedded.cash_positions


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("kafka-month")
    generate(directory, invoices=INVOICES, seed=11)
    return directory


@pytest.fixture(scope="module")
def embedded(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Results:
    out = tmp_path_factory.mktemp("embedded-out")
    run(scenario, out)
    return embedded_results(out)


def env_for(bootstrap: str, topics: Topics) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "RECON_TOPIC_PREFIX": topics.prefix}


def produce(scenario: Path, bootstrap: str, topics: Topics) -> None:
    done = subprocess.run(
        [*RECON, "produce", "--input", str(scenario)],
        env=env_for(bootstrap, topics),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, f"recon produce exited with {done.returncode}: {done.stderr.decode()[-3000:]}"
    found = re.search(rb"as ([\d,]+) messages", done.stdout)
    assert found is not None, done.stdout
    # A record lost on its way into the log shows up later as a wrong order or an orphan: say so here.
    assert input_records(bootstrap, topics) == int(found[1].replace(b",", b""))


def input_records(bootstrap: str, topics: Topics) -> int:
    """How many records the (fresh) input topics hold."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=30).topics
    wanted = {TopicPartition(t, n): OffsetSpec.latest() for t in topics.streams() for n in metadata[t].partitions}
    return sum(future.result().offset for future in admin.list_offsets(wanted, request_timeout=30).values())


def start_worker(
    bootstrap: str, topics: Topics, data_dir: Path, worker_id: str, idle: float = 3.0, config: Path | None = None
) -> subprocess.Popen[bytes]:
    log = (data_dir.parent / f"{worker_id}.log").open("ab")
    options = ["--config", str(config)] if config is not None else []
    return subprocess.Popen(
        [*RECON, "worker", "--data-dir", str(data_dir), "--worker-id", worker_id, "--idle-exit", str(idle), *options],
        env=env_for(bootstrap, topics),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def finish(process: subprocess.Popen[bytes], timeout: float = 900) -> None:
    assert process.wait(timeout=timeout) == 0, f"worker exited with {process.returncode}"


def verify_audit(bootstrap: str, topics: Topics, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    options = ["--config", str(config)] if config is not None else []
    command = [*RECON, "audit", "verify-kafka", *options]
    return subprocess.run(command, env=env_for(bootstrap, topics), capture_output=True, text=True, timeout=300)


def status_of(data_dir: Path) -> dict[str, Any]:
    return orjson.loads((data_dir / "status.json").read_bytes())


def fresh_topics() -> Topics:
    return Topics(f"t{uuid.uuid4().hex[:8]}")


def test_one_worker_gives_the_embedded_results(
    scenario: Path, embedded: Results, kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = fresh_topics()
    produce(scenario, kafka_bootstrap, topics)
    finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1"))
    results = kafka_results(kafka_bootstrap, topics)
    assert len(results.matches) > INVOICES // 4  # most invoices are paid within the month
    assert_same(results, embedded)


def test_two_workers_split_the_partitions_and_agree(
    scenario: Path, embedded: Results, kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = fresh_topics()
    produce(scenario, kafka_bootstrap, topics)
    workers = [start_worker(kafka_bootstrap, topics, tmp_path / name, name) for name in ("w1", "w2")]
    for process in workers:
        finish(process)
    applied = [
        {int(n) for n, count in status_of(tmp_path / name)["applied_by_partition"].items() if count}
        for name in ("w1", "w2")
    ]
    assert applied[0] and applied[1], f"one worker applied nothing: {applied}"
    assert applied[0] | applied[1] == set(range(6))
    assert_same(kafka_results(kafka_bootstrap, topics), embedded)


def test_sigkill_mid_run_then_restart_loses_and_doubles_nothing(
    scenario: Path, embedded: Results, kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = fresh_topics()
    produce(scenario, kafka_bootstrap, topics)
    data_dir = tmp_path / "w1"
    rng = random.Random(int(os.environ.get("RECON_KILL_SEED", "20261125")))
    kills = 0
    for _ in range(2):
        process = start_worker(kafka_bootstrap, topics, data_dir, "w1")
        deadline = time.monotonic() + 120
        while not (data_dir / "status.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(1.0, 4.0))  # the scenario takes well over this to apply
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
        (data_dir / "status.json").unlink(missing_ok=True)
    assert kills == 2, "the worker finished before it could be killed: use a bigger scenario"
    finish(start_worker(kafka_bootstrap, topics, data_dir, "w1"))
    assert_same(kafka_results(kafka_bootstrap, topics), embedded)
    # Each partition's audit chain went on from its last commit after each kill: no gap, no record twice.
    verified = verify_audit(kafka_bootstrap, topics)
    assert verified.returncode == 0 and "each at its changelog head" in verified.stdout, verified.stdout


def test_bad_records_on_a_topic_are_dead_lettered_and_the_worker_goes_on(kafka_bootstrap: str, tmp_path: Path) -> None:
    small = tmp_path / "small"
    generate(small, invoices=600, seed=4)
    reference = tmp_path / "reference"
    run(small, reference)
    topics = fresh_topics()
    produce(small, kafka_bootstrap, topics)
    bad = {
        "invoices": b"this is not json",
        "bank_acks": b'{"event_id": "x1", "event_type": "bank_ack.received", "source_system": "bank"}',
        "settlements": b'{"event_id": "x2", "event_type": "settlement.booked", "source_system": "bank", '
        b'"event_time": "2026-11-10T00:00:00Z", "payload": {"entry_id": "E", "account_iban": "DE00", '
        b'"amount": 1.5, "currency": "EUR", "credit_debit": "DBIT", "booking_date": "2026-11-10", '
        b'"value_date": "2026-11-10"}}',
        "clock": b'{"watermark": "yesterday"}',
    }
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for name, value in bad.items():
        topic = topics.clock if name == "clock" else f"{topics.prefix}.{name}"
        producer.produce(topic, value=value, key=b"bad", partition=0)
    producer.flush()
    finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1"))
    results = kafka_results(kafka_bootstrap, topics)
    expected = embedded_results(reference)
    fields = {(d[0], d[2]) for d in results.dead_letters - expected.dead_letters}
    assert fields == {
        ("invoices", "<json>"),
        ("bank_acks", "event_time"),
        ("settlements", "payload.account_iban"),
        ("clock", "watermark"),
    }
    assert sum((results.dead_letters - expected.dead_letters).values()) == len(bad)
    # Everything valid was still applied: the same business outcome as the embedded run.
    assert results.matches == expected.matches
    assert results.exceptions == expected.exceptions
    assert results.cash_positions == expected.cash_positions


def test_every_ledger_partition_keeps_a_keyed_audit_chain_anchored_in_its_changelog(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    generate(small, invoices=600, seed=9)
    topics = fresh_topics()
    produce(small, kafka_bootstrap, topics)
    (tmp_path / "audit.key").write_text("5e" * 32 + "\n")
    config = tmp_path / "recon.toml"
    config.write_text(f'[audit]\nkey_file = "{tmp_path / "audit.key"}"\n')
    finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1", config=config))
    verified = verify_audit(kafka_bootstrap, topics, config)
    assert verified.returncode == 0 and ", keyed (" in verified.stdout, verified.stdout + verified.stderr
    chains = read_partitions(kafka_bootstrap, topics.audit)
    records = [orjson.loads(value) for messages in chains.values() for _, value in messages]
    applied = [r for r in records if r["outcome"] != "timers_fired"]
    clock = sum(1 for _ in read_topic(kafka_bootstrap, topics.clock, to_end=True))
    assert len(applied) == input_records(kafka_bootstrap, topics) - clock  # one record per input, none twice
    assert verify_audit(kafka_bootstrap, topics).returncode == 3  # keyed: not verifiable without the key
    # A forger with write access to the topic appends a record, chained by plain SHA-256.
    number, messages = next((n, m) for n, m in sorted(chains.items()) if m)
    last = orjson.loads(messages[-1][1])
    forged = {**last, "seq": last["seq"] + 1, "prev": last["hash"], "outcome": "applied", "outputs": []}
    forged["hash"] = chain_hash(last["hash"], forged)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topics.audit, value=orjson.dumps(forged), key=b"forged", partition=number)
    producer.flush()
    broken = verify_audit(kafka_bootstrap, topics, config)
    assert broken.returncode == 1 and f"partition {number} BROKEN" in broken.stdout, broken.stdout
