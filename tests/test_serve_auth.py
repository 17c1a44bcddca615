"""`recon serve` with and without authentication, as real processes: it refuses to listen beyond loopback
without [auth]; with API keys made by `recon keys add` it serves only to their holders, and the key never
appears in what the process prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from servers import free_port, wait_until_healthy

RECON = [sys.executable, "-m", "reconstream.shells.cli"]


def test_serving_beyond_loopback_without_auth_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    result = subprocess.run(
        [*RECON, "serve", "--out", str(tmp_path / "out"), "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0" in result.stderr and "[auth]" in result.stderr


def test_keys_made_by_recon_keys_add_open_the_service_to_their_holders_only(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    made = subprocess.run(
        [*RECON, "keys", "add", "--file", str(keys), "--name", "ana.ap", "--role", "ap_clerk"],
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip()
    assert len(key) >= 40 and key not in keys.read_text() and keys.stat().st_mode & 0o077 == 0
    config = tmp_path / "recon.toml"
    config.write_text(f'[auth]\napi_keys_file = "{keys}"\n')
    (tmp_path / "out").mkdir()
    port = free_port()
    server = subprocess.Popen(
        [*RECON, "serve", "--config", str(config), "--out", str(tmp_path / "out"), "--host", "0.0.0.0",
         "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, server)
        assert httpx.get(f"{base}/api/exceptions").status_code == 401
        assert httpx.get(f"{base}/api/exceptions", headers={"Authorization": "Bearer wrong"}).status_code == 401
        mine = httpx.get(f"{base}/api/exceptions", headers={"Authorization": f"Bearer {key}"})
        assert mine.status_code == 200
        treasury = httpx.get(f"{base}/api/cash-positions", headers={"Authorization": f"Bearer {key}"})
        assert treasury.status_code == 403
        page = httpx.get(f"{base}/cases", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200 and "/docs-static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
        assert httpx.get(f"{base}/docs-static/swagger-ui-bundle.js").status_code == 200
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert key not in out + err
