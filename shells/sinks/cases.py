"""The case store as a sink: the engine's exceptions projected into cases at each checkpoint.

The source names this run (a resumed run keeps it through its checkpoint); the store commits the highest
position it applied with the cases, so records a resumed run emits again are skipped, not doubled.
"""

from __future__ import annotations

from typing import Any

from reconstream.models.exceptions import ReconException
from reconstream.models.outputs import OutputStream
from reconstream.streams import Output

from ..cases.store import CaseStore
from ..failures import DiskFull, disk_full
from .base import Sink


class CaseStoreSink(Sink):
    name = "cases"

    def __init__(self, store: CaseStore, source: str) -> None:
        self.store = store
        self.source = source
        self._pending: list[tuple[int, ReconException]] = []

    def add(self, output: Output, position: int) -> None:
        if output.stream == OutputStream.EXCEPTIONS:
            self._pending.append((position, output.record))  # type: ignore[arg-type]

    def flush(self) -> dict[str, Any] | None:
        if self._pending:
            try:
                self.store.project(self.source, self._pending)
            except Exception as exc:
                full = disk_full(exc)  # SQLite says "database or disk is full", and not which database
                if full is None:
                    raise
                raise DiskFull(full.reason, f"the case store {location(self.store)}") from exc
            self._pending = []
        return None


def location(store: CaseStore) -> str:
    """The case store's file (SQLite), or its server and database, without a password."""
    url = store.writer.url
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)
