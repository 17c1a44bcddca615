"""Throughput of the embedded engine on a generated month-end, against orjson parsing the same input.

Each measurement runs in its own child process so that its peak RSS is its own. The parse-only rate
of the same files, measured in the same run, is the ceiling any JSON pipeline has on this machine:
report the engine as a share of it, since absolute figures move with the machine's load.

    .venv/bin/python benchmarks/throughput.py [--invoices 205000] [--seed 7] [--state]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
STREAM_FILES = ("vendors", "purchase_orders", "goods_receipts", "invoices", "invoice_status", "payment_batches",
                "bank_acks", "settlements")


def scenario(invoices: int, seed: int, data_dir: Path) -> Path:
    """Generate once per (invoices, seed); later runs reuse the files."""
    target = data_dir / f"month-end-{invoices}-{seed}"
    if not (target / "labels.json").exists():
        # In a child: Linux keeps a process's peak RSS across exec, so a big parent would inflate every child's.
        recon = Path(sys.executable).with_name("recon")
        subprocess.run([str(recon), "generate", "--out", str(target), "--invoices", str(invoices), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
    return target


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_parse(input_dir: Path) -> dict[str, float]:
    lines = 0
    started = time.perf_counter()
    for name in STREAM_FILES:
        with (input_dir / f"{name}.jsonl").open("rb") as handle:
            for raw in handle:
                with contextlib.suppress(orjson.JSONDecodeError):  # planted garbage costs a parse attempt too
                    orjson.loads(raw)
                lines += 1
    seconds = time.perf_counter() - started
    return {"lines": lines, "seconds": seconds, "lines_per_s": lines / seconds, "peak_rss_mb": peak_rss_mb()}


def child_engine(input_dir: Path, state: bool) -> dict[str, float]:
    from reconstream.shells import collector
    from reconstream.shells.embedded import run

    collector.tune()  # as `recon run` does
    with tempfile.TemporaryDirectory() as scratch:
        state_dir = Path(scratch) / "state" if state else None
        cpu = time.process_time()
        summary = run(input_dir, Path(scratch) / "out", state_dir)
        cpu = time.process_time() - cpu
    return {"events": summary.events, "seconds": summary.seconds, "events_per_s": summary.events / summary.seconds,
            "cpu_seconds": cpu, "events_per_cpu_s": summary.events / cpu,
            "peak_rss_mb": peak_rss_mb(), "exceptions": sum(summary.exceptions.values()), "matches": summary.matches}


def in_child(*args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=205_000, help="205,000 invoices make about 1,000,000 events")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--state", action="store_true", help="also run with persistent rocksdict state")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.json")
    parser.add_argument("--gc-compare", action="store_true",
                        help="also run the engine with Python's default collector settings (RECON_GC=default)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, input_dir = args.child[0], Path(args.child[1])
        result = child_parse(input_dir) if kind == "parse" else child_engine(input_dir, kind == "engine-state")
        print(json.dumps(result))
        return 0

    input_dir = scenario(args.invoices, args.seed, args.data_dir)
    size_mb = sum((input_dir / f"{n}.jsonl").stat().st_size for n in STREAM_FILES) / 1e6
    parse = in_child("parse", str(input_dir))
    engine = in_child("engine-memory", str(input_dir))
    result = {
        "benchmark": "embedded throughput, month-end scenario",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
        "scenario": {"invoices": args.invoices, "seed": args.seed, "events": engine["events"], "input_mb": size_mb},
        "orjson_parse_only": parse,
        "engine_memory_state": engine,
        "engine_share_of_parse_rate": engine["events_per_s"] / parse["lines_per_s"],
        "target_events_per_s": 100_000,
    }
    if args.gc_compare:
        default = in_child("engine-memory", str(input_dir), env={"RECON_GC": "default"})
        result["engine_memory_state_default_gc"] = default
        result["tuned_gc_vs_default_per_cpu_s"] = engine["events_per_cpu_s"] / default["events_per_cpu_s"]
    if args.state:
        durable = in_child("engine-state", str(input_dir))
        result["engine_rocksdict_state"] = durable
        result["rocksdict_share_of_memory_rate"] = durable["events_per_s"] / engine["events_per_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def _cpus() -> int:
    import os
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
