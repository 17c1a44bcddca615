"""Kafka mode's case store and owner topics: each owner queue's topic holds its exceptions; `recon project`
over a real broker gives the cases an embedded run of the same month gives, the API answers the same
queues over both, and a projector killed mid-way and restarted neither loses nor doubles a timeline
entry, and writes the outputs as a run folder whose treasury and invoice pages are the embedded run's;
a manual match made on a case goes back to the worker holding the bank line and is applied there.
Every process is a real `recon` subprocess."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from case_dump import dump
from fastapi.testclient import TestClient
from reconstream.models.cases import ActionKind, CaseCommand
from reconstream.models.exceptions import OwnerQueue
from reconstream.shells.cases.store import CaseStore
from reconstream.shells.kafka.tail import read_topic
from reconstream.shells.web import RunFolder, create_app
from reconstream.synthetic import generate
from test_kafka_worker import RECON, REFUSED, env_for, finish, fresh_topics, produce, start_worker
from test_manual_match_runs import TREASURY, scenario, unmatched_case, write_inputs

pytestmark = pytest.mark.kafka


def comparable(rows: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """Cases and timelines as both shells must agree on them: refused input names its place in the
    transport (a line, an offset), so those cases are left out, as in the worker's parity test."""
    cases = {row["exception_id"]: row for row in rows["cases"] if row["category"] not in REFUSED}
    for row in cases.values():
        row.pop("updated_at_us")
        row.pop("ledger_partition")  # Kafka's own: the partition that raised it
    actions = sorted(
        (a["exception_id"], a["kind"], a["actor"], a["at_us"], a["note"], a["before"], a["after"])
        for a in rows["actions"]
        if a["exception_id"] in cases
    )
    return cases, actions


