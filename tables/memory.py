"""In-memory store: plain dicts, nothing survives the process. The default for demos and tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


class CompactingTable(MemoryTable[V]):
    """A table whose seldom-read values (a paid invoice, a settled instruction) are kept as their encoding.

    At month-end most of the state is closed items, read seldom (a later copy of a paid invoice, a return)
    and changed more seldom still; as objects they cost three to five times their encoding. A closed value
    is encoded when written and decoded when read, which a persistent store does for every value anyway.
    A table of values each read once or twice (purchase orders, goods receipts) holds every value so.
    Priors and rollbacks handle what is held (bytes or object) as it is: nothing is encoded twice.
    """

    def __init__(self, name: str, journal: Journal, codec: Codec[V], held_encoded: Callable[[V], bool]) -> None:
        super().__init__(name, journal)
        self._codec = codec
        self._held_encoded = held_encoded

    def __setitem__(self, key: str, value: V) -> None:
        encode = self._held_encoded(value)
        super().__setitem__(key, self._codec.encode(value) if encode else value)  # type: ignore[arg-type]

    def get(self, key: str, default: V | None = None) -> V | None:  # type: ignore[override]
        value = super().get(key, _ABSENT)
        if value is _ABSENT:
            return default
        return self._codec.decode(value) if type(value) is bytes else value

    def __getitem__(self, key: str) -> V:
        value = super().__getitem__(key)
        return self._codec.decode(value) if type(value) is bytes else value

    def items(self) -> Iterator[tuple[str, V]]:  # type: ignore[override]
        for key, value in super().items():
            yield key, self._codec.decode(value) if type(value) is bytes else value

    def values(self) -> Iterator[V]:  # type: ignore[override]
        return (value for _, value in self.items())


class MemoryStore:
    def __init__(self) -> None:
        self._tables: dict[str, MemoryTable[Any]] = {}
        self._checkpoint: dict[str, Any] | None = None
        self.journal = Journal()

    def table(
        self, name: str, codec: Codec[Any], held_encoded: Callable[[Any], bool] | None = None
    ) -> MemoryTable[Any]:
        if name not in self._tables:
            self._tables[name] = (
                MemoryTable(name, self.journal)
                if held_encoded is None
                else CompactingTable(name, self.journal, codec, held_encoded)
            )
        return self._tables[name]

    def commit(self, extra: dict[str, Any] | None = None) -> None:
        if extra is not None:
            self._checkpoint = extra

    def checkpoint(self) -> dict[str, Any] | None:
        return self._checkpoint

    def close(self) -> None:
        self._tables.clear()
