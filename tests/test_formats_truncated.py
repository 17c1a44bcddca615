"""Bank files cut off anywhere: refused with a reason or converted, in bounded time and memory, never a hang.

Every real BAI2 and MT940/942 sample of the corpus (and the hand-written ones beside it) is cut at 15
evenly spaced byte offsets, and each cut is converted by a child process (this file run as a script) under
an address-space limit, while the test waits with a timeout: a converter that loops fails the test instead
of hanging CI. (The `bai2` library's parser, which converted BAI2 until it was replaced, loops with its
memory growing on 35 of the 120 cuts of the BAI2 samples, 7 of the 15 of bai2_us_bank.bai.) A cut is
refused with a reason (not an unexpected exception), or converted into events the whole file gives too: a
cut never becomes a shorter statement with a wrong balance, date or amount. A cut BAI2 file is always
refused whole (its trailers are missing or cut).

The other tests check each guard on its own: the structure checks of BAI2 and MT940, a flat file's row
shape, and the file budget (records, record size, time in the converter).
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reconstream.shells.formats import IngestOptions, IngestResult, bai2_records, ingest_file
from reconstream.shells.formats import ingest as ingest_module
from reconstream.shells.formats.canonical import SourceFile
from reconstream.shells.inputs import END_OF_INPUT, Position, read_bank_file

BANK = Path(__file__).parent / "fixtures" / "bank"
REAL = BANK / "real"
MANIFEST: list[dict[str, Any]] = json.loads((REAL / "manifest.json").read_text(encoding="utf-8"))
CUTS = 15
CUT_SECONDS = 2.0  # one cut of a file of a few KB: a cut that takes longer is a converter going wrong
CHILD_SECONDS = {"bai2": 25.0, "mt940": 45.0}  # all cuts of all samples of the format, child start included
ADDRESS_SPACE = 1 << 30  # the child's RLIMIT_AS: a converter whose memory runs away dies instead of the machine
PEAK_RSS_MB = 256  # what the child may have used at most, imports (about 50 MB) included
SAMPLES = {  # paths under tests/fixtures/bank
    "bai2": [f"real/{e['path']}" for e in MANIFEST if e["format"] == "bai2"] + ["bai2_us_bank.bai"],
    "mt940": [f"real/{e['path']}" for e in MANIFEST if e["format"] in ("mt940", "mt942")]
    + ["mt940_bank_de.sta", "mt942_intraday.sta"],
}


# -- the child: converts every cut of the samples it is given, one JSON line per cut ----------------------


def event_key(event: dict[str, Any]) -> str:
    """What an event says, without its id and source (they name the file, which a cut changes)."""
    return json.dumps([event["event_type"], event["event_time"], event["payload"]], sort_keys=True)


def cut_points(size: int) -> list[int]:
    return [size * k // (CUTS + 1) for k in range(1, CUTS + 1)]


def convert_cuts(sample: Path, scratch: Path) -> Iterator[dict[str, Any]]:
    data = sample.read_bytes()
    whole = {event_key(r.event) for r in ingest_file(sample) if r.event is not None}
    for number, at in enumerate(cut_points(len(data)), 1):
        cut = scratch / f"cut{number:02d}{sample.suffix}"
        cut.write_bytes(data[:at])
        started = time.monotonic()
        results = list(ingest_file(cut))
        seconds = time.monotonic() - started
        events = [r.event for r in results if r.event is not None]
        errors = [{"field": r.error.field, "reason": r.error.reason} for r in results if r.error is not None]
        foreign = [event_key(event) for event in events if event_key(event) not in whole]
        yield {"cut": number, "at": at, "seconds": seconds, "events": len(events), "errors": errors, "foreign": foreign}


def child(paths: list[str]) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    with tempfile.TemporaryDirectory(prefix="recon-cuts-") as scratch:
        for path in paths:
            for outcome in convert_cuts(BANK / path, Path(scratch)):
                print(json.dumps({"sample": path, **outcome}), flush=True)
    print(json.dumps({"peak_rss_mb": own_peak_rss_mb()}), flush=True)
    return 0


def own_peak_rss_mb() -> float:
    """This process's peak RSS since its exec (VmHWM). Not ru_maxrss: Linux carries that across exec, so a
    child of a big test process would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# -- the parent: both formats' children at once, each waited for with a timeout ---------------------------


