"""Throughput of the embedded engine on a generated month-end, against orjson parsing the same input.

Each measurement runs in its own child process so that its peak RSS is its own. The parse-only rate
of the same files, measured in the same run, is the ceiling any JSON pipeline has on this machine:
report the engine as a share of it, since absolute figures move with the machine's load.

    .venv/bin/python benchmarks/throughput.py [--invoices 10000 200000] [--seed 7] [--state] [--before REV]

Figures are per CPU-second (the machines are shared), and each is compared with another measured in the
same run: the parse-only rate, and with --before the engine of an earlier commit on the same input. With
--state an engine's in-memory and RocksDB runs start together, one a core, so that a slow spell of the
machine falls on both and their ratio holds; the other children run alone, one after another.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
STREAM_FILES = (
    "vendors",
    "purchase_orders",
    "goods_receipts",
    "invoices",
    "invoice_status",
    "payment_batches",
    "bank_acks",
    "settlements",
)


def scenario(invoices: int, seed: int, data_dir: Path) -> Path:
    """Generate once per (invoices, seed); later runs reuse the files."""
    target = data_dir / f"month-end-{invoices}-{seed}"
    if not (target / "labels.json").exists():
        # In a child: Linux keeps a process's peak RSS across exec, so a big parent would inflate every child's.
        recon = Path(sys.executable).with_name("recon")
        subprocess.run(
            [str(recon), "generate", "--out", str(target), "--invoices", str(invoices), "--seed", str(seed)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return target


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_parse(input_dir: Path) -> dict[str, float]:
    lines = 0
    started, cpu = time.perf_counter(), time.process_time()
    for name in STREAM_FILES:
        with (input_dir / f"{name}.jsonl").open("rb") as handle:
            for raw in handle:
                with contextlib.suppress(orjson.JSONDecodeError):  # planted garbage costs a parse attempt too
                    orjson.loads(raw)
                lines += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "lines": lines,
        "seconds": seconds,
        "lines_per_s": lines / seconds,
        "cpu_seconds": cpu,
        "lines_per_cpu_s": lines / cpu,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_decode(input_dir: Path) -> dict[str, float]:
    """The engine's own parser alone (pydantic's decode with the models' checks, a refusal named): what
    decoding costs before any rule runs."""
    from reconstream.models.events import EventError, Stream, parse

    lines = 0
    started, cpu = time.perf_counter(), time.process_time()
    for name in STREAM_FILES:
        stream = Stream(name)
        with (input_dir / f"{name}.jsonl").open("rb") as handle:
            for raw in handle:
                with contextlib.suppress(EventError):
                    parse(raw, stream)
                lines += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"lines": lines, "seconds": seconds, "cpu_seconds": cpu, "lines_per_cpu_s": lines / cpu}


def child_engine(input_dir: Path, state: bool) -> dict[str, float]:
    from reconstream.shells.embedded import run

    with contextlib.suppress(ImportError):  # a pinned revision from before the collector tuning has none
        from reconstream.shells import collector

        collector.tune()  # as `recon run` does
    with tempfile.TemporaryDirectory() as scratch:
        state_dir = Path(scratch) / "state" if state else None
        cpu = time.process_time()
        summary = run(input_dir, Path(scratch) / "out", state_dir)
        cpu = time.process_time() - cpu
    return {
        "events": summary.events,
        "seconds": summary.seconds,
        "events_per_s": summary.events / summary.seconds,
        "cpu_seconds": cpu,
        "events_per_cpu_s": summary.events / cpu,
        "cpu_us_per_event": 1e6 * cpu / summary.events,
        "peak_rss_mb": peak_rss_mb(),
        "exceptions": sum(summary.exceptions.values()),
        "matches": summary.matches,
    }


def same_decisions(run: dict[str, Any], other: dict[str, Any]) -> bool:
    """Two engine runs of the same input applied as many events and raised as many exceptions and matches."""
    return all(run[k] == other[k] for k in ("events", "exceptions", "matches"))


def in_child(*args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def together(input_dir: Path, env: dict[str, str] | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """An engine's in-memory and RocksDB runs, started together, one a core: (in memory, RocksDB)."""
    with ThreadPoolExecutor(max_workers=2) as both:
        memory = both.submit(in_child, "engine-memory", str(input_dir), env=env)
        rocks = both.submit(in_child, "engine-state", str(input_dir), env=env)
        return memory.result(), rocks.result()


def engine_runs(
    input_dir: Path, state: bool, env: dict[str, str] | None = None
) -> tuple[dict[str, float], dict[str, float] | None]:
    if state:
        return together(input_dir, env)
    return in_child("engine-memory", str(input_dir), env=env), None


