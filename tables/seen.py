"""Ids already applied (event ids, bank entry ids), remembered for a window of event time, not forever.

Two generations of one table: ids go into the current one. When event time has moved a window past the
start of the current generation, the previous one is forgotten and the current one becomes the previous.
An id is so remembered for at least one window after it was applied and at most two, a lookup reads two
tables, and forgetting drops a generation's table whole once a window (a persistent store deletes its rows,
an in-memory one lets it go). Without a window nothing is forgotten.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from .store import Store, Table

# Remembered without a digest (state written before digests, bank entry ids): any content counts as the same.
SAME_AS_ANY = 1


class SeenIds:
    def __init__(self, store: Store, name: str, meta: Table[Any], window_us: int | None) -> None:
        self._store, self._name, self._meta, self.window_us = store, name, meta, window_us
        self.reload()

    def reload(self) -> None:
        """Which generations are current, as the meta table says (at start, and after a rollback)."""
        # The last id looked up and what was found: a runner asks whether an event was seen before the
        # engine asks for its digest, and with RocksDB state each is a read of a key that is not there.
        self._last: tuple[str, Any] | None = None
        # Generation 0 keeps the table's original name, so state written before windows existed reads on.
        generation, since_us = self._meta.get(self._meta_key) or (0, None)
        self._generation = int(generation)
        self._since_us: int | None = since_us
        self._current = self._table(self._generation)
        self._previous = self._table(self._generation - 1) if self._generation else None

    @property
    def _meta_key(self) -> str:
        return f"{self._name}.generation"

    def _table(self, generation: int) -> Table[Any]:
        return self._store.id_table(self._name if generation == 0 else f"{self._name}.{generation}")

    def __contains__(self, key: str) -> bool:
        return self.digest_of(key) is not None

    def add(self, key: str, at_us: int, digest: int = SAME_AS_ANY) -> None:
        """Remember an id applied when event time stood at `at_us`, with a digest of what it said."""
        self._last = None
        if self._since_us is None:
            self._since_us = at_us
            self._meta[self._meta_key] = [self._generation, at_us]
        self._current[key] = digest

    def digest_of(self, key: str) -> Any:
        """The digest remembered with an id (SAME_AS_ANY when none was), or None when it is not remembered."""
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        found = self._current.get(key)
        if found is None and self._previous is not None:
            found = self._previous.get(key)
        self._last = (key, found)
        return found

    def advance(self, watermark_us: int) -> None:
        """Event time has reached `watermark_us`: start a new generation once the current one is a window old."""
        if self.window_us is None or self._since_us is None or watermark_us < self._since_us + self.window_us:
            return
        self._last = None
        if self._previous is not None:
            self._store.drop(self._previous.name)
        if watermark_us >= self._since_us + 2 * self.window_us:
            self._store.drop(self._current.name)  # event time jumped: every id in it is older than a window too
        self._generation += 1
        # Looked up again by name: a table dropped whole comes back empty.
        self._previous, self._current = self._table(self._generation - 1), self._table(self._generation)
        self._since_us = watermark_us
        self._meta[self._meta_key] = [self._generation, watermark_us]

    def __len__(self) -> int:
        """Ids remembered now (for tests and reports, not the hot path)."""
        tables = [self._current] if self._previous is None else [self._current, self._previous]
        return sum(count(table) for table in tables)


def count(table: Table[Any]) -> int:
    """Rows of a table: an in-memory one holding digests counts them; a persistent one lists its ids."""
    return len(table) if isinstance(table, Sized) else sum(1 for _ in table.items())
