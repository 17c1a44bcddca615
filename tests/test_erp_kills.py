"""The posting service killed with SIGKILL during a month-end burst, again and again, and restarted: the
simulated ERP's own records hold every invoice exactly once, none lost, none twice.

Real processes: the simulator is `recon erp-sim` and the service `recon post drain`; the simulator drops some
answers after it committed and answers some late, so kills land between the ERP's commit and our record of it,
which is what the look-up before a retry is for."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest
from erp_months import RECON, documents_by_invoice, erp_config, month_without_postings, posting_requests
from reconstream.shells.erp.queue import IN_FLIGHT, PENDING, POSTED, PostingQueue

KILLS = 6


@pytest.fixture
def simulator(tmp_path: Path):  # type: ignore[no-untyped-def]
    process = subprocess.Popen(
        [
            *RECON,
            "erp-sim",
            "--kind",
            "sap",
            "--credentials-out",
            str(tmp_path / "sap-credentials.json"),
            "--drop-after-commit-rate",
            "0.05",
            "--slow-rate",
            "0.1",
            "--slow-seconds",
            "0.3",
            "--throttle-rate",
            "0.03",
            "--retry-after",
            "0.2",
            "--seed",
            "14",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    started = json.loads(process.stdout.readline())
    yield started
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def test_six_kills_during_a_burst_post_every_invoice_exactly_once(tmp_path: Path, simulator: dict) -> None:  # type: ignore[type-arg]
    month = month_without_postings(tmp_path / "month", invoices=220, seed=21)
    requests = posting_requests(month, tmp_path / "run")
    expected = {
        (request["invoice"]["vendor_id"], request["invoice"]["supplier_invoice_number"])
        for request in map(orjson.loads, requests.read_bytes().splitlines())
    }
    assert len(expected) > 180
    entry = {
        "name": "sap",
        "kind": "sap",
        "base_url": simulator["url"],
        "company_codes": month.company_codes,
        "credentials_file": simulator["credentials_file"],
        "options": simulator["options"],
    }
    config = erp_config(tmp_path / "recon.toml", entry, concurrency=4, max_backoff_seconds=0.3, max_attempts=50)
    queue_path = tmp_path / "postings.sqlite"
    subprocess.run(
        [*RECON, "post", "enqueue", str(requests), "--queue", str(queue_path), "--config", str(config)], check=True
    )
    drain = [*RECON, "post", "drain", "--queue", str(queue_path), "--config", str(config)]
    rng = random.Random(14)
    caught_between = 0  # kills that left a document booked in the ERP and not yet recorded as posted
    for _ in range(KILLS):
        before = _states(queue_path).get(POSTED, 0)
        process = subprocess.Popen(drain, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while _states(queue_path).get(POSTED, 0) < before + 5 and time.monotonic() < deadline:
            time.sleep(0.05)  # until it is posting: a kill during the interpreter's start proves nothing
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        state = _states(queue_path)
        booked = len(httpx.get(f"{simulator['url']}/_sim/records").json()["documents"])
        caught_between += booked > state.get(POSTED, 0)
        assert state.get(PENDING, 0) + state.get(IN_FLIGHT, 0) > 0, "the burst ended before the kills did"
    finished = subprocess.run(drain, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr

    records = httpx.get(f"{simulator['url']}/_sim/records").json()
    documents = documents_by_invoice(records)
    twice = {key: len(found) for key, found in documents.items() if len(found) > 1}
    assert twice == {}  # 0 double postings
    assert set(documents) == expected  # 0 lost, nothing else
    assert _states(queue_path) == {POSTED: len(expected)}
    assert records["stats"]["dropped_after_commit"] > 0 and caught_between >= 1
    queue = PostingQueue(queue_path)
    try:
        numbers = {row[4] for row in queue.decided()}
    finally:
        queue.close()
    assert numbers == {document["document_number"] for found in documents.values() for document in found}


def _states(queue_path: Path) -> dict[str, int]:
    queue = PostingQueue(queue_path)
    try:
        counts: dict[str, int] = {}
        for (_, state), count in queue.counts().items():
            counts[state] = counts.get(state, 0) + count
        return counts
    finally:
        queue.close()
