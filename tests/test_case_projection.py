"""The run's exceptions projected into the case store through the sink interface: what an uninterrupted
`recon run` projects, a run killed with SIGKILL and resumed projects too, entry for entry, on SQLite and
on a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from case_dump import dump
from crashes import kill_mid_run_then_finish, kill_rng
from postgres_server import PostgresServer
from reconstream.matchers.cases import Refusal
from reconstream.models.cases import ActionKind, Actor, CaseCommand, Role
from reconstream.models.exceptions import Category
from reconstream.shells.cases.database import database_url
from reconstream.shells.cases.store import CaseQuery, CaseStore
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


def killable_run(month_end: Path, out: Path, state: Path, config: Path | None = None) -> list[str]:
    """`recon run` with persistent state and a checkpoint every 300 records: a kill has many to land between."""
    options = ["--config", str(config)] if config is not None else []
    return [*RECON, "run", *options, "--input", str(month_end), "--out", str(out), "--state-dir", str(state),
            "--checkpoint-every", "300", "--quiet"]  # fmt: skip


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
    out = tmp_path / "out"
    kill_mid_run_then_finish(killable_run(month_end, out, tmp_path / "state"), out, kill_rng(), kills=2)
    assert dump(f"sqlite:///{out / 'cases.sqlite'}") == expected


def test_a_killed_run_projects_into_postgresql_exactly_once(
    month_end: Path, reference: Path, tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = postgres_server.create_database()
    monkeypatch.setenv("RECON_TEST_DB_PASSWORD", postgres_server.password)  # the subprocesses inherit it
    config = tmp_path / "recon.toml"
    config.write_text(f'[database]\nurl = "{postgres_server.url(database)}"\npassword_env = "RECON_TEST_DB_PASSWORD"\n')
    out = tmp_path / "out"
    kill_mid_run_then_finish(killable_run(month_end, out, tmp_path / "state", config), out, kill_rng(), kills=2)
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


def people_worked(month_end: Path, reference: Path, into: Path) -> int:
    """The reference run's case store after treasury matched every unmatched bank line by hand to an invoice
    of its currency (some still open, some paid already: those the engine refuses) and AP commented."""
    by_currency: dict[str, list[str]] = {}
    for line in (month_end / "invoices.jsonl").read_bytes().splitlines():
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):  # the month's planted bad lines
            payload = orjson.loads(line)["payload"]
            by_currency.setdefault(payload["currency"], []).append(payload["invoice_id"])
    shutil.copy(reference / "cases.sqlite", into)
    store = CaseStore(f"sqlite:///{into}")
    treasury, clerk = Actor(name="tina", role=Role.TREASURY_ANALYST), Actor(name="ana", role=Role.AP_CLERK)
    at = datetime(2026, 11, 26, 9, tzinfo=UTC)
    matched = 0
    try:
        for case in store.find(CaseQuery(status="open", limit=10_000)).cases:
            if case.category is Category.UNMATCHED_SETTLEMENT and case.currency in by_currency:
                invoices = by_currency[case.currency]
                chosen = (invoices[(matched * 97) % len(invoices)],)
                command = CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=chosen)
                matched += not isinstance(store.act(case.exception_id, command, treasury, at), Refusal)
            elif case.owner_queue.value == "ap" and matched % 3 == 0:
                store.act(case.exception_id, CaseCommand(kind=ActionKind.COMMENTED, note="looking"), clerk, at)
    finally:
        store.close()
    return matched


def test_a_killed_run_with_people_s_work_in_its_store_resumes_exactly(
    month_end: Path, reference: Path, tmp_path: Path
) -> None:
    assert people_worked(month_end, reference, tmp_path / "people.sqlite") >= 5
    outputs = {}
    for name, kills in (("whole", 0), ("killed", 2)):
        store_file = tmp_path / f"{name}.sqlite"
        shutil.copy(tmp_path / "people.sqlite", store_file)
        config = tmp_path / f"{name}.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{store_file}"\n')
        out = tmp_path / name
        command = killable_run(month_end, out, tmp_path / f"{name}-state", config)
        if kills:
            kill_mid_run_then_finish(command, out, kill_rng(), kills=kills)
        else:
            subprocess.run(command, check=True)
        outputs[name] = {f.name: f.read_bytes() for f in sorted(out.glob("*.jsonl"))}
        outputs[name]["cases"] = dump(f"sqlite:///{store_file}")  # type: ignore[assignment]
    assert outputs["killed"] == outputs["whole"]
    audit = [orjson.loads(line) for line in outputs["whole"]["audit.jsonl"].splitlines()]
    assert sum(record.get("outcome") == "case_action" for record in audit) > 5
    manual = [record for record in audit if record.get("event_type") == "settlement.matched_manually"]
    assert {record["outcome"] for record in manual} == {"applied", "dead_letter"}  # both paths taken
    verified = subprocess.run([*RECON, "audit", "verify", str(tmp_path / "killed")], capture_output=True, check=False)
    assert verified.returncode == 0, verified.stdout
