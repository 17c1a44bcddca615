"""The run's exceptions projected into the case store through the sink interface: what an uninterrupted
`recon run` projects, a run killed with SIGKILL and resumed projects too, entry for entry, on SQLite and
on a real PostgreSQL server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from case_dump import dump
from crashes import kill_mid_run_then_finish, kill_rng
from postgres_server import PostgresServer
from reconstream.shells.cases.database import database_url
from reconstream.shells.cases.store import CaseStore
from reconstream.synthetic import generate

RECON = [sys.executable, "-m", "reconstream.shells.cli"]


@pytest.fixture(scope="module")
def month_end(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("month-end")
    generate(directory, invoices=3000, seed=3)
    return directory


@pytest.fixture(scope="module")
def reference(month_end: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    subprocess.run([*RECON, "run", "--input", str(month_end), "--out", str(out), "--quiet"], check=True)
    return out


def test_every_exception_of_the_run_is_one_case(reference: Path) -> None:
    records = [orjson.loads(line) for line in (reference / "exceptions.jsonl").read_bytes().splitlines()]
    latest = {record["exception_id"]: record for record in records}
    projected = dump(f"sqlite:///{reference / 'cases.sqlite'}")
    assert {case["exception_id"]: case["engine_status"] for case in projected["cases"]} == {
        exception_id: record["status"] for exception_id, record in latest.items()
    }
    assert len(projected["actions"]) == len(records)  # one timeline entry per record the engine emitted
    store = CaseStore(f"sqlite:///{reference / 'cases.sqlite'}")
    try:
        assert store.verify() == (len(records), None)
    finally:
        store.close()


def test_sigkill_then_resume_projects_exactly_what_an_uninterrupted_run_does(
    month_end: Path, reference: Path, tmp_path: Path
) -> None:
    expected = dump(f"sqlite:///{reference / 'cases.sqlite'}")
    out, state = tmp_path / "out", tmp_path / "state"
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
    kill_mid_run_then_finish(command, out, kill_rng(), kills=2)
    assert dump(f"sqlite:///{out / 'cases.sqlite'}") == expected


def test_a_killed_run_projects_into_postgresql_exactly_once(
    month_end: Path, reference: Path, tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = postgres_server.create_database()
    monkeypatch.setenv("RECON_TEST_DB_PASSWORD", postgres_server.password)  # the subprocesses inherit it
    config = tmp_path / "recon.toml"
    config.write_text(f'[database]\nurl = "{postgres_server.url(database)}"\npassword_env = "RECON_TEST_DB_PASSWORD"\n')
    out, state = tmp_path / "out", tmp_path / "state"
    command = [
        *RECON,
        "run",
        "--config",
        str(config),
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
    kill_mid_run_then_finish(command, out, kill_rng(), kills=2)
    assert not (out / "cases.sqlite").exists()
    url = database_url(postgres_server.url(database), password_env="RECON_TEST_DB_PASSWORD")
    assert dump(url) == dump(f"sqlite:///{reference / 'cases.sqlite'}")


def test_a_password_written_into_the_url_stops_the_run_without_echoing_it(month_end: Path, tmp_path: Path) -> None:
    config = tmp_path / "recon.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://recon:hunter2-secret@127.0.0.1:1/cases"\n')
    result = subprocess.run(
        [*RECON, "run", "--config", str(config), "--input", str(month_end), "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "password_env" in result.stderr and "hunter2-secret" not in result.stderr + result.stdout
