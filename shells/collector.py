"""Python's cyclic garbage collector, set for a stream engine's heap.

The engine's state is millions of long-lived objects (invoice states, index buckets, timers) that
reference nothing cyclic: when one is replaced, reference counting frees it. The collector's default
thresholds (700 allocations) still make it walk that whole heap again and again, and a profile of a
20,000-invoice month put a third of all time in it (issue #12). So the shells raise the first threshold,
and at each checkpoint move what survived into the permanent generation (`gc.freeze`), which the
collector no longer scans. Garbage that is not cyclic is still freed at once; cyclic garbage among frozen
objects would wait for the process to end, and the state holds none.

Only a process's entry point tunes it (`recon ...`, a benchmark's child): a library caller such as a
test process keeps Python's settings, and `settle` does nothing there. `RECON_GC=default` keeps Python's
own settings in a `recon` process too (what a comparison run measures against).
"""

from __future__ import annotations

import gc
import os

THRESHOLDS = (100_000, 50, 1_000)


_active = False


def tune() -> None:
    """Once, at a process's entry point."""
    global _active
    if os.environ.get("RECON_GC", "tuned") != "default":
        gc.set_threshold(*THRESHOLDS)
        _active = True


def settle() -> None:
    """At each checkpoint or commit: what lives now is state, and need not be scanned again."""
    if _active:
        gc.freeze()
