"""The embedded shell end to end: replay, crash and resume, bad input, the audit chain, the demo's score."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from crashes import kill_mid_run_then_finish, kill_rng
from factories import HOUSE_IBAN
from reconstream.shells.embedded import run
from reconstream.shells.outputs import OUTPUT_FILES
from reconstream.synthetic import generate, score

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
COMPARED = [f"{name}.jsonl" for name in OUTPUT_FILES] + ["cash_positions.json"]


@pytest.fixture(scope="module")
def month_end(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("month-end")
    generate(directory, invoices=3000, seed=3)
    return directory


def outputs_of(out_dir: Path) -> dict[str, bytes]:
    return {name: (out_dir / name).read_bytes() for name in COMPARED}


def test_replay_is_byte_identical_and_stores_agree(month_end: Path, tmp_path: Path) -> None:
    run(month_end, tmp_path / "first")
    run(month_end, tmp_path / "second")
    run(month_end, tmp_path / "durable", state_dir=tmp_path / "state", checkpoint_every=700)
    first = outputs_of(tmp_path / "first")
    assert first == outputs_of(tmp_path / "second")
    assert first == outputs_of(tmp_path / "durable")
    assert first["matches.jsonl"].count(b"\n") > 1000


def test_rerun_on_a_finished_state_dir_changes_nothing(month_end: Path, tmp_path: Path) -> None:
    run(month_end, tmp_path / "out", state_dir=tmp_path / "state")
    before = outputs_of(tmp_path / "out")
    summary = run(month_end, tmp_path / "out", state_dir=tmp_path / "state")
    assert outputs_of(tmp_path / "out") == before
    assert summary.events > 0  # the summary survives in the checkpoint


def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_outputs(month_end: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    subprocess.run([*RECON, "run", "--input", str(month_end), "--out", str(reference), "--quiet"], check=True)
    expected = outputs_of(reference)
    rng = kill_rng()
    for attempt in range(3):
        out, state = tmp_path / f"out-{attempt}", tmp_path / f"state-{attempt}"
        command = [
            *RECON,
            "run",
            "--input",
            str(month_end),
            "--out",
            str(out),
            "--state-dir",
            str(state),
            "--checkpoint-every",
            "300",
            "--quiet",
        ]
        kill_mid_run_then_finish(command, out, rng, kills=2)  # twice, at random points, then to the end
        assert outputs_of(out) == expected, f"attempt {attempt}: resumed outputs differ"


def test_malformed_lines_are_dead_lettered_and_the_rest_is_processed(month_end: Path, tmp_path: Path) -> None:
    clean_out = tmp_path / "clean-out"
    run(month_end, clean_out)
    dirty = tmp_path / "dirty"
    dirty.mkdir()
    rng = random.Random(5)
    bad_lines = [
        b'{"event_id": "trunc',
        b"this is not json at all",
        b"[1, 2, 3]",
        b'{"event_id": "bad-%d", "source_system": "ap", "event_time": "2026-11-10T00:00:00Z", '
        b'"event_type": "invoice.captured", "payload": {"invoice_id": "X%d", "supplier_invoice_number": "N1", '
        b'"vendor_id": "V1", "company_code": "1000", "invoice_date": "2026-11-10", "currency": "EUR", '
        b'"net_amount": "-1.00", "tax_amount": "0.00", "gross_amount": "1.00"}}',  # a sign lost, not a credit note
        b'{"event_id": "cur-%d", "source_system": "bank", "event_time": "2026-11-10T00:00:00Z", '
        b'"event_type": "settlement.booked", "payload": {"entry_id": "Z%d", "account_iban": "'
        + HOUSE_IBAN.encode()
        + b'", "amount": "10.00", "currency": "XXX", "credit_debit": "DBIT", '
        b'"booking_date": "2026-11-10", "value_date": "2026-11-10"}}',
    ]
    files = sorted(month_end.glob("*.jsonl"))
    injected: dict[str, int] = {}
    lines_of = {path.name: path.read_bytes().splitlines() for path in files}
    for n in range(1000):
        name = rng.choice(list(lines_of))
        template = rng.choice(bad_lines)
        line = template % (n, n) if b"%d" in template else template
        lines_of[name].insert(rng.randrange(len(lines_of[name]) + 1), line)
        injected[name] = injected.get(name, 0) + 1
    for name, lines in lines_of.items():
        (dirty / name).write_bytes(b"\n".join(lines) + b"\n")
    dirty_out = tmp_path / "dirty-out"
    run(dirty, dirty_out)

    def records(path: Path) -> list[dict]:  # type: ignore[type-arg]
        return [orjson.loads(line) for line in path.read_bytes().splitlines()]

    clean_dead = records(clean_out / "dead_letters.jsonl")
    dirty_dead = records(dirty_out / "dead_letters.jsonl")
    assert len(dirty_dead) == len(clean_dead) + 1000
    assert all(d["field"] and d["reason"] and d["source"] for d in dirty_dead)
    assert {d["field"] for d in dirty_dead} >= {"<json>", "payload.net_amount", "payload.currency"}
    # Every valid event was still processed: the same matches and business exceptions as the clean run.
    assert (dirty_out / "matches.jsonl").read_bytes() == (clean_out / "matches.jsonl").read_bytes()
    assert (dirty_out / "cash_positions.json").read_bytes() == (clean_out / "cash_positions.json").read_bytes()

    def business(path: Path) -> list[dict]:  # type: ignore[type-arg]
        return [e for e in records(path) if e["kind"] == "business"]

    assert business(dirty_out / "exceptions.jsonl") == business(clean_out / "exceptions.jsonl")


def test_audit_chain_verifies_and_catches_tampering(month_end: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(month_end, out)
    ok = subprocess.run([*RECON, "audit", "verify", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout
    lines = (out / "audit.jsonl").read_bytes().splitlines()
    record = orjson.loads(lines[100])
    record["outcome"] = "applied" if record["outcome"] != "applied" else "duplicate"
    lines[100] = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    (out / "audit.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    broken = subprocess.run([*RECON, "audit", "verify", str(out)], capture_output=True, text=True)
    assert broken.returncode == 1 and "record 101" in broken.stdout


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_planted_anomaly_is_caught_and_nothing_else(seed: int, tmp_path: Path) -> None:
    labels = generate(tmp_path / "in", invoices=2000, seed=seed)
    run(tmp_path / "in", tmp_path / "out")
    exceptions = [orjson.loads(line) for line in (tmp_path / "out" / "exceptions.jsonl").read_bytes().splitlines()]
    result = score(labels, exceptions)
    assert set(result["detected"]) == set(result["injected"])
    assert result["missed"] == 0, result["missed_refs"]
    assert result["false_exceptions"] == 0, result["false_refs"]


@pytest.mark.slow
def test_demo_json_at_10000_invoices() -> None:
    done = subprocess.run(
        [*RECON, "demo", "--invoices", "10000", "--seed", "11", "--json"], capture_output=True, text=True, check=True
    )
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert result["missed"] == 0 and result["false_exceptions"] == 0
    assert set(result["detected"]) == set(result["injected"])
    assert result["events"] > 45_000  # about five events per invoice
