"""Power loss under `recon run --state-dir`, as real processes: the state's checkpoint survived but the OS lost
output writes it had not put on disk, so a file is shorter than the checkpoint recorded, or holds other bytes.
A resume refuses, names the file and leaves the folder as it found it (never pads it with NUL bytes), and the
read-only commands still read that folder. A SIGKILL, which loses no written byte, still resumes exactly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from crashes import kill_mid_run_then_finish, kill_rng
from reconstream.shells.outputs import OUTPUT_FILES
from reconstream.synthetic import generate
from reconstream.tables import RocksStore
from servers import free_port, wait_until_healthy

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
COMPARED = [f"{name}.jsonl" for name in OUTPUT_FILES] + ["cash_positions.json"]
REFUSED = 2


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("month")
    generate(directory, invoices=300, seed=5)
    return directory


def run_command(month: Path, out: Path, state: Path) -> list[str]:
    return [*RECON, "run", "--input", str(month), "--out", str(out), "--state-dir", str(state),
            "--checkpoint-every", "50", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def finished(month: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run to its end: its last checkpoint records every output file at its full length."""
    base = tmp_path_factory.mktemp("finished")
    subprocess.run(run_command(month, base / "out", base / "state"), check=True, timeout=60)
    return base


@pytest.fixture
def copied(finished: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(out, state) of the finished run, copied for one test to damage."""
    shutil.copytree(finished / "out", tmp_path / "out")
    shutil.copytree(finished / "state", tmp_path / "state")
    return tmp_path / "out", tmp_path / "state"


def resume(month: Path, out: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(run_command(month, out, state), capture_output=True, text=True, timeout=60)


def snapshot(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.iterdir()) if path.suffix in (".jsonl", ".json")}


def assert_refused(result: subprocess.CompletedProcess[str], damaged: dict[str, bytes], out: Path) -> None:
    """Refused as a message, not a crash, and the folder left exactly as the power cut left it."""
    assert result.returncode == REFUSED, result.stderr
    assert "Traceback" not in result.stderr
    assert "fresh --out" in result.stderr and "restore" in result.stderr
    assert snapshot(out) == damaged
    assert not any(b"\0" in content for content in damaged.values())


def drop_last_lines(path: Path, count: int) -> int:
    """A power cut that lost the file's last `count` lines whole; the length left."""
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-count]))
    return path.stat().st_size


def start_serving(out: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    server = subprocess.Popen([*RECON, "serve", "--out", str(out), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    server.wait(timeout=30)


def test_outputs_cut_short_are_refused_and_the_folder_still_verifies_and_serves(
    month: Path, copied: tuple[Path, Path]
) -> None:
    out, state = copied
    audit, matches = out / "audit.jsonl", out / "matches.jsonl"
    recorded = {audit: audit.stat().st_size, matches: matches.stat().st_size}
    audit_records = audit.read_bytes().count(b"\n")
    found = {audit: drop_last_lines(audit, 40), matches: drop_last_lines(matches, 10)}
    damaged = snapshot(out)
    result = resume(month, out, state)
    assert_refused(result, damaged, out)
    for path in (audit, matches):
        assert f"{path.name}: {found[path]:,} bytes, where the checkpoint recorded {recorded[path]:,}" in result.stderr
    # What is left of the chain still verifies, and the pages still read the folder: the refusal wrote nothing.
    verified = subprocess.run([*RECON, "audit", "verify", str(out)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and f"intact: {audit_records - 40:,} records" in verified.stdout
    server, base = start_serving(out)
    try:
        wait_until_healthy(base, server)
        assert httpx.get(f"{base}/api/exceptions", timeout=10).status_code == 200
        assert httpx.get(f"{base}/api/cash-positions", timeout=10).status_code == 200
    finally:
        stop(server)


def test_an_output_cut_mid_line_is_refused_with_both_lengths(month: Path, copied: tuple[Path, Path]) -> None:
    out, state = copied
    matches = out / "matches.jsonl"
    recorded = matches.stat().st_size
    with matches.open("r+b") as handle:
        handle.truncate(recorded - 4001)
    damaged = snapshot(out)
    result = resume(month, out, state)
    assert_refused(result, damaged, out)
    assert f"matches.jsonl: {recorded - 4001:,} bytes, where the checkpoint recorded {recorded:,}" in result.stderr


def test_a_folder_with_a_torn_last_line_is_served(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(finished / "out", out)
    matches = out / "matches.jsonl"
    with matches.open("r+b") as handle:
        handle.truncate(matches.stat().st_size - 4001)
    server, base = start_serving(out)
    try:
        wait_until_healthy(base, server)
    finally:
        stop(server)


def test_a_changed_byte_inside_the_checkpointed_range_is_refused(month: Path, copied: tuple[Path, Path]) -> None:
    out, state = copied
    updates = out / "status_updates.jsonl"
    content = bytearray(updates.read_bytes())
    middle = len(content) // 2
    content[middle] = ord("X") if content[middle] != ord("X") else ord("Y")
    # And a tail past the checkpoint, as a crash leaves: only the checkpointed bytes are checked, and cut to.
    updates.write_bytes(bytes(content) + b'{"written after the checkpoint": true}\n')
    damaged = snapshot(out)
    result = resume(month, out, state)
    assert_refused(result, damaged, out)
    assert "status_updates.jsonl" in result.stderr and "SHA-256" in result.stderr


def test_a_checkpoint_from_before_digests_resumes_by_lengths_alone(
    month: Path, finished: Path, copied: tuple[Path, Path]
) -> None:
    out, state = copied
    store = RocksStore(state)
    try:
        checkpoint = store.checkpoint()
        assert checkpoint is not None
        checkpoint.pop("output_sha256", None)  # what a checkpoint written before this change holds
        store.commit(checkpoint)
    finally:
        store.close()
    # Cut short: refused by the lengths alone (and the refusal commits nothing, so the checkpoint stays old).
    exceptions = out / "exceptions.jsonl"
    intact = exceptions.read_bytes()
    exceptions.write_bytes(intact[:-100])
    damaged = snapshot(out)
    refused = resume(month, out, state)
    assert_refused(refused, damaged, out)
    assert f"exceptions.jsonl: {len(intact) - 100:,} bytes, where the checkpoint recorded {len(intact):,}" in (
        refused.stderr
    )
    # Longer, as a crash leaves it: cut back and resumed as before.
    exceptions.write_bytes(intact + b'{"written after the checkpoint": true}\n')
    result = resume(month, out, state)
    assert result.returncode == 0, result.stderr
    assert {name: (out / name).read_bytes() for name in COMPARED} == {
        name: (finished / "out" / name).read_bytes() for name in COMPARED
    }


def test_sigkill_at_random_points_then_resume_still_gives_the_uninterrupted_outputs(
    month: Path, finished: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    kill_mid_run_then_finish(run_command(month, out, tmp_path / "state"), out, kill_rng(), kills=3)
    for name in COMPARED:
        assert (out / name).read_bytes() == (finished / "out" / name).read_bytes(), f"{name}: resumed outputs differ"
