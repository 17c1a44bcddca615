"""In-memory store: plain dicts, nothing survives the process. The default for demos and tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from .journal import Journal
from .store import Codec

V = TypeVar("V")

_ABSENT = object()


class MemoryTable(dict[str, V], Generic[V]):
    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__()
        self.name = name
        self.journal = journal

    def items(self) -> Iterator[tuple[str, V]]:  # type: ignore[override]
        # Sorted, like the persistent store, so iteration order never depends on the backend.
        return iter(sorted(super().items()))

    def __setitem__(self, key: str, value: V) -> None:
        if self.journal.active:
            self.journal.note(self, key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        if self.journal.active:
            self.journal.note(self, key)
        super().__delitem__(key)

    def prior(self, key: str) -> Any:
        return super().get(key, _ABSENT)

    def put_back(self, key: str, prior: Any) -> None:
        if prior is _ABSENT:
            super().pop(key, None)
        else:
            super().__setitem__(key, prior)


class MemoryStore:
    def __init__(self) -> None:
        self._tables: dict[str, MemoryTable[Any]] = {}
        self._checkpoint: dict[str, Any] | None = None
        self.journal = Journal()

    def table(self, name: str, codec: Codec[Any]) -> MemoryTable[Any]:
        return self._tables.setdefault(name, MemoryTable(name, self.journal))

    def commit(self, extra: dict[str, Any] | None = None) -> None:
        if extra is not None:
            self._checkpoint = extra

    def checkpoint(self) -> dict[str, Any] | None:
        return self._checkpoint

    def close(self) -> None:
        self._tables.clear()
