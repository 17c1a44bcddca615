"""Issue #15's fuzz acceptance at CI size: hostile lines in every stream of a small clean month.

A 300-invoice month (about 1,800 events) and the same month with 3,000 seeded fuzz lines (the kinds are in
tests/fuzzing.py) each go through `recon run` in a child process, once for the whole module. Then: no
crash; every input line has one audit record; every fuzz line is a dead letter naming its field (an
identical replay: a duplicate), reported per kind; and the valid events' outputs are those of the clean
run. The full size, at least 100,000 fuzz lines, is benchmarks/fuzz.py. RECON_FUZZ_SEED picks another seed.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import orjson
import pytest
from fuzzing import FUZZ_PREFIX, KINDS, STREAMS, Fuzzed, clean_month, fuzz_and_check, fuzz_input, read_lines

SEED = int(os.environ.get("RECON_FUZZ_SEED", "20261126"))
INVOICES = 300
FUZZ_LINES = 3000
TIMEOUT = 300  # seconds per engine run: a hang is a failure too, and ends the test instead of the CI job

# Kinds whose line is no JSON object at all, or no JSON: they carry no event id.
NOT_JSON = {"not_json", "truncated_json", "deep_nesting", "control_char_raw", "lone_surrogate"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Fuzzed:
    work = tmp_path_factory.mktemp("fuzz")
    clean = clean_month(work / "clean", INVOICES, SEED)
    return fuzz_and_check(clean, work, FUZZ_LINES, SEED, timeout=TIMEOUT)


def fuzz_raw(fuzzed: Fuzzed, source: str) -> bytes:
    name, line = source.rsplit(":", 1)
    return fuzzed_file(fuzzed.report.fuzzed.input_dir / name)[int(line) - 1]


@functools.cache
def fuzzed_file(path: Path) -> list[bytes]:
    return read_lines(path)  # read once: the tests look up thousands of lines


def test_every_kind_lands_and_every_stream_gets_fuzz(fuzzed: Fuzzed) -> None:
    lines = fuzzed.manifest.lines
    assert len(lines) == FUZZ_LINES
    assert {line.kind for line in lines} == set(KINDS)
    assert {line.file for line in lines} == {f"{stream}.jsonl" for stream in STREAMS}
    fresh = [line.event_id for line in lines if line.event_id is not None and not KINDS[line.kind].reuse]
    assert all(event_id.startswith(FUZZ_PREFIX) for event_id in fresh)
    assert len(fresh) == len(set(fresh)), "a fuzz id used twice would make a duplicate, not a dead letter"


def test_a_reused_id_follows_the_line_it_reuses(fuzzed: Fuzzed) -> None:
    reused = [line for line in fuzzed.manifest.lines if KINDS[line.kind].reuse]
    assert reused
    for line in reused:
        assert line.reuses is not None
        original = fuzzed.manifest.moved[line.reuses]
        assert original.rsplit(":", 1)[0] == line.file and int(original.rsplit(":", 1)[1]) < line.line
        original_raw = fuzz_raw(fuzzed, original)
        assert orjson.loads(original_raw)["event_id"] == line.event_id
        same = fuzz_raw(fuzzed, line.source) == original_raw
        assert same is (line.kind == "reused_id_identical"), line


def test_each_fuzz_line_is_what_its_kind_says(fuzzed: Fuzzed) -> None:
    for line in fuzzed.manifest.lines:
        raw = fuzz_raw(fuzzed, line.source)
        assert raw.strip() and b"\n" not in raw, line  # a blank line is skipped and would prove nothing
        if line.kind in NOT_JSON:
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(raw)
            continue
        decoded = orjson.loads(raw)
        if line.kind == "json_array":
            assert isinstance(decoded, list), line
        elif line.kind == "json_scalar":
            assert not isinstance(decoded, dict | list), line
        else:
            assert isinstance(decoded, dict) and decoded["event_id"] == line.event_id, line


def test_the_generator_is_deterministic(fuzzed: Fuzzed, tmp_path: Path) -> None:
    again = fuzz_input(fuzzed.clean_dir, tmp_path / "again", fuzzed.applied, FUZZ_LINES, SEED)
    assert again.lines == fuzzed.manifest.lines and again.moved == fuzzed.manifest.moved
    for stream in STREAMS:
        name = f"{stream}.jsonl"
        assert (tmp_path / "again" / name).read_bytes() == (fuzzed.report.fuzzed.input_dir / name).read_bytes()
    other = fuzz_input(fuzzed.clean_dir, tmp_path / "other", fuzzed.applied, FUZZ_LINES, SEED + 1)
    assert other.lines != fuzzed.manifest.lines


def test_the_fuzzed_run_does_not_crash(fuzzed: Fuzzed) -> None:
    assert not fuzzed.report.crashed, fuzzed.report.crash_text()


def test_every_input_line_has_one_audit_record(fuzzed: Fuzzed) -> None:
    problems = fuzzed.report.accounting
    assert not problems, f"{len(problems)} lines not accounted for, first: {problems[:10]}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_fuzz_line_of_the_kind_is_refused_with_its_field(fuzzed: Fuzzed, kind: str) -> None:
    report = fuzzed.report.kinds[kind]
    expected = KINDS[kind].expect
    assert report.failures == 0, (
        f"{report.failures} of {report.count} {kind} lines not {expected}: outcomes {dict(report.outcomes)}, "
        f"first: {report.examples}" + (f"\n{fuzzed.report.crash_text()}" if fuzzed.report.crashed else "")
    )


def test_clean_lines_and_outputs_are_those_of_the_clean_run(fuzzed: Fuzzed) -> None:
    report = fuzzed.report
    assert not report.crashed, report.crash_text()
    assert not report.clean_lines, f"{len(report.clean_lines)} clean lines changed, first: {report.clean_lines[:5]}"
    assert not report.outputs, "\n".join(report.outputs)
