"""`recon demo` posts through simulated ERPs, each in a process of its own: SAP S/4HANA for company code
1000 and NetSuite for 4000, the ERPs the generated month names for them. The month leaves those invoices'
ERP answers to the posting service, and its erp_faults.json says which invoices the ERP refuses (the
planted posting failures, with their errors) and which it never answers (the planted ERP timeouts): the
simulators are told so, and the run must catch exactly those. A little throttling, 5xx and dropped
answers make the retries real."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from reconstream.synthetic.scenario import ERP_FAULTS_FILE

from .local import ErpProcess, start_process
from .queue import PostingQueue
from .running import QUEUE_FILE
from .simulator import Faults, Rules

if TYPE_CHECKING:
    from ..config import Config

DEMO_ERPS = (("sap", "1000"), ("netsuite", "4000"))


def demo_company_codes() -> frozenset[str]:
    return frozenset(code for _, code in DEMO_ERPS)


@contextmanager
def demo_erps(config: Config, input_dir: Path, secrets_dir: Path) -> Iterator[Config]:
    """The config with the demo's simulated ERPs in it, serving while the context lasts."""
    from ..config import ErpTarget, Posting

    faults_file = orjson.loads((input_dir / ERP_FAULTS_FILE).read_bytes())
    refused = {(supplier, number): error for supplier, number, error in faults_file["refused"]}
    stalled = frozenset((supplier, number) for supplier, number in faults_file["stalled"])
    started: list[ErpProcess] = []
    try:
        targets = []
        for number, (kind, company_code) in enumerate(DEMO_ERPS):
            faults = Faults(
                throttle_rate=0.01,
                retry_after_seconds=0.05,
                server_error_rate=0.01,
                drop_after_commit_rate=0.005,
                slow_seconds=0.6,
                stalled_documents=stalled,
                seed=number,
            )
            credentials = secrets_dir / f"{kind}-credentials.json"
            erp = start_process(kind, faults, Rules(refused_documents=refused), credentials)
            started.append(erp)
            entry = erp.config_entry(kind, [company_code], credentials)
            policy = {
                "timeout_seconds": 0.5,  # loopback answers in ms, a busy machine later; a stall costs it 3 times
                "max_attempts": 3,
                "max_backoff_seconds": 0.05,
                "breaker_threshold": 50,  # the random faults and stalls must not read as the ERP down
                "rate_per_second": 500,  # loopback: the default 20 a second is for an ERP of unknown limits
                "burst": 50,
            }
            targets.append(ErpTarget.model_validate({**entry, **policy}))
        yield config.model_copy(update={"erp": tuple(targets), "posting": Posting(drain_seconds=300)})
    finally:
        for local in started:
            local.stop()


def posting_summary(out_dir: Path) -> dict[str, dict[str, int]]:
    """Postings by ERP: how many were posted, refused and timed out, the retries it took and the answers
    that were 429s (which spend no attempt)."""
    path = out_dir / QUEUE_FILE
    if not path.exists():
        return {}
    queue = PostingQueue(path)
    try:
        counts, attempts = queue.counts(), queue.attempts()
    finally:
        queue.close()
    summary: dict[str, dict[str, Any]] = {}
    for (erp, state), count in sorted(counts.items()):
        summary.setdefault(erp, {})[state] = count
    for erp, states in summary.items():
        decided = sum(count for state, count in states.items() if state in ("posted", "rejected", "timed_out"))
        counted, throttled = attempts.get(erp, (0, 0))
        states["retries"] = counted - decided
        states["throttled"] = throttled
    return summary
