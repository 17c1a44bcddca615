"""What the run metrics cost: the embedded engine on the same month with the observer off and on.

Each run is a child process of its own (fresh interpreter, its own peak RSS), and the off and on runs
alternate, so a neighbour's load on this shared 2-core machine falls on both alike. The figure that
counts is the ratio of the medians: the issue asks for metrics-on within 10 % of metrics-off; the same
ratio on CPU time is reported beside it, as it is far less moved by other work on the machine. A scrape
(`generate_latest`) at the end of each observed run is timed too: it runs off the hot path.

    .venv/bin/python benchmarks/metrics_cost.py [--invoices 20000] [--seed 11] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def scenario(invoices: int, seed: int, data_dir: Path) -> Path:
    """Generate once per (invoices, seed), in a child; later runs (and throughput.py) reuse the files."""
    target = data_dir / f"month-end-{invoices}-{seed}"
    if not (target / "labels.json").exists():
        recon = Path(sys.executable).with_name("recon")
        subprocess.run(
            [str(recon), "generate", "--out", str(target), "--invoices", str(invoices), "--seed", str(seed)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return target


def child(input_dir: Path, observed: bool) -> dict[str, float]:
    from prometheus_client import generate_latest
    from reconstream.shells.embedded import run
    from reconstream.shells.metrics import RunMetrics

    metrics = RunMetrics() if observed else None
    with tempfile.TemporaryDirectory() as scratch:
        # The whole run as `recon run` does it, set-up included: what metrics add there is their cost too.
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = run(input_dir, Path(scratch) / "out", metrics=metrics)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    result = {
        "events": summary.events,
        "seconds": seconds,
        "events_per_s": summary.events / seconds,
        "cpu_seconds": cpu_seconds,
        "events_per_cpu_s": summary.events / cpu_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if metrics is not None:
        started = time.perf_counter()
        text = generate_latest(metrics.registry)
        result["scrape_seconds"] = time.perf_counter() - started
        result["scrape_bytes"] = len(text)
    return result


def in_child(input_dir: Path, observed: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(input_dir), "on" if observed else "off"]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=20_000, help="20,000 invoices make about 100,000 events")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind, alternating")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=RESULTS / "metrics_cost.json")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1] == "on")))
        return 0

    input_dir = scenario(args.invoices, args.seed, args.data_dir)
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for repeat in range(args.repeats):
        # Alternate which goes first, so a trend in the machine's load does not favour one side.
        order = ("off", "on") if repeat % 2 == 0 else ("on", "off")
        for kind in order:
            runs[kind].append(in_child(input_dir, kind == "on"))
            last = runs[kind][-1]
            print(
                f"{kind}: {last['events_per_s']:,.0f} events/s, {last['events_per_cpu_s']:,.0f} per CPU s",
                file=sys.stderr,
            )
    off = statistics.median(r["events_per_s"] for r in runs["off"])
    on = statistics.median(r["events_per_s"] for r in runs["on"])
    # CPU time is what the observer costs; wall time also carries whatever else this shared machine runs.
    off_cpu = statistics.median(r["events_per_cpu_s"] for r in runs["off"])
    on_cpu = statistics.median(r["events_per_cpu_s"] for r in runs["on"])
    result = {
        "benchmark": "metrics cost: embedded engine with the metrics observer off and on",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "scenario": {"invoices": args.invoices, "seed": args.seed, "events": runs["off"][0]["events"]},
        "repeats": args.repeats,
        "metrics_off_events_per_s": off,
        "metrics_on_events_per_s": on,
        "ratio_on_to_off": on / off,
        "overhead_us_per_event": (1 / on - 1 / off) * 1e6,
        "within_10_percent": on / off >= 0.90,
        "metrics_off_events_per_cpu_s": off_cpu,
        "metrics_on_events_per_cpu_s": on_cpu,
        "cpu_ratio_on_to_off": on_cpu / off_cpu,
        "cpu_overhead_us_per_event": (1 / on_cpu - 1 / off_cpu) * 1e6,
        "scrape_seconds": statistics.median(r["scrape_seconds"] for r in runs["on"]),
        "scrape_bytes": runs["on"][0]["scrape_bytes"],
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
