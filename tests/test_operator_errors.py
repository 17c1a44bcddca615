"""What an unlucky operator meets, as real `recon` processes: a port another process holds, a disk that fills
during a run. Each ends the command with one line on stderr naming what failed and where, and an exit code of
its own (docs/operations.md, "Full disks, taken ports, exit codes"), never a traceback; after a full disk,
freeing space and running the same command again gives the outputs of a clean run.

A full output file is a symlink to /dev/full (every write to it fails with ENOSPC, no privileges needed). A
full state dir needs a small filesystem: a tmpfs mounted by the test where this user may mount (root with
CAP_SYS_ADMIN, as on this project's machines), skipped elsewhere."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from case_dump import dump
from reconstream.shells import cli
from reconstream.shells.failures import (
    EXIT_CLUSTER_REFUSED,
    EXIT_DISK_FULL,
    EXIT_PORT_BUSY,
    EXIT_WORKER_GAVE_UP,
    disk_full,
)
from reconstream.shells.kafka import worker as kafka_worker
from reconstream.shells.kafka.recovery import ClusterRefused, WorkerGaveUp
from reconstream.shells.outputs import OUTPUT_FILES
from reconstream.synthetic import generate
from reconstream.tables import RocksStore

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
COMPARED = [f"{name}.jsonl" for name in OUTPUT_FILES] + ["cash_positions.json"]
BANK_FILE = Path(__file__).parent / "fixtures" / "bank" / "camt053_v02_statement.xml"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("month")
    generate(directory, invoices=300, seed=5)
    return directory


@pytest.fixture(scope="module")
def clean(month: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The outputs of an uninterrupted run on a roomy disk."""
    out = tmp_path_factory.mktemp("clean") / "out"
    subprocess.run([*RECON, "run", "--input", str(month), "--out", str(out), "--quiet"], check=True, timeout=120)
    return out


def run_command(month: Path, out: Path, state: Path | None) -> list[str]:
    command = [*RECON, "run", "--input", str(month), "--out", str(out), "--checkpoint-every", "50", "--quiet"]
    return command + (["--state-dir", str(state)] if state is not None else [])


def recon(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RECON, *args], capture_output=True, text=True, timeout=timeout)


def outputs_of(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in COMPARED}


def the_one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The command's stderr is exactly one line, no traceback, and it exited with `code`."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def busy() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket holds, listening."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


# -- a port in use -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (["serve", "--out", "{month}", "--port", "{port}"], "--port"),
        (["run", "--input", "{month}", "--out", "{tmp}/out", "--quiet", "--serve", "127.0.0.1:{port}"], "--serve"),
        (["demo", "--invoices", "30", "--serve", "127.0.0.1:{port}"], "--serve"),
    ],
    ids=["serve", "run --serve", "demo --serve"],
)
def test_a_busy_port_is_named_with_the_option_that_chooses_it(
    command: list[str], flag: str, busy: int, month: Path, tmp_path: Path
) -> None:
    args = [part.format(month=month, tmp=tmp_path, port=busy) for part in command]
    result = recon(*args)
    if args[0] == "demo":  # the demo tells what it generates before it serves: the reason is still the last line
        assert "Traceback" not in result.stderr and result.returncode == EXIT_PORT_BUSY, result.stderr
        line = result.stderr.strip().splitlines()[-1]
    else:
        line = the_one_line(result, EXIT_PORT_BUSY)
    assert line.startswith(f"recon {args[0]}: 127.0.0.1:{busy} is already in use"), line
    assert flag in line


def test_a_busy_metrics_port_stops_the_worker_with_its_address_and_option(busy: int, tmp_path: Path) -> None:
    # No broker is needed: the metrics server is started before the worker connects. Its Kafka clients exist by
    # then, and librdkafka's own threads log their failed connections to 127.0.0.1:1 on stderr around our line.
    result = recon("worker", "--broker", "127.0.0.1:1", "--data-dir", str(tmp_path / "w"), "--metrics-port", str(busy))
    assert result.returncode == EXIT_PORT_BUSY, result.stderr
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("recon worker: ")]
    assert ours == [
        f"recon worker: 0.0.0.0:{busy} is already in use by another process: stop that process, or choose another "
        "address with --metrics-port PORT"
    ]


