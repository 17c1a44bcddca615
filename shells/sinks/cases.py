"""The case store as a sink: the engine's exceptions projected into cases at each checkpoint.

The source names this run (a resumed run keeps it through its checkpoint); the store commits the highest
position it applied with the cases, so records a resumed run emits again are skipped, not doubled.
"""

from __future__ import annotations

from typing import Any

from reconstream.models.exceptions import ReconException
from reconstream.streams import Output

from ..cases.store import CaseStore
from .base import Sink


class CaseStoreSink(Sink):
    name = "cases"

    def __init__(self, store: CaseStore, source: str) -> None:
        self.store = store
        self.source = source
        self._pending: list[tuple[int, ReconException]] = []

    def add(self, output: Output, position: int) -> None:
        if output.stream == "exceptions":
            self._pending.append((position, output.record))  # type: ignore[arg-type]

    def flush(self) -> dict[str, Any] | None:
        if self._pending:
            self.store.project(self.source, self._pending)
            self._pending = []
        return None
