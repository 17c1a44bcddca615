"""All-or-nothing per event: the prior value of every key an event writes, to put back if applying it fails.

A unit begins before an event is applied and ends after it. A table notes a key's prior value the first
time the unit writes that key (later writes of the same key need nothing more); a rollback puts the
priors back in reverse order, so the state is as if the event never came. Records are never changed in
place (they are frozen), which is what makes a noted prior value still the prior. The one value changed
in place, a large index bucket (tables/index.py), notes how to undo each change instead: putting priors
back restores which value a key holds, undoing restores what that value holds, so the two are independent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Journaled(Protocol):
    def prior(self, key: str) -> Any: ...
    def put_back(self, key: str, prior: Any) -> None: ...


class Journal:
    def __init__(self) -> None:
        self.active = False
        self._noted: dict[tuple[int, str], tuple[Journaled, str, Any]] = {}
        self._undo: list[Callable[[], object]] = []

    def begin(self) -> None:
        self._noted.clear()
        self._undo.clear()
        self.active = True

    def note(self, table: Journaled, key: str) -> None:
        slot = (id(table), key)
        if slot not in self._noted:
            self._noted[slot] = (table, key, table.prior(key))

    def undo(self, action: Callable[[], object]) -> None:
        """How to take back a change made in place; run in reverse order by a rollback."""
        self._undo.append(action)

    def end(self) -> None:
        self.active = False
        self._noted.clear()
        self._undo.clear()

    def rollback(self) -> None:
        for table, key, prior in reversed(self._noted.values()):
            table.put_back(key, prior)
        for action in reversed(self._undo):
            action()
        self.end()
