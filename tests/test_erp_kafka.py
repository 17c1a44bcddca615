"""ERP posting beside Kafka workers, on a real broker: the workers' posting requests are posted through
`recon post kafka` to a simulated ERP, and the verdicts go back on the invoice_status topic to the worker
holding each ledger, which sends the document number back to AP. Every process is a real `recon`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest
from erp_months import RECON, documents_by_invoice, erp_config, month_without_postings
from reconstream.shells.erp.local import start_local
from reconstream.shells.kafka.tail import read_topic
from test_kafka_worker import env_for, finish, fresh_topics, produce, start_worker

pytestmark = pytest.mark.kafka


def test_workers_post_through_the_bridge_and_book_each_invoice_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    month = month_without_postings(tmp_path / "month", invoices=90, seed=31)
    topics = fresh_topics()
    produce(month.input_dir, kafka_bootstrap, topics)
    local = start_local("netsuite")
    try:
        entry = local.config_entry("netsuite", month.company_codes, local.write_credentials(tmp_path / "ns.json"))
        config = erp_config(tmp_path / "recon.toml", entry, concurrency=4)
        # One after the other, each until it idles, so no process's idle timer races another's pace on a loaded
        # machine: the worker emits every posting request; the bridge posts them all and sends the verdicts; the
        # worker, resumed from its state, applies them and sends each document number to AP.
        finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1"))
        bridge = subprocess.run(
            [*RECON, "post", "kafka", "--queue", str(tmp_path / "postings.sqlite"), "--config", str(config)]
            + ["--idle-exit", "3"],
            env=env_for(kafka_bootstrap, topics),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert bridge.returncode == 0, bridge.stderr[-3000:]
        finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1"))
        records = local.running.simulator.records()
    finally:
        local.stop()

    def values(name: str) -> list[dict]:  # type: ignore[type-arg]
        found = read_topic(kafka_bootstrap, topics.output(name), to_end=True)
        return [orjson.loads(value) for _, value in found if value]

    requests = values("posting_requests")
    assert len(requests) > 60
    documents = documents_by_invoice(records)
    booked = {update["invoice_id"]: update for update in values("status_updates") if update["status"] == "booked"}
    for request in requests:  # each posted once, its document number back to AP through the worker
        invoice = request["invoice"]
        found = documents[(invoice["vendor_id"], invoice["supplier_invoice_number"])]
        assert len(found) == 1
        assert booked[invoice["invoice_id"]]["erp_document_number"] == found[0]["document_number"]
    assert len(documents) == len(requests)
    # A replayed month runs ahead of the ERP here (no pacing on Kafka): an SLA timer that fired is resolved.
    last: dict[str, dict] = {}  # type: ignore[type-arg]
    for exception in values("exceptions"):
        last[exception["exception_id"]] = exception
    assert all(e["status"] == "resolved" for e in last.values() if e["category"] == "erp_timeout")
