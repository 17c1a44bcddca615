"""A run posting beside the engine, killed with SIGKILL three times while it posts and resumed from its
state: every invoice is booked in the ERP exactly once, and every verdict reaches the outputs exactly once,
as a run that was never killed gives them."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import orjson
from erp_months import RECON, documents_by_invoice, erp_config, month_without_postings
from reconstream.shells.erp.local import start_local
from reconstream.shells.erp.queue import POSTED, PostingQueue
from reconstream.shells.erp.simulator import Faults

KILLS = 3


def _posted(queue_path: Path) -> int:
    if not queue_path.exists():
        return 0
    queue = PostingQueue(queue_path)
    try:
        return sum(count for (_, state), count in queue.counts().items() if state == POSTED)
    finally:
        queue.close()


def test_a_run_killed_while_it_posts_books_each_invoice_once(tmp_path: Path) -> None:
    month = month_without_postings(tmp_path / "month", invoices=160, seed=61)
    local = start_local("sap", Faults(drop_after_commit_rate=0.05, server_error_rate=0.05, seed=61))
    try:
        entry = local.config_entry("sap", month.company_codes, local.write_credentials(tmp_path / "sap.json"))
        config = erp_config(tmp_path / "recon.toml", entry, max_backoff_seconds=0.1, max_attempts=20)
        out, state = tmp_path / "out", tmp_path / "state"
        run = [*RECON, "run", "--input", str(month.input_dir), "--out", str(out), "--state-dir", str(state)]
        run += ["--config", str(config), "--checkpoint-every", "40", "--quiet"]
        rng = random.Random(61)
        for number in range(KILLS):
            process = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while _posted(out / "postings.sqlite") < 20 * (number + 1) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.3))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finished = subprocess.run(run, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stderr[-3000:]
        records = local.running.simulator.records()
    finally:
        local.stop()

    requests = [orjson.loads(line) for line in (out / "posting_requests.jsonl").read_bytes().splitlines()]
    invoices = {request["invoice_id"] for request in requests}
    assert len(requests) == len(invoices) > 120  # each request once in the outputs, though emitted again on resume
    documents = documents_by_invoice(records)
    assert all(len(found) == 1 for found in documents.values())  # booked once in the ERP
    assert len(documents) == len(invoices)
    updates = [orjson.loads(line) for line in (out / "status_updates.jsonl").read_bytes().splitlines()]
    booked = [update["invoice_id"] for update in updates if update["status"] == "booked"]
    assert sorted(booked) == sorted(invoices)  # every verdict applied, none twice
    exceptions = [orjson.loads(line) for line in (out / "exceptions.jsonl").read_bytes().splitlines()]
    assert not [e for e in exceptions if e["category"].startswith("erp_")]
    verified = subprocess.run([*RECON, "audit", "verify", str(out)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout
