"""The audit log against a forger (#15, item 9): a keyed chain, anchors outside the log, `recon audit verify`.

Each forgery below verified "intact" before the chain was keyed and anchored: a record changed with its
chain recomputed, a log cut at a record boundary, an anchor written by someone without the key.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from crashes import kill_mid_run_then_finish, kill_rng
from reconstream.shells.audit import GENESIS, AnchorFile, AuditKey, chain_hash
from reconstream.synthetic import generate

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
KEY = "9f2c" * 16  # 64 characters, as `openssl rand -hex 32` writes one
OTHER_KEY = "77ab" * 16
BROKEN, NOT_VERIFIED = 1, 3


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audit-month")
    generate(folder, invoices=600, seed=15)
    return folder


def keyed_config(folder: Path, key: str = KEY) -> Path:
    (folder / "audit.key").write_text(key + "\n")
    config = folder / "recon.toml"
    config.write_text(f'[audit]\nkey_file = "{folder / "audit.key"}"\n')
    return config


def recon(*args: str | Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    options = ["--config", str(config)] if config is not None else []
    command = [*RECON, *map(str, args), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "RECON_CONFIG": ""})


def run_keyed(month: Path, tmp_path: Path) -> tuple[Path, Path]:
    config = keyed_config(tmp_path)
    out = tmp_path / "out"
    ran = recon("run", "--input", month, "--out", out, "--state-dir", tmp_path / "state", "--checkpoint-every", "500",
                "--quiet", config=config)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return out, config


def records(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (out / "audit.jsonl").read_bytes().splitlines()]


def write(out: Path, rows: list[dict[str, Any]]) -> None:
    (out / "audit.jsonl").write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in rows))


def rechain(rows: list[dict[str, Any]], key: AuditKey | None) -> list[dict[str, Any]]:
    """What a forger does after changing a record: every link and hash recomputed from the first on."""
    head = GENESIS
    for row in rows:
        row["prev"] = head
        row["hash"] = head = chain_hash(head, row, key)
    return rows


def test_a_keyed_log_verifies_with_its_key_and_only_with_it(month: Path, tmp_path: Path) -> None:
    out, config = run_keyed(month, tmp_path)
    rows = records(out)
    assert {row["key_id"] for row in rows} == {AuditKey.from_text(KEY).key_id}
    verified = recon("audit", "verify", out, config=config)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"intact: {len(rows):,} records, keyed" in verified.stdout
    assert "0 anchors" not in verified.stdout  # every checkpoint's head was checked against the log
    unkeyed = recon("audit", "verify", out)
    assert unkeyed.returncode == NOT_VERIFIED and "NOT VERIFIED" in unkeyed.stdout
    (tmp_path / "other").mkdir()
    other = recon("audit", "verify", out, config=keyed_config(tmp_path / "other", OTHER_KEY))
    assert other.returncode == BROKEN and "is keyed with key" in other.stdout


@pytest.mark.parametrize("forger_key", [None, OTHER_KEY], ids=["sha256", "another-key"])
def test_a_changed_record_with_its_chain_recomputed_is_caught(
    month: Path, tmp_path: Path, forger_key: str | None
) -> None:
    out, config = run_keyed(month, tmp_path)
    rows = records(out)
    forged = next(i for i, row in enumerate(rows) if row.get("outcome") == "dead_letter")
    rows[forged]["outcome"] = "applied"  # a refused event passed off as applied
    key = AuditKey.from_text(forger_key) if forger_key else None
    if key is not None:
        for row in rows:
            row["key_id"] = AuditKey.from_text(KEY).key_id  # the forger copies the id; the key they lack
    write(out, rechain(rows, key))
    verdict = recon("audit", "verify", out, config=config)
    assert verdict.returncode == BROKEN, verdict.stdout
    assert "hash does not match" in verdict.stdout


def test_an_unkeyed_log_rewritten_after_its_first_checkpoint_is_caught_by_its_anchors(
    month: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    ran = recon("run", "--input", month, "--out", out, "--state-dir", tmp_path / "state", "--checkpoint-every", "500",
                "--quiet")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert recon("audit", "verify", out).returncode == 0
    rows = records(out)
    rows[-300]["outcome"] = "duplicate"
    write(out, rechain(rows, None))
    verdict = recon("audit", "verify", out)
    assert verdict.returncode == BROKEN and "rewritten" in verdict.stdout


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "unkeyed"])
def test_a_log_cut_off_at_a_record_boundary_is_caught(month: Path, tmp_path: Path, keyed: bool) -> None:
    if keyed:
        out, config = run_keyed(month, tmp_path)
    else:
        out, config = tmp_path / "out", None
        assert recon("run", "--input", month, "--out", out, "--quiet").returncode == 0
    rows = records(out)
    write(out, rows[:-25])  # the last 25 decisions gone, the chain of the rest untouched
    verdict = recon("audit", "verify", out, config=config)
    assert verdict.returncode == BROKEN, verdict.stdout
    assert f"the log ends at record {len(rows) - 25:,}, but it was anchored at {len(rows):,}: cut off" in verdict.stdout


def test_an_anchor_written_without_the_key_is_refused(month: Path, tmp_path: Path) -> None:
    out, config = run_keyed(month, tmp_path)
    anchors = out.parent / "out.audit-anchors.jsonl"
    rows = records(out)[:-25]
    write(out, rows)
    lines = anchors.read_bytes().splitlines()
    forged = orjson.loads(lines[-1])  # the forger moves the last anchor back to where the log now ends
    forged.update(seq=len(rows), head=rows[-1]["hash"], mac=hashlib.sha256(b"guess").hexdigest())
    anchors.write_bytes(b"\n".join([*lines[:-1], orjson.dumps(forged)]) + b"\n")
    verdict = recon("audit", "verify", out, config=config)
    assert verdict.returncode == BROKEN and "forged" in verdict.stdout


def test_a_resume_under_another_key_is_refused(month: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("run", "--input", month, "--out", out, "--state-dir", tmp_path / "state", "--quiet")
    assert recon(*args, config=keyed_config(tmp_path)).returncode == 0
    (tmp_path / "other").mkdir()
    refused = recon(*args, config=keyed_config(tmp_path / "other", OTHER_KEY))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "started with key" in refused.stderr and "fresh --out" in refused.stderr
    assert recon(*args).returncode == 2  # nor with no key at all


def test_killed_and_resumed_keyed_runs_verify_with_every_anchor(month: Path, tmp_path: Path) -> None:
    config = keyed_config(tmp_path)
    out = tmp_path / "out"
    command = [*RECON, "run", "--input", str(month), "--out", str(out), "--state-dir", str(tmp_path / "state"),
               "--checkpoint-every", "200", "--quiet", "--config", str(config)]  # fmt: skip
    kill_mid_run_then_finish(command, out, kill_rng(), kills=3)
    verdict = recon("audit", "verify", out, config=config)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    anchored = int(verdict.stdout.rsplit(", ", 1)[1].split()[0].replace(",", ""))
    assert anchored >= 3


def test_an_anchor_cut_off_by_a_kill_is_dropped_before_the_next_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    path.write_bytes(b'{"head":"' + b"a" * 64 + b'","run_id":"r","seq":1}\n{"head":"bb')
    anchors = AnchorFile(path)
    anchors.append({"run_id": "r", "seq": 2, "head": "c" * 64})
    anchors.close()
    assert [orjson.loads(line)["seq"] for line in path.read_bytes().splitlines()] == [1, 2]


def test_a_short_key_is_refused_by_name(tmp_path: Path) -> None:
    config = keyed_config(tmp_path, "too-short")
    ran = recon("run", "--input", tmp_path, "--out", tmp_path / "out", "--quiet", config=config)
    assert ran.returncode == 2 and "audit.key" in ran.stderr and "too-short" not in ran.stderr
