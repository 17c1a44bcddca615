"""Killing a real `recon run` with SIGKILL at random points, as a power cut or the OOM killer would."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path


def kill_rng() -> random.Random:
    return random.Random(int(os.environ.get("RECON_KILL_SEED", "20261125")))


def kill_mid_run_then_finish(command: list[str], out: Path, rng: random.Random, kills: int) -> None:
    """Start the run `kills` times, each killed once it has written some output, then let it finish."""
    done = 0
    for _ in range(kills):
        process = subprocess.Popen(command)
        audit = out / "audit.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not audit.exists() or audit.stat().st_size < 20_000):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.8))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            done += 1
        process.wait()
    assert done > 0, "the run finished before it could be killed: use a bigger scenario"
    subprocess.run(command, check=True)
