"""RocksDB state against in-memory state, in N pairs on one month: each pair's two runs start together, one a core.

On a shared machine the speed moves by a tenth or more over minutes; both runs of a pair see the same
spell, so the ratio within a pair is what to read, and several pairs show how far it moves. `throughput.py
--state` runs one such pair per engine and size. Events per CPU-second, as everywhere; RocksDB's own
threads (flushes, compaction) are counted in its process's CPU.

    python benchmarks/state_pairs.py --invoices 200000 --pairs 2
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine import machine
from throughput import HERE, RESULTS, _revision, same_decisions, scenario, together


def pair(input_dir: Path) -> dict[str, Any]:
    memory_run, rocks_run = together(input_dir)
    return {
        "engine_memory_state": memory_run,
        "engine_rocksdict_state": rocks_run,
        "rocksdict_share_of_memory_rate_per_cpu_s": rocks_run["events_per_cpu_s"] / memory_run["events_per_cpu_s"],
        "same_decisions": same_decisions(memory_run, rocks_run),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=RESULTS / "state_pairs.json")
    args = parser.parse_args()
    input_dir = scenario(args.invoices, args.seed, args.data_dir)
    pairs = [pair(input_dir) for _ in range(args.pairs)]
    ratios = [p["rocksdict_share_of_memory_rate_per_cpu_s"] for p in pairs]
    result = {
        "benchmark": "RocksDB against in-memory state, side by side, month-end scenario",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "revision": _revision(),
        "scenario": {"invoices": args.invoices, "seed": args.seed},
        "pairs": pairs,
        "rocksdict_share_of_memory_rate_per_cpu_s": {"each": ratios, "median": statistics.median(ratios)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["rocksdict_share_of_memory_rate_per_cpu_s"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