def test_an_address_that_cannot_be_bound_is_named_too(tmp_path: Path) -> None:
    # Beyond loopback the service needs [auth]; 192.0.2.1 (TEST-NET-1) is then refused by the kernel, not by us.
    keys, config = tmp_path / "keys.json", tmp_path / "recon.toml"
    recon("keys", "add", "--file", str(keys), "--name", "ops", "--role", "admin").check_returncode()
    config.write_text(f'[auth]\napi_keys_file = "{keys}"\n')
    result = recon("serve", "--config", str(config), "--out", str(tmp_path), "--host", "192.0.2.1", "--port", "8000")
    line = the_one_line(result, EXIT_PORT_BUSY)
    assert line.startswith("recon serve: cannot listen on 192.0.2.1:8000: cannot assign requested address"), line
    assert line.endswith("choose another address with --port (and --host)")


# -- a full disk ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_state", [True, False], ids=["--state-dir: resumes", "in memory: starts over"])
def test_a_full_output_disk_stops_the_run_and_a_rerun_after_freeing_space_gives_the_clean_outputs(
    with_state: bool, month: Path, clean: Path, tmp_path: Path
) -> None:
    out, state = tmp_path / "out", (tmp_path / "state" if with_state else None)
    out.mkdir()
    full = out / "matches.jsonl"
    full.symlink_to("/dev/full")  # the first match fails with ENOSPC, a few hundred records into the month
    line = the_one_line(subprocess.run(run_command(month, out, state), capture_output=True, text=True), EXIT_DISK_FULL)
    assert line.startswith(f"recon run: no space left on device writing {full}; free space there"), line
    if state is not None:
        assert "resumes from its last checkpoint" in line
        # Stopped past some checkpoints, and none of them names a byte of the file it could not write.
        store = RocksStore(state)
        try:
            checkpoint = store.checkpoint()
        finally:
            store.close()
        assert checkpoint is not None and checkpoint["outputs"]["matches"] == 0
        assert sum(position["line"] for position in checkpoint["inputs"].values()) > 50
    full.unlink()  # space freed
    subprocess.run(run_command(month, out, state), check=True, timeout=120)
    assert outputs_of(out) == outputs_of(clean)
    assert dump(f"sqlite:///{out / 'cases.sqlite'}") == dump(f"sqlite:///{clean / 'cases.sqlite'}")


def _cannot(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: RocksDB opens in it and fills it a few hundred records into the month. Mounting needs
    privileges: where this user lacks them the test is skipped on a developer machine (it never asks for
    more), and fails under CI=true, whose machines run as root: a skip there would hide that it never ran."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if shutil.which("mount") is None:
        _cannot("no mount command")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        _cannot(f"this user cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def test_a_full_state_disk_stops_the_run_at_its_last_checkpoint_and_a_rerun_resumes(
    month: Path, clean: Path, tmp_path: Path, tiny_filesystem: Path
) -> None:
    out, state = tmp_path / "out", tiny_filesystem / "state"
    result = subprocess.run(run_command(month, out, state), capture_output=True, text=True, timeout=120)
    line = the_one_line(result, EXIT_DISK_FULL)
    # RocksDB's error is no OSError; it names the file it was appending to (its write-ahead log).
    assert line.startswith(f"recon run: no space left on device writing {state}/"), line
    assert "resumes from its last checkpoint" in line
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_filesystem)], check=True)  # space freed
    subprocess.run(run_command(month, out, state), check=True, timeout=120)
    assert outputs_of(out) == outputs_of(clean)
    assert dump(f"sqlite:///{out / 'cases.sqlite'}") == dump(f"sqlite:///{clean / 'cases.sqlite'}")


