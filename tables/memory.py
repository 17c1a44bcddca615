"""In-memory store: plain dicts, nothing survives the process. The default for demos and tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from .store import Codec

V = TypeVar("V")


class MemoryTable(dict[str, V], Generic[V]):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def items(self) -> Iterator[tuple[str, V]]:  # type: ignore[override]
        # Sorted, like the persistent store, so iteration order never depends on the backend.
        return iter(sorted(super().items()))


class MemoryStore:
    def __init__(self) -> None:
        self._tables: dict[str, MemoryTable[Any]] = {}
        self._checkpoint: dict[str, Any] | None = None

    def table(self, name: str, codec: Codec[Any]) -> MemoryTable[Any]:
        return self._tables.setdefault(name, MemoryTable(name))

    def commit(self, extra: dict[str, Any] | None = None) -> None:
        if extra is not None:
            self._checkpoint = extra

    def checkpoint(self) -> dict[str, Any] | None:
        return self._checkpoint

    def close(self) -> None:
        self._tables.clear()
