"""What the case store costs: a run with it (SQLite) against the same run without it, and how fast the case
pages answer with 100,000 open cases.

    .venv/bin/python benchmarks/cases.py [--invoices 20000] [--seed 7] [--open-cases 100000] [--rounds 3]

1. The run: the embedded engine on a generated month, in child processes, alternately with and without
   the case store, `--rounds` times each; CPU seconds of the child (SQLite runs in the process, so its
   work is counted) and the ratio with/without of the best of each.
2. The pages: a SQLite case store filled with `--open-cases` open cases projected from synthetic
   exceptions (our own data, shaped like the engine's: four queues, amounts, refs, IBANs in reasons),
   served by `recon serve`'s app under uvicorn on loopback, asked by httpx as an AP clerk would: the queue
   page, a filtered page, a search, the JSON list. Wall-clock latency per request, p50 and p95.

Writes benchmarks/results/cases.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from machine import machine  # noqa: E402
from throughput import scenario  # noqa: E402 - the benchmarks share one scenario cache

CHILD = """
import sys, time, resource
from pathlib import Path
from reconstream.shells import collector
from reconstream.shells.embedded import run
collector.tune()
input_dir, out_dir, with_cases = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
sinks, store = None, None
if with_cases:
    from reconstream.shells.cases.store import CaseStore
    from reconstream.shells.sinks.cases import CaseStoreSink
    out_dir.mkdir(parents=True, exist_ok=True)
    store = CaseStore.open(f"sqlite:///{out_dir / 'cases.sqlite'}")
    sinks = lambda run_id: [CaseStoreSink(store, f"run:{run_id}")]
cpu = time.process_time()
summary = run(input_dir, out_dir, sinks=sinks)
cpu = time.process_time() - cpu
if store is not None:
    store.close()
print(summary.events, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run_once(input_dir: Path, with_cases: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="recon-bench-cases-") as scratch:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(input_dir), str(Path(scratch) / "out"), "1" if with_cases else "0"],
            check=True,
            capture_output=True,
            text=True,
        )
    events, cpu, rss = done.stdout.split()
    return {"events": int(events), "cpu_seconds": round(float(cpu), 3), "peak_rss_mb": round(float(rss), 1)}


def run_cost(input_dir: Path, rounds: int) -> dict[str, Any]:
    without, with_store = [], []
    for _ in range(rounds):  # alternating, so the machine's load falls on both alike
        without.append(run_once(input_dir, False))
        with_store.append(run_once(input_dir, True))
    best_without = min(r["cpu_seconds"] for r in without)
    best_with = min(r["cpu_seconds"] for r in with_store)
    events = without[0]["events"]
    return {
        "events": events,
        "without_case_store": without,
        "with_case_store": with_store,
        "events_per_cpu_second_without": round(events / best_without),
        "events_per_cpu_second_with": round(events / best_with),
        "cpu_ratio_with_vs_without": round(best_with / best_without, 3),
    }


def fill_store(url: str, open_cases: int) -> None:
    from reconstream.models.exceptions import Category, raise_exception
    from reconstream.shells.cases.store import CaseStore

    categories = list(Category)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    store = CaseStore.open(url)
    try:
        batch = []
        for n in range(open_cases):
            category = categories[n % len(categories)]
            reason = f"case {n}: paid to DE{n % 97:02d}37040044{n:010d} by Supplier {n % 977} GmbH"
            exception = raise_exception(
                category, (f"INV-{n}", f"E2E-{n}"), reason, start + timedelta(seconds=17 * n),
                correlation_id=f"corr-{n}", amount=Decimal(n % 50_000) + Decimal("0.25"), currency="EUR",
            )  # fmt: skip
            batch.append((n + 1, exception))
            if len(batch) == 5000:
                store.project("bench", batch)
                batch = []
        if batch:
            store.project("bench", batch)
    finally:
        store.close()


def page_latency(url: str, requests: int) -> dict[str, Any]:
    import httpx
    from reconstream.models.cases import Role
    from reconstream.shells.auth import ApiKeys, Authenticator, Principal, key_digest
    from reconstream.shells.cases.store import CaseStore
    from reconstream.shells.serve import BackgroundServer
    from reconstream.shells.web import RunFolder, create_app

    key = "bench-key-ap-clerk"
    authenticator = Authenticator(ApiKeys({key_digest(key): Principal("bench", Role.AP_CLERK)}))
    with tempfile.TemporaryDirectory(prefix="recon-bench-web-") as scratch:
        store = CaseStore(url)
        app = create_app(RunFolder(Path(scratch)), case_store=store, authenticator=authenticator)
        server = BackgroundServer(app, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{server.port}"
        asked = {
            "queue page": "/cases",
            "queue page, filtered": "/cases?category=duplicate_invoice&severity=high",
            "queue page, page 100": "/cases?page=100",
            "search by invoice id": "/cases?search=INV-77777",
            "JSON list, 100": "/api/cases?limit=100",
        }
        found: dict[str, Any] = {}
        try:
            auth: dict[str, Any] = {"cookies": {"recon_session": key}, "headers": {"Authorization": f"Bearer {key}"}}
            with httpx.Client(base_url=base, **auth) as client:
                for name, path in asked.items():
                    client.get(path).raise_for_status()  # warm
                    times = []
                    for _ in range(requests):
                        started = time.perf_counter()
                        client.get(path).raise_for_status()
                        times.append((time.perf_counter() - started) * 1000)
                    times.sort()
                    found[name] = {
                        "path": path,
                        "p50_ms": round(statistics.median(times), 1),
                        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                    }
        finally:
            server.stop()
            store.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--open-cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    args = parser.parse_args()
    input_dir = scenario(args.invoices, args.seed, args.data_dir)
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "scenario": {"invoices": args.invoices, "seed": args.seed, "data": "our synthetic generator"},
        "run": run_cost(input_dir, args.rounds),
    }
    with tempfile.TemporaryDirectory(prefix="recon-bench-store-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'cases.sqlite'}"
        started = time.perf_counter()
        fill_store(url, args.open_cases)
        result["pages"] = {
            "open_cases": args.open_cases,
            "data": "synthetic exceptions (ours), a quarter of them in the AP queue",
            "fill_seconds": round(time.perf_counter() - started, 1),
            "latency": page_latency(url, args.requests),
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cases.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