def test_a_full_disk_under_ingest_names_its_output(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    out.symlink_to("/dev/full")
    line = the_one_line(recon("ingest", str(BANK_FILE), "--out", str(out)), EXIT_DISK_FULL)
    assert line == (
        f"recon ingest: no space left on device writing {out} (--out); free space there and run the same command again"
    )
    with open("/dev/full", "wb") as stdout:
        result = subprocess.run([*RECON, "ingest", str(BANK_FILE)], stdout=stdout, stderr=subprocess.PIPE, text=True)
    line = the_one_line(result, EXIT_DISK_FULL)
    assert line.startswith("recon ingest: no space left on device writing standard output"), line


def test_a_full_disk_is_recognised_in_every_form_it_takes(tmp_path: Path) -> None:
    # RocksDB (rocksdict): a plain Exception; closing the database afterwards raises again, with it as context.
    rocks = Exception(
        "IO error: No space left on device: While appending to file: state/000004.log: No space left on device"
    )
    closing = Exception("IO error: Writer has previous error.")
    closing.__context__ = rocks
    found = disk_full(closing)
    assert found is not None and (found.reason, found.where) == ("no space left on device", "state/000004.log")
    # SQLite (the case store): SQLITE_FULL, here from a database not allowed to grow.
    database = sqlite3.connect(tmp_path / "cases.sqlite")
    database.execute("CREATE TABLE t (x BLOB)")
    database.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as raised:
        for _ in range(10):
            database.execute("INSERT INTO t VALUES (zeroblob(4000))")
    database.close()
    assert disk_full(raised.value) is not None
    assert disk_full(OSError(errno.EDQUOT, "Disk quota exceeded")).reason == "disk quota exceeded"  # type: ignore[union-attr]
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None
    assert disk_full(ValueError("a bug")) is None


# -- a worker the cluster will not serve, or whose disk is full -------------------------------------------------
@pytest.mark.parametrize(
    ("failure", "code", "says"),
    [
        (
            WorkerGaveUp(
                "the Kafka cluster has not served this worker for 901 s (the limit is 900 s, [kafka] "
                "max_outage) after 40 attempts; last error: KafkaError{code=_TRANSPORT}"
            ),
            EXIT_WORKER_GAVE_UP,
            "recon worker: gave up: the Kafka cluster has not served this worker for 901 s",
        ),
        (
            ClusterRefused(
                "the Kafka cluster refuses this worker: SASL authentication error; see [kafka] in the config"
            ),
            EXIT_CLUSTER_REFUSED,
            "recon worker: the Kafka cluster refuses this worker: SASL authentication error",
        ),
        (
            # RocksDB's error on a full --data-dir, as a partition's commit raises it
            Exception(
                "IO error: No space left on device: While appending to file: w/p0/000004.log: No space left on device"
            ),
            EXIT_DISK_FULL,
            "recon worker: no space left on device writing w/p0/000004.log; free space there and run the same command "
            "again (the worker resumes from its last committed transaction)",
        ),
    ],
    ids=["gave up", "refused", "disk full"],
)
def test_a_worker_stopped_by_its_cluster_or_disk_ends_with_one_line_and_its_own_code(
    failure: Exception,
    code: int,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # In process, the worker replaced by its failure: waiting out a real max_outage takes minutes, a refusal needs
    # a broker with SASL, a full state a broker too. What is tested is main's handling of what the worker raises.
    def fail(config: object, idle_exit: float | None = None) -> int:
        raise failure

    monkeypatch.setattr(kafka_worker, "run_worker", fail)
    returned = cli.main(["worker", "--broker", "127.0.0.1:1", "--data-dir", str(tmp_path / "w")])
    captured = capfd.readouterr()
    assert returned == code
    assert captured.err.strip().splitlines() == [captured.err.strip()], captured.err  # one line
    assert captured.err.startswith(says), captured.err
