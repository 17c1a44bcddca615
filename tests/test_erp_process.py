"""A simulated ERP in a process of its own (what `recon demo` posts to): it serves from another process,
checks the credentials it wrote for its adapter, and is gone once stopped."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest
from reconstream.shells.erp.local import start_process
from reconstream.shells.erp.sim_sap import SERVICE_ROOT
from reconstream.shells.erp.simulator import Faults, Rules


def test_the_erp_serves_from_its_own_process_with_the_credentials_it_wrote_and_stops(tmp_path: Path) -> None:
    erp = start_process("sap", Faults(), Rules(), tmp_path / "sap-credentials.json")
    try:
        assert erp.process.is_alive() and erp.process.pid != os.getpid()
        written = tmp_path / "sap-credentials.json"
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        credentials = json.loads(written.read_text())
        service = f"{erp.url}{SERVICE_ROOT}/"
        assert httpx.get(service, timeout=10).status_code == 401
        answer = httpx.get(service, auth=(credentials["username"], credentials["password"]), timeout=10)
        assert answer.status_code == 200 and "A_SupplierInvoice" in answer.json()["d"]["EntitySets"]
        entry = erp.config_entry("sap", ["1000"], written)
        assert entry["base_url"] == erp.url and entry["credentials_file"] == str(written)
    finally:
        erp.stop()
    assert erp.process.exitcode == 0  # told to stop, it stopped of itself
    with pytest.raises(httpx.ConnectError):
        httpx.get(service, timeout=5)


def test_an_erp_that_cannot_start_says_so(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited before serving"):
        start_process("no-such-erp", Faults(), Rules(), tmp_path / "credentials.json")
