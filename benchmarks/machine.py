"""The machine a benchmark ran on, as every result file under results/ records it under "machine"."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    """Python version, the CPUs this process may run on (its affinity, which a container or taskset narrows;
    the machine's count where the platform has no affinity), and the platform string."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"python": platform.python_version(), "cpus": cpus, "platform": platform.platform()}