def projected(store_file: Path) -> int:
    """Cases the projector has committed so far (read beside it: SQLite's WAL lets a reader in)."""
    if not store_file.exists():
        return 0
    try:
        with sqlite3.connect(store_file, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def queue_view(url: str, tmp: Path) -> list[tuple[str, str, str]]:
    store = CaseStore(url)
    try:
        client = TestClient(create_app(RunFolder(tmp), case_store=store))
        items = client.get("/api/cases?status=open&limit=1000").json()["items"]
    finally:
        store.close()
    return sorted((i["owner_queue"], i["category"], i["exception_id"]) for i in items if i["category"] not in REFUSED)


def test_projected_cases_equal_the_embedded_runs_and_survive_a_kill(kafka_bootstrap: str, tmp_path: Path) -> None:
    month = tmp_path / "month"
    generate(month, invoices=2000, seed=11)
    subprocess.run([*RECON, "run", "--input", str(month), "--out", str(tmp_path / "embedded"), "--quiet"], check=True)
    topics = fresh_topics()
    produce(month, kafka_bootstrap, topics)
    finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1"))
    # Each owner queue's topic holds its exceptions, the same records as the exceptions topic.
    everything = [value for _, value in read_topic(kafka_bootstrap, topics.output("exceptions"), to_end=True) if value]
    for owner in OwnerQueue:
        own = [v for _, v in read_topic(kafka_bootstrap, topics.owner_exceptions(owner.value), to_end=True) if v]
        mine = [value for value in everything if orjson.loads(value)["owner_queue"] == owner.value]
        assert own and sorted(own) == sorted(mine), owner  # partitions interleave as they are read: as multisets

    out = tmp_path / "projected"
    project = [*RECON, "project", "--out", str(out), "--idle-exit", "4", "--batch", "10"]
    env = env_for(kafka_bootstrap, topics)
    killed = subprocess.Popen(project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store_file = out / "cases.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and projected(store_file) < 30:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    at_kill = projected(store_file)
    done = subprocess.run(project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    embedded_url, projected_url = f"sqlite:///{tmp_path / 'embedded' / 'cases.sqlite'}", f"sqlite:///{store_file}"
    embedded_cases, embedded_actions = comparable(dump(embedded_url))
    projected_cases, projected_actions = comparable(dump(projected_url))
    assert len(embedded_cases) > 50
    assert 30 <= at_kill < len(dump(projected_url)["cases"]), "the projector was not killed mid-way"
    assert projected_cases == embedded_cases
    assert projected_actions == embedded_actions  # one entry per engine record: nothing lost, nothing doubled
    assert queue_view(projected_url, tmp_path) == queue_view(embedded_url, tmp_path)
    store = CaseStore(projected_url)
    try:
        assert store.verify()[1] is None
    finally:
        store.close()

    # The run folder the projector wrote beside the store, through the same kill: every committed output
    # record once, the same cash positions and invoice pages as the embedded run's folder.
    for name in ("exceptions", "matches", "status_updates", "dead_letters"):
        on_topic = [value for _, value in read_topic(kafka_bootstrap, topics.output(name), to_end=True) if value]
        assert sorted((out / f"{name}.jsonl").read_bytes().splitlines()) == sorted(on_topic), name
    kafka_pages = TestClient(create_app(RunFolder(out)))
    embedded_pages = TestClient(create_app(RunFolder(tmp_path / "embedded")))
    positions = [client.get("/api/cash-positions").json()["positions"] for client in (kafka_pages, embedded_pages)]
    assert len(positions[0]) > 3
    assert sorted(positions[0], key=str) == sorted(positions[1], key=str)
    paid = [orjson.loads(line) for line in (out / "status_updates.jsonl").read_bytes().splitlines()]
    invoice_id = next(update["invoice_id"] for update in paid if update["status"] == "paid")
    pages = [client.get(f"/invoices/{invoice_id}") for client in (kafka_pages, embedded_pages)]
    assert pages[0].status_code == pages[1].status_code == 200 and "paid" in pages[0].text
    timelines = [client.get(f"/api/invoices/{invoice_id}").json() for client in (kafka_pages, embedded_pages)]
    assert timelines[0] == timelines[1]


def test_a_manual_match_goes_back_to_the_ledger_that_holds_the_line(kafka_bootstrap: str, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    write_inputs(inputs, scenario())
    topics = fresh_topics()
    produce(inputs, kafka_bootstrap, topics)
    env = env_for(kafka_bootstrap, topics)
    worker_dir = tmp_path / "w1"
    finish(start_worker(kafka_bootstrap, topics, worker_dir, "w1"))
    out = tmp_path / "projected"
    project = [*RECON, "project", "--out", str(out), "--idle-exit", "3"]
    subprocess.run(project, env=env, check=True, capture_output=True, timeout=300)

    url = f"sqlite:///{out / 'cases.sqlite'}"
    store = CaseStore(url)
    try:
        case = unmatched_case(store, "S-CHG")
        command = CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=("I1",))
        store.act(case.exception_id, command, TREASURY, datetime.now(UTC))
    finally:
        store.close()
    sent = subprocess.run(project, env=env, capture_output=True, text=True, timeout=300)
    assert "sent 1 manual matches" in sent.stdout, sent.stdout + sent.stderr
    finish(start_worker(kafka_bootstrap, topics, worker_dir, "w1"))  # the same worker, resumed: it holds the line
    subprocess.run(project, env=env, check=True, capture_output=True, timeout=300)

    matches = [orjson.loads(v) for _, v in read_topic(kafka_bootstrap, topics.output("matches"), to_end=True) if v]
    [manual] = [m for m in matches if m["method"] == "manual"]
    assert (manual["settlement_entry_id"], manual["end_to_end_id"], manual["invoice_ids"]) == ("S-CHG", "E1", ["I1"])
    keyed = list(read_topic(kafka_bootstrap, topics.output("status_updates"), to_end=True))
    updates = [orjson.loads(value) for _, value in keyed if value]
    assert "paid" in [u["status"] for u in updates if u["invoice_id"] == "I1"]
    # Keyed by invoice: one partition holds an invoice's updates, in the order the AP platform applies them.
    assert all(key == update["invoice_id"].encode() for (key, _), update in zip(keyed, updates, strict=True))
    first = [u["status"] for u in updates if u["invoice_id"] == "I1"]
    assert first.index("paid") == len(first) - 1 and first.index("approved") < first.index("booked")
    dead = [v for _, v in read_topic(kafka_bootstrap, topics.output("dead_letters"), to_end=True) if v]
    assert not dead
    store = CaseStore(url)
    try:
        closed = unmatched_case(store, "S-CHG")
        assert (closed.status.value, closed.resolution_code, closed.engine_status) == (
            "resolved",
            "manually_matched",
            "resolved",
        )
        kinds = [action.kind.value for _, action in store.timeline(closed.exception_id)]
        assert kinds == ["raised", "manually_matched", "engine_resolved"]
    finally:
        store.close()