@dataclass
class ChildRun:
    outcomes: dict[str, list[dict[str, Any]]]  # sample -> its cuts' outcomes, in order
    timed_out: bool
    peak_rss_mb: float | None
    stderr: str


def start(samples: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, __file__, *samples]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen[str], seconds: float) -> ChildRun:
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()  # only this child, which this test started
        stdout, stderr = process.communicate()
        timed_out = True
    outcomes: dict[str, list[dict[str, Any]]] = {}
    peak = None
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the last line of a child killed while writing it
        if "peak_rss_mb" in record:
            peak = record["peak_rss_mb"]
        else:
            outcomes.setdefault(record["sample"], []).append(record)
    return ChildRun(outcomes, timed_out, peak, stderr[-2000:])


@pytest.fixture(scope="module")
def runs() -> dict[str, ChildRun]:
    processes = {fmt: start(samples) for fmt, samples in SAMPLES.items()}
    return {fmt: finish(process, CHILD_SECONDS[fmt]) for fmt, process in processes.items()}


def unfinished(run: ChildRun, fmt: str) -> str:
    """Where the child stopped: the first sample whose cuts it did not all convert."""
    stuck = next(sample for sample in SAMPLES[fmt] if len(run.outcomes.get(sample, [])) < CUTS)
    cut = len(run.outcomes.get(stuck, [])) + 1
    why = f"did not finish within {CHILD_SECONDS[fmt]:g} s (a hang?)" if run.timed_out else "crashed the child"
    return f"not all cuts converted: {stuck} cut {cut} of {CUTS} {why}"


def describe(outcome: dict[str, Any]) -> str:
    return f"cut {outcome['cut']} (first {outcome['at']} bytes)"


@pytest.mark.parametrize(
    ("fmt", "sample"), [(fmt, sample) for fmt, samples in SAMPLES.items() for sample in samples], ids=str
)
def test_every_cut_is_refused_with_a_reason_or_converted_in_bounded_time(
    runs: dict[str, ChildRun], fmt: str, sample: str
) -> None:
    run = runs[fmt]
    outcomes = run.outcomes.get(sample, [])
    if len(outcomes) < CUTS:
        pytest.fail(f"{sample}: {unfinished(run, fmt)}\n{run.stderr}")
    for outcome in outcomes:
        where = f"{sample} {describe(outcome)}"
        assert outcome["seconds"] < CUT_SECONDS, f"{where} took {outcome['seconds']:.2f} s"
        unexpected = [e for e in outcome["errors"] if e["reason"].startswith("unexpected ")]
        assert not unexpected, f"{where}: a converter failure, not a refusal: {unexpected}"
        assert outcome["events"] or outcome["errors"], f"{where}: neither converted nor refused"
        assert not outcome["foreign"], f"{where}: converted into what the whole file does not say: {outcome['foreign']}"
        if fmt == "bai2":
            assert outcome["events"] == 0, f"{where}: a cut BAI2 file must be refused whole"


def test_the_children_stayed_within_their_memory(runs: dict[str, ChildRun]) -> None:
    for fmt, run in runs.items():
        assert run.peak_rss_mb is not None, f"{fmt}: the child did not finish"
        assert run.peak_rss_mb < PEAK_RSS_MB, f"{fmt}: peak RSS {run.peak_rss_mb:.0f} MB"


# -- each guard on its own -----------------------------------------------------------------------------


def errors_of(results: list[IngestResult]) -> list[tuple[str, str, str]]:
    return [(r.error.position, r.error.field, r.error.reason) for r in results if r.error is not None]


def write_cut(tmp_path: Path, sample: Path, data: bytes) -> Path:
    cut = tmp_path / f"cut-{sample.name}"
    cut.write_bytes(data)
    return cut


def test_a_bai2_file_cut_inside_its_file_trailer_is_refused(tmp_path: Path) -> None:
    sample = REAL / "moj-bai2" / "citi_example.bai2"
    data = sample.read_bytes()
    results = list(ingest_file(write_cut(tmp_path, sample, data[: data.rindex(b"99,") + 6])))
    [(position, field, reason)] = errors_of(results)
    assert (position, field) == ("file", "99") and reason.startswith("line 14: the file ends inside its last record")
    # One bank leaves the 99's "/" off: its line break is what ends the file then.
    svb = REAL / "moj-bai2" / "svb_us_example.bai2"
    assert errors_of(list(ingest_file(svb))) == [] and not svb.read_bytes().rstrip(b"\n").endswith(b"/")


