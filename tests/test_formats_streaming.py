"""Streaming: a generated statement converts entry by entry, the same way the benchmark's 100 MB run does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from reconstream.shells.formats import ingest_file
from reconstream.shells.formats import safexml as x

BENCHMARK = Path(__file__).parents[1] / "benchmarks" / "formats.py"


def load_benchmark():  # type: ignore[no-untyped-def]
    if str(BENCHMARK.parent) not in sys.path:  # the script imports its neighbours, as it does when run
        sys.path.insert(0, str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("formats_benchmark", BENCHMARK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_statement_converts_every_transaction(tmp_path: Path) -> None:
    bench = load_benchmark()
    path = tmp_path / "stmt.xml"
    entries = bench.write_camt053(path, 400_000)
    results = list(ingest_file(path, "camt053"))
    assert [r.error for r in results if r.error] == []
    assert len(results) == entries * bench.TX_PER_BATCH


def test_processed_entries_are_released_while_streaming(tmp_path: Path) -> None:
    bench = load_benchmark()
    path = tmp_path / "stmt.xml"
    bench.write_camt053(path, 1_000_000)
    siblings = []
    for element in x.iter_elements(path, ("Ntry",)):
        siblings.append(len(element.getparent()))
        x.release(element)
    # Without release the statement would hold every entry seen so far; with it, only the few the parser
    # has read ahead in its current input chunk.
    assert len(siblings) > 500 and max(siblings) < 40
