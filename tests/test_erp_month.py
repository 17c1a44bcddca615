"""A generated month posted through each ERP's simulator with faults on (429 with Retry-After, 5xx, answers
past the timeout, connections dropped after the commit): every clean invoice is booked exactly once and its
document number comes back to AP; every refusal is an erp_posting_failed with the ERP's own message; every
posting without a verdict within the retry budget is an erp_timeout.

The run is a real `recon run` process posting beside the engine; the simulator serves from this process."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from erp_months import RECON, documents_by_invoice, erp_config, month_without_postings, posting_requests
from reconstream.shells.erp.local import start_local
from reconstream.shells.erp.queue import PostingQueue
from reconstream.shells.erp.simulator import Faults, Rules

KINDS = ["sap", "oracle", "d365", "netsuite", "infor"]
# Each request's faults follow from the seed and the request (shells/erp/simulator.py `fault_drawn`), whatever order
# the workers send them in, so every run of this test meets the same faults. With seed 7 and two attempts, one SAP
# posting draws a fault on both before the ERP judges it, every run; three leave each posting a verdict. The
# stalled supplier still uses up every attempt.
MAX_ATTEMPTS = 3


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("kind", KINDS)
def test_a_month_posts_once_each_refusal_and_timeout_is_an_exception(tmp_path: Path, kind: str) -> None:
    month = month_without_postings(tmp_path / "month", invoices=45, seed=40 + KINDS.index(kind))
    requests = [request["invoice"] for request in _lines(posting_requests(month, tmp_path / "plain"))]
    vendors = sorted({invoice["vendor_id"] for invoice in requests})
    blocked, stalled = vendors[0], vendors[1]
    faults = Faults(
        throttle_rate=0.08,
        retry_after_seconds=0.1,
        server_error_rate=0.08,
        drop_after_commit_rate=0.04,
        slow_rate=0.03,
        slow_seconds=1.2,
        stalled_suppliers=frozenset({stalled}),
        seed=7,
    )
    local = start_local(kind, faults, Rules(blocked_suppliers=frozenset({blocked})))
    try:
        entry = local.config_entry(kind, month.company_codes, local.write_credentials(tmp_path / "credentials.json"))
        config = erp_config(
            tmp_path / "recon.toml",
            entry,
            timeout_seconds=1.0,  # loopback answers in milliseconds, but a loaded CI machine can take long
            max_attempts=MAX_ATTEMPTS,
            max_backoff_seconds=0.2,
            concurrency=4,
            breaker_threshold=50,  # random faults and one stalled supplier must not read as the ERP down
        )
        out = tmp_path / "out"
        run = [*RECON, "run", "--input", str(month.input_dir), "--out", str(out), "--config", str(config), "--quiet"]
        finished = subprocess.run(run, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stderr
        records = local.running.simulator.records()
    finally:
        local.stop()

    documents = documents_by_invoice(records)
    clean = [invoice for invoice in requests if invoice["vendor_id"] not in (blocked, stalled)]
    assert len(clean) > 30
    for invoice in clean:  # booked exactly once
        assert len(documents.get((invoice["vendor_id"], invoice["supplier_invoice_number"]), [])) == 1, invoice
    assert not [key for key in documents if key[0] in (blocked, stalled)]
    assert len(documents) == len(clean)

    booked = {u["invoice_id"]: u for u in _lines(out / "status_updates.jsonl") if u["status"] == "booked"}
    for invoice in clean:  # the document number back in AP
        document = documents[(invoice["vendor_id"], invoice["supplier_invoice_number"])][0]
        update = booked[invoice["invoice_id"]]
        assert (update["erp_document_number"], update["fiscal_year"]) == (
            document["document_number"],
            document["fiscal_year"],
        )

    exceptions: dict[str, dict[str, str]] = defaultdict(dict)
    for exception in _lines(out / "exceptions.jsonl"):
        if exception["category"].startswith("erp_"):
            exceptions[exception["category"]][exception["refs"][0]] = exception["reason"]
    queue = PostingQueue(out / "postings.sqlite")
    try:
        verdicts = {posting_id: (state, error) for posting_id, _, state, error, *_ in queue.decided()}
    finally:
        queue.close()
    refused = [invoice["invoice_id"] for invoice in requests if invoice["vendor_id"] == blocked]
    timed_out = [invoice["invoice_id"] for invoice in requests if invoice["vendor_id"] == stalled]
    assert refused and timed_out
    assert set(exceptions["erp_posting_failed"]) == set(refused)
    assert set(exceptions["erp_timeout"]) == set(timed_out)
    errors: dict[str, list[str | None]] = {state: [] for state in ("rejected", "timed_out")}
    for state, error in verdicts.values():
        if state in errors:
            errors[state].append(error)
    for invoice_id in refused:  # the ERP's own message, as it gave it
        reason = exceptions["erp_posting_failed"][invoice_id]
        assert reason.startswith(f"{kind} refused the posting: ") and reason.split(": ", 1)[1] in errors["rejected"]
        assert blocked in reason
    for invoice_id in timed_out:
        assert f"no verdict after {MAX_ATTEMPTS} attempts" in exceptions["erp_timeout"][invoice_id]
    assert records["stats"].get("throttled", 0) + records["stats"].get("server_error", 0) > 0
