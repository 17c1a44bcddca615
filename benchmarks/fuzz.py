"""Issue #15's fuzz harness at full size: at least 100,000 hostile lines over every stream of a generated month.

    .venv/bin/python benchmarks/fuzz.py [--invoices 5000] [--fuzz 100000] [--seed 7] [--each-kind 100] [--before REV]

The fuzz lines and the checks are tests/fuzzing.py's, the ones tests/test_fuzz.py runs at CI size: no crash,
one audit record per input line, every fuzz line a dead letter naming its field (an identical replay: a
duplicate), the clean lines as in the clean run and the valid events' outputs identical to it. Writes
benchmarks/results/fuzz.json: counts per fuzz kind and outcome, crashes, the failures' first examples, CPU
seconds. Figures are per CPU-second (the machines are shared), the fuzzed run's set against the clean run's
on the same month, both measured in the same run.

--each-kind N also runs every kind alone, N lines in the CI-size month: one crash ends a run and hides what
the other kinds would have done, so this names each kind that crashes the engine. --before REV runs all of it
through the engine of an earlier commit too, as the before.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent / "tests"))  # the harness lives beside the test that runs it at CI size

from fuzzing import STREAMS, EngineRun, FuzzReport, check_each_kind, clean_month, fuzz_and_check  # noqa: E402

CI_INVOICES = 300  # tests/test_fuzz.py's month: where each kind runs alone


def run_figures(lines: int, run: EngineRun) -> dict[str, Any]:
    return {
        "lines": lines,
        "seconds": round(run.seconds, 3),
        "cpu_seconds": round(run.cpu_seconds, 3),
        "lines_per_cpu_s": round(lines / run.cpu_seconds, 1) if run.cpu_seconds else None,
        "exit_code": run.returncode,
        "crashed": run.crashed,
    }


def measure(args: argparse.Namespace, env: Mapping[str, str] | None) -> dict[str, Any]:
    """The full-size fuzz of one engine: its clean run, its fuzzed run and the checks."""
    month = clean_month(args.data_dir / f"month-end-{args.invoices}-{args.seed}", args.invoices, args.seed)
    with tempfile.TemporaryDirectory(prefix="recon-fuzz-") as scratch:
        fuzzed = fuzz_and_check(month, Path(scratch), args.fuzz, args.seed, env=env)
        input_mb = sum((fuzzed.report.fuzzed.input_dir / f"{s}.jsonl").stat().st_size for s in STREAMS) / 1e6
    report = fuzzed.report
    clean_lines = len(fuzzed.manifest.moved)
    clean, dirty = report.clean, report.fuzzed
    extra_cpu = dirty.cpu_seconds - clean.cpu_seconds
    return {
        "scenario": {
            "invoices": args.invoices,
            "seed": args.seed,
            "clean_lines": clean_lines,
            "fuzz_lines": len(fuzzed.manifest.lines),
            "fuzzed_input_mb": round(input_mb, 1),
        },
        "clean_run": run_figures(clean_lines, clean),
        "fuzzed_run": run_figures(clean_lines + len(fuzzed.manifest.lines), dirty),
        # What a refused line costs beside a valid one: the fuzz lines over the CPU they added.
        "fuzz_lines_per_added_cpu_s": round(len(fuzzed.manifest.lines) / extra_cpu, 1) if extra_cpu > 0 else None,
        "crashes": int(report.crashed),
        **report.to_json(),
    }


def each_kind(args: argparse.Namespace, env: Mapping[str, str] | None) -> dict[str, Any]:
    month = clean_month(args.data_dir / f"month-end-{CI_INVOICES}-{args.seed}", CI_INVOICES, args.seed)
    with tempfile.TemporaryDirectory(prefix="recon-fuzz-kinds-") as scratch:
        reports = check_each_kind(month, Path(scratch), args.each_kind, args.seed, env)
    return {
        "invoices": CI_INVOICES,
        "lines_per_kind": args.each_kind,
        "crashes": sum(report.crashed for report in reports.values()),
        "failing_kinds": [name for name, report in reports.items() if not report.ok],
        "kinds": {name: kind_summary(name, report) for name, report in reports.items()},
    }


def kind_summary(name: str, report: FuzzReport) -> dict[str, Any]:
    """One kind run alone: crashed or not, its outcomes, and its first failures."""
    kind = report.kinds[name]
    return {
        "ok": report.ok,
        "crashed": report.crashed,
        "crash": report.crash_line,
        "outcomes": dict(kind.outcomes),
        "failures": kind.failures,
        "examples": kind.examples[:2],
        "fields": dict(kind.fields.most_common(5)),
        "outputs_differ": bool(report.outputs) and not report.crashed,
    }


def engine(args: argparse.Namespace, env: Mapping[str, str] | None) -> dict[str, Any]:
    result = {"full_size": measure(args, env)}
    if args.each_kind:
        result["each_kind"] = each_kind(args, env)
    return result


@contextlib.contextmanager
def pinned(revision: str) -> Iterator[dict[str, str]]:
    """The engine of an earlier commit, importable as `reconstream` by the `recon` child it runs in.

    The revision's tree from `git archive` (no worktree entry in the shared repository) and a package folder
    whose subpackages link to its top-level folders (the layout pyproject.toml maps), first on PYTHONPATH.
    """
    with tempfile.TemporaryDirectory(prefix="recon-pinned-") as scratch:
        tree, package = Path(scratch) / "tree", Path(scratch) / "pkg" / "reconstream"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(HERE.parent), "archive", revision], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        for folder in ("models", "matchers", "tables", "streams", "shells", "synthetic"):
            (package / folder).symlink_to(tree / folder)
        yield {**os.environ, "PYTHONPATH": str(package.parent)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=5000, help="the clean month's size (about 6 events each)")
    parser.add_argument("--fuzz", type=int, default=100_000, help="fuzz lines inserted over every stream")
    parser.add_argument("--seed", type=int, default=7, help="the month's and the fuzz's")
    parser.add_argument(
        "--each-kind", type=int, default=0, metavar="N", help="also run every kind alone, N lines in the CI-size month"
    )
    parser.add_argument("--before", metavar="REVISION", help="also run the engine of this git revision, as the before")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz.json")
    args = parser.parse_args()

    result: dict[str, Any] = {
        "benchmark": "fuzz harness of issue #15: hostile lines in every stream of a generated month",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "revision": _revision(),
        "working_tree_changes": _dirty(),
        "before_revision": args.before,
        "engine": engine(args, None),
    }
    if args.before:
        with pinned(args.before) as env:
            result["before_engine"] = engine(args, env)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    full = result["engine"]["full_size"]
    print(
        json.dumps(
            {
                "ok": full["ok"],
                "crashes": full["crashes"],
                "failing_kinds": full["failing_kinds"],
                "fuzzed_run": full["fuzzed_run"],
                "out": str(args.out),
            }
        )
    )
    return 0


def _revision() -> str:
    done = subprocess.run(
        ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _dirty() -> bool:
    """Whether the engine measured had uncommitted changes: the revision alone would not name it."""
    done = subprocess.run(
        ["git", "-C", str(HERE.parent), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(done.stdout.strip())


if __name__ == "__main__":
    sys.exit(main())
