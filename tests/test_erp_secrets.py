"""Credentials reach an ERP adapter only from the environment or a file the config names, and no credential
reaches a log, an output, the posting queue or an error message: each ERP kind posts a month's requests through
its simulator (with faults, and once with credentials the ERP refuses) and everything left behind (every log
record at DEBUG, the verdicts, the queue's file) is searched for every secret; one kind does it again as real
`recon post` processes, their stdout and stderr included."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from erp_months import RECON, drain_lane, erp_config, month_without_postings, posting_requests
from reconstream.models.outputs import PostingRequest
from reconstream.shells.config import ConfigError, load_config
from reconstream.shells.erp.local import LocalErp, start_local
from reconstream.shells.erp.queue import PostingQueue
from reconstream.shells.erp.registry import adapter_class
from reconstream.shells.erp.service import Lane, LanePolicy
from reconstream.shells.erp.simulator import Faults
from reconstream.shells.sinks.posting import new_posting

KINDS = ["sap", "oracle", "d365", "netsuite", "infor"]
SECRET_NAMES = ("password", "client_secret", "private_key", "cs", "sask")


@pytest.fixture(scope="module")
def month_requests(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("secrets-month")
    month = month_without_postings(folder / "month", invoices=40, seed=52)
    return posting_requests(month, folder / "plain"), month.company_codes


def _secrets(credentials: dict[str, str]) -> list[str]:
    """Every secret value, and every line of a key: what must never be seen again."""
    found = []
    for name, value in credentials.items():
        if name in SECRET_NAMES:
            found += [line for line in value.splitlines() if len(line) >= 8 and "-----" not in line]
    return found


def _refused(local: LocalErp) -> dict[str, str]:
    """Credentials of the right shape that the simulator refuses."""
    refused = {name: value[::-1] if name in SECRET_NAMES else value for name, value in local.credentials.items()}
    if local.kind == "netsuite":
        other = start_local("netsuite")
        refused["private_key"] = other.credentials["private_key"]  # a key pair the account does not know
        other.stop()
    return refused


def _enqueue(requests: Path, queue_path: Path, erp: str) -> None:
    queue = PostingQueue(queue_path)
    rows = []
    for line in requests.read_bytes().splitlines():
        request = PostingRequest.model_validate_json(line)
        rows.append(new_posting(request, line, {request.company_code: erp}))
    queue.enqueue(rows, time.time())
    queue.close()


def _drain(local: LocalErp, credentials: dict[str, str], requests: Path, queue_path: Path) -> bytes:
    """Post every request in this process; returns the verdicts' events."""
    _enqueue(requests, queue_path, local.kind)
    queue = PostingQueue(queue_path)
    adapter = adapter_class(local.kind)(replace(local.target(timeout_seconds=2.0), credentials=credentials))
    # The breaker's threshold out of reach: refused credentials spend attempts rather than park every posting.
    policy = LanePolicy(max_attempts=2, max_backoff_seconds=0.05, breaker_threshold=1000, rate_per_second=500)
    verdicts = b"\n".join(verdict.event for verdict in drain_lane(queue, Lane(local.kind, adapter, policy), 120))
    queue.close()
    return verdicts


@pytest.mark.parametrize("kind", KINDS)
def test_no_credential_reaches_a_log_a_verdict_or_the_queue(
    tmp_path: Path, kind: str, month_requests: tuple[Path, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    requests, _ = month_requests
    caplog.set_level(logging.DEBUG)
    local = start_local(kind, Faults(throttle_rate=0.1, retry_after_seconds=0.05, server_error_rate=0.1, seed=3))
    try:
        refused = _refused(local)
        left = [_drain(local, local.credentials, requests, tmp_path / "right.sqlite")]
        wrong = _drain(local, refused, requests, tmp_path / "wrong.sqlite")
    finally:
        local.stop()
    assert b'"posted"' in left[0]
    assert wrong.count(b"posting_timed_out") == len(requests.read_bytes().splitlines()) and b"auth" in wrong
    left += [wrong, caplog.text.encode(), *(path.read_bytes() for path in tmp_path.glob("*.sqlite*"))]
    everything = b"\n".join(left)
    for secret in _secrets(local.credentials) + _secrets(refused):
        assert secret.encode() not in everything


def test_recon_post_processes_print_no_credential(tmp_path: Path, month_requests: tuple[Path, list[str]]) -> None:
    requests, company_codes = month_requests
    local = start_local("sap", Faults(server_error_rate=0.2, seed=4))
    try:
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps(_refused(local)))
        left: list[bytes] = []
        for name, credentials in (("right", local.write_credentials(tmp_path / "right.json")), ("wrong", wrong)):
            entry = local.config_entry("sap", company_codes, credentials)
            policy = {"max_attempts": 2, "max_backoff_seconds": 0.05, "breaker_threshold": 1000}
            config = erp_config(tmp_path / f"{name}.toml", entry, **policy)
            queue_path = tmp_path / f"{name}.sqlite"
            _enqueue(requests, queue_path, "sap")
            queue = ["--queue", str(queue_path), "--config", str(config)]
            done = subprocess.run([*RECON, "post", "drain", *queue], capture_output=True, timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
            left += [done.stdout, done.stderr]
    finally:
        local.stop()
    assert b"timed_out" in left[-2]
    everything = b"\n".join(left)
    for secret in _secrets(local.credentials) + _secrets(json.loads(wrong.read_text())):
        assert secret.encode() not in everything


def test_an_erp_without_credentials_named_is_refused_by_the_config(tmp_path: Path) -> None:
    config = tmp_path / "recon.toml"
    config.write_text('[[erp]]\nname = "s4"\nkind = "sap"\nbase_url = "https://s4.example"\ncompany_codes = ["1000"]\n')
    with pytest.raises(ConfigError, match="credentials_env"):
        load_config(config)
    config.write_text(config.read_text() + 'credentials_file = "/run/secrets/s4.json"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match="password"):  # a secret written into the config is no key it has
        load_config(config)