@contextlib.contextmanager
def pinned(revision: str) -> Iterator[dict[str, str]]:
    """The engine of an earlier commit, importable as `reconstream`: the before of a before/after in one run.

    A detached worktree of the revision, and a package folder whose subpackages link to its top-level
    folders (the layout pyproject.toml maps), put first on PYTHONPATH for the child.
    """
    repo = HERE.parent
    with tempfile.TemporaryDirectory(prefix="recon-pinned-") as scratch:
        tree, package = Path(scratch) / "tree", Path(scratch) / "pkg" / "reconstream"
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "-q", str(tree), revision], check=True)
        try:
            package.mkdir(parents=True)
            (package / "__init__.py").write_text("")
            for folder in ("models", "matchers", "tables", "streams", "shells", "synthetic"):
                (package / folder).symlink_to(tree / folder)
            yield {"PYTHONPATH": str(package.parent)}
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False)


def measure(invoices: int, args: argparse.Namespace, before_env: dict[str, str] | None) -> dict[str, Any]:
    input_dir = scenario(invoices, args.seed, args.data_dir)
    size_mb = sum((input_dir / f"{n}.jsonl").stat().st_size for n in STREAM_FILES) / 1e6
    parse = in_child("parse", str(input_dir))
    decode = in_child("decode", str(input_dir))
    engine, durable = engine_runs(input_dir, args.state)
    result: dict[str, Any] = {
        "scenario": {"invoices": invoices, "seed": args.seed, "events": engine["events"], "input_mb": size_mb},
        "orjson_parse_only": parse,
        # The same lines through the engine's parser and nothing else: its share of the parse rate bounds
        # what any engine decoding with it can reach.
        "engine_decode_only": decode,
        "decode_share_of_parse_rate_per_cpu_s": decode["lines_per_cpu_s"] / parse["lines_per_cpu_s"],
        "engine_memory_state": engine,
        "engine_share_of_parse_rate_per_cpu_s": engine["events_per_cpu_s"] / parse["lines_per_cpu_s"],
    }
    durable_before = None
    if before_env is not None:
        before, durable_before = engine_runs(input_dir, args.state, before_env)
        result["before_engine_memory_state"] = before
        result["before_share_of_parse_rate_per_cpu_s"] = before["events_per_cpu_s"] / parse["lines_per_cpu_s"]
        result["after_vs_before_per_cpu_s"] = engine["events_per_cpu_s"] / before["events_per_cpu_s"]
        result["peak_rss_after_vs_before"] = engine["peak_rss_mb"] / before["peak_rss_mb"]
        result["same_decisions_as_before"] = same_decisions(engine, before)
    if args.gc_compare:
        default = in_child("engine-memory", str(input_dir), env={"RECON_GC": "default"})
        result["engine_memory_state_default_gc"] = default
        result["tuned_gc_vs_default_per_cpu_s"] = engine["events_per_cpu_s"] / default["events_per_cpu_s"]
    if durable is not None:
        # Against the in-memory run it started beside.
        result["engine_rocksdict_state"] = durable
        result["rocksdict_share_of_memory_rate_per_cpu_s"] = durable["events_per_cpu_s"] / engine["events_per_cpu_s"]
        result["rocksdict_same_decisions"] = same_decisions(engine, durable)
        if durable_before is not None:
            result["before_engine_rocksdict_state"] = durable_before
            result["before_rocksdict_share_of_memory_rate_per_cpu_s"] = (
                durable_before["events_per_cpu_s"] / before["events_per_cpu_s"]
            )
            result["rocksdict_after_vs_before_per_cpu_s"] = (
                durable["events_per_cpu_s"] / durable_before["events_per_cpu_s"]
            )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--invoices",
        type=int,
        nargs="+",
        default=[205_000],
        help="one or more sizes; 205,000 invoices make about 1,000,000 events",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--state",
        action="store_true",
        help="also run with persistent rocksdict state, each engine's two runs started together",
    )
    parser.add_argument(
        "--before", metavar="REVISION", help="also run the engine of this git revision on the same input, as the before"
    )
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.json")
    parser.add_argument(
        "--gc-compare",
        action="store_true",
        help="also run the engine with Python's default collector settings (RECON_GC=default)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, input_dir = args.child[0], Path(args.child[1])
        children = {"parse": child_parse, "decode": child_decode}
        measured = children[kind](input_dir) if kind in children else child_engine(input_dir, kind == "engine-state")
        print(json.dumps(measured))
        return 0

    with contextlib.ExitStack() as stack:
        before_env = stack.enter_context(pinned(args.before)) if args.before else None
        sizes = [measure(invoices, args, before_env) for invoices in args.invoices]
    result: dict[str, Any] = {
        "benchmark": "embedded throughput, month-end scenario",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "revision": _revision(),
        "before_revision": args.before,
        "sizes": sizes,
    }
    if len(sizes) > 1:
        # Flat as state grows: CPU per event at the largest size against the smallest.
        first, last = sizes[0]["engine_memory_state"], sizes[-1]["engine_memory_state"]
        result["cost_per_event_largest_vs_smallest"] = last["cpu_us_per_event"] / first["cpu_us_per_event"]
        if args.before:
            first, last = sizes[0]["before_engine_memory_state"], sizes[-1]["before_engine_memory_state"]
            result["before_cost_per_event_largest_vs_smallest"] = last["cpu_us_per_event"] / first["cpu_us_per_event"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def _revision() -> str:
    done = subprocess.run(
        ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
