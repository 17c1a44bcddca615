"""What the tests that start real servers share: a free port, waiting for health, and what to do when a
server cannot run here (skip on a developer's machine, fail under CI=true, where a skip would hide it)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import NoReturn

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(base: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """Until `base`/healthz answers 200; fails the test if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            pytest.fail(f"the server at {base} did not start (exit code {process.poll()})")
        time.sleep(0.2)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """A server or tool the test needs is missing: fail under CI, else skip, saying why."""
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