def test_an_mt940_statement_cut_before_its_closing_balance_is_refused_naming_its_line(tmp_path: Path) -> None:
    sample = REAL / "wolph-mt940" / "jejik" / "triodos.sta"
    data = sample.read_bytes()
    cut = write_cut(tmp_path, sample, data[: data.rindex(b":62F:")])
    [(position, field, reason)] = errors_of(list(ingest_file(cut)))
    assert (position, field) == ("file", ":62F:")
    assert reason.endswith("has no closing balance (:62F:/:62M:): the file ends inside it (cut off?)")


def test_a_swift_block_never_closed_is_refused(tmp_path: Path) -> None:
    sample = REAL / "wolph-mt940" / "ASNB" / "0708271685_09022020_164516.940.txt"
    data = sample.read_bytes()
    cut = write_cut(tmp_path, sample, data[: data.rindex(b"-}")])
    [(position, field, reason)] = errors_of(list(ingest_file(cut)))
    assert (position, field) == ("file", "-}") and "not closed by '-}' before the file ends" in reason


def test_a_last_line_without_its_line_break_is_refused_unless_complete(tmp_path: Path) -> None:
    sample = REAL / "wolph-mt940" / "self-provided" / "raiffeisen-cmi.sta"
    data = sample.read_bytes()
    cut = write_cut(tmp_path, sample, data[: data.index(b",", data.rindex(b":62F:"))])  # amount without decimals
    [(_, field, reason)] = errors_of(list(ingest_file(cut)))
    assert field == ":62F:" and "the file ends inside this line, without a line break" in reason
    whole = REAL / "fruitl00p-php-mt940" / "Kontist" / "sample"  # ends with its closing balance, no line break
    assert errors_of(list(ingest_file(whole))) == [] and not whole.read_bytes().endswith(b"\n")


@pytest.mark.parametrize("end", ["\u00adXXX".encode(), "-\u00e5".encode()])
def test_an_end_line_whose_dash_a_code_page_changed_still_ends_the_file(tmp_path: Path, end: bytes) -> None:
    # ING's old "-XXX" arrives as a soft hyphen and "XXX" (fruitl00p/php-mt940's Ing sample), Handelsbanken's
    # "-" with a stray "å" after it (railslove/cmxl's sample), both without a last line break.
    sample = REAL / "zilverline-mt940" / "van_lanschot" / "van_lanschot.txt"
    data = sample.read_bytes()
    changed = write_cut(tmp_path, sample, data[: data.rindex(b"-XXX")] + end)
    assert errors_of(list(ingest_file(changed))) == []
    # A text line that starts with a dash is still text, and the file cut after it still refused.
    cut = write_cut(tmp_path, sample, data[: data.rindex(b"-XXX")] + b"-Zahlung")
    assert [field for _, field, _ in errors_of(list(ingest_file(cut)))] == ["-"]


def test_an_mt942_ending_in_its_sum_of_credits_needs_no_end_line(tmp_path: Path) -> None:
    # railslove/cmxl's MT942: two messages, the second without its "-" but whole up to its :90C:.
    sample = REAL / "wolph-mt940" / "mBank" / "mt942.sta"
    message = sample.read_bytes().split(b"\n-")[0]
    whole = write_cut(tmp_path, sample, message + b"\n-\n" + message)
    assert errors_of(list(ingest_file(whole))) == []
    cut = write_cut(tmp_path, sample, message + b"\n-\n" + message[: message.rindex(b":90C:")])
    [(_, field, reason)] = errors_of(list(ingest_file(cut)))
    assert field == "-" and "the file's last message has no end line" in reason


def test_a_csv_row_with_fewer_fields_than_the_header_is_refused(tmp_path: Path) -> None:
    data = (BANK / "ap_export_invoices.csv").read_bytes()
    cut = write_cut(tmp_path, BANK / "ap_export_invoices.csv", data[: data.index(b";1.000,00;")])
    [(position, field, reason)] = errors_of(list(ingest_file(cut)))
    assert (position, field, reason) == ("row2", "<csv>", "8 fields where the header has 12 (cut off?)")


def test_a_record_longer_than_its_bound_is_refused_naming_its_line() -> None:
    options = IngestOptions(max_record_chars=100)  # NatWest's 03 is 79 characters, 120 with its 88
    [(position, field, reason)] = errors_of(list(ingest_file(REAL / "moj-bai2" / "nwb_example.bai2", "auto", options)))
    assert (position, field) == ("file", "<record>")
    assert reason == "line 4 (the 03 of line 3): a record of 120 characters, more than the 100 allowed"


