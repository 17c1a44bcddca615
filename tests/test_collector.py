"""The garbage collector is tuned only in a `recon` process (or one that asks), and RECON_GC=default keeps
Python's settings: checked in fresh interpreters, so this test process keeps its own."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import gc
from reconstream.shells import collector
before = gc.get_threshold()
collector.settle()  # not tuned yet: nothing frozen
frozen_untuned = gc.get_freeze_count()
collector.tune()
kept = [object() for _ in range(1000)]
collector.settle()
print(before == gc.get_threshold(), frozen_untuned, gc.get_freeze_count() > 0, gc.get_threshold())
"""


def probe(**env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env={**os.environ, **env}
    )
    return done.stdout.strip()


def test_tuned_thresholds_and_what_survives_a_checkpoint_is_frozen() -> None:
    assert probe() == "False 0 True (100000, 50, 1000)"


def test_recon_gc_default_keeps_pythons_settings() -> None:
    same, frozen_untuned, frozen, _ = probe(RECON_GC="default").split(" ", 3)
    assert (same, frozen_untuned, frozen) == ("True", "0", "False")