def test_a_file_of_more_records_than_its_bound_is_refused() -> None:
    options = IngestOptions(max_records=20)
    for sample in (REAL / "moov-bai2" / "sample3.txt", REAL / "wolph-mt940" / "jejik" / "rabobank.sta"):
        [(position, field, reason)] = errors_of(list(ingest_file(sample, "auto", options)))
        assert (position, field) == ("file", "<records>")
        assert reason.endswith(": more than the 20 records allowed in one file")


def never_ending(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    """A converter whose reading loop does not end, as the `bai2` library's does on a cut file."""
    for number in itertools.count(1):
        source.budget.record(80, f"line {number}")
    yield source.error("file", "<never>", "not reached")  # makes it a generator, as every converter is


def test_a_conversion_that_does_not_end_is_stopped_at_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ingest_module.CONVERTERS, "bai2", ("bai2", never_ending))
    options = IngestOptions(max_seconds=0.3, seconds_per_mib=0, max_records=1 << 62)
    started = time.monotonic()
    [(position, field, reason)] = errors_of(list(ingest_file(BANK / "bai2_us_bank.bai", "bai2", options)))
    assert time.monotonic() - started < 5
    assert (position, field) == ("file", "<time>") and reason.startswith("conversion took longer than the 0.3 s")


def test_time_spent_by_whoever_reads_the_events_does_not_count_against_the_converter() -> None:
    options = IngestOptions(max_seconds=0.5, seconds_per_mib=0)
    results = []
    for result in ingest_file(REAL / "moj-bai2" / "nwb_example.bai2", "auto", options):
        results.append(result)
        time.sleep(0.1)  # a run applying each event: 0.9 s in all, more than the converter may take
    assert len(results) == 9 and errors_of(results) == []


def test_a_detail_continued_many_times_is_read_in_linear_time() -> None:
    continuations = 100_000  # joined one by one, the text was copied each time: minutes, not a second
    lines = ["01,SENDER,RECEIVER,261104,0800,1,,,2/", "02,RECEIVER,121140399,1,261104,0800,USD,2/"]
    lines += ["03,0001234567,USD,010,100,,/", "16,495,100,0,BR1,CR1,TEXT"] + ["88,more"] * continuations
    lines += [f"49,200,{continuations + 3}/", f"98,200,1,{continuations + 5}/", f"99,200,1,{continuations + 7}/"]
    text = "\n".join(lines) + "\n"
    started = time.monotonic()
    found = bai2_records.parse(text, IngestOptions(max_record_chars=1 << 20).budget(len(text)))
    assert time.monotonic() - started < 15
    [detail] = found.groups[0].accounts[0].details
    assert found.problems == [] and detail.text == "TEXT" + "more" * continuations


def test_a_statement_of_many_entries_converts_in_linear_time(tmp_path: Path) -> None:
    entries = 8_000  # each entry's :86: was found by searching the statement again: quadratic
    lines = [":20:STMT1", ":25:NL91ABNA0417164300", ":28C:1/1", ":60F:C261103EUR0,00"]
    for n in range(entries):
        lines += [f":61:2611041104C1,00NTRFREF{n}//B{n}", f":86:/EREF/E2E{n}/REMI/INV {n}"]
    lines += [f":62F:C261104EUR{entries},00", "-"]
    path = tmp_path / "many.sta"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    results = list(ingest_file(path))
    assert time.monotonic() - started < 20
    assert errors_of(results) == [] and len(results) == entries + 2


def test_a_refused_file_is_a_dead_letter_of_the_run_with_its_reason(tmp_path: Path) -> None:
    data = (BANK / "bai2_us_bank.bai").read_bytes()
    cut = write_cut(tmp_path, BANK / "bai2_us_bank.bai", data[: len(data) * 5 // 16])  # the library looped here
    [line] = list(read_bank_file(cut, f"bank/{cut.name}", Position()))
    assert line.event is None and line.error is not None and line.key[0] == END_OF_INPUT
    assert (line.source, line.error.field) == (f"bank/{cut.name}:file", "49") and "cut off?" in line.error.reason


if __name__ == "__main__":
    sys.exit(child(sys.argv[1:]))
