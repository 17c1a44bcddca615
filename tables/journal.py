"""All-or-nothing per event: the prior value of every key an event writes, to put back if applying it fails.

A unit begins before an event is applied and ends after it. A table notes a key's prior value the first
time the unit writes that key (later writes of the same key need nothing more); a rollback puts the
priors back in reverse order, so the state is as if the event never came. Values are never changed in
place (records are frozen, buckets replaced), which is what makes a noted prior value still the prior.
"""

from __future__ import annotations

from typing import Any, Protocol


class Journaled(Protocol):
    def prior(self, key: str) -> Any: ...
    def put_back(self, key: str, prior: Any) -> None: ...


class Journal:
    def __init__(self) -> None:
        self.active = False
        self._noted: dict[tuple[int, str], tuple[Journaled, str, Any]] = {}

    def begin(self) -> None:
        self._noted.clear()
        self.active = True

    def note(self, table: Journaled, key: str) -> None:
        slot = (id(table), key)
        if slot not in self._noted:
            self._noted[slot] = (table, key, table.prior(key))

    def end(self) -> None:
        self.active = False
        self._noted.clear()

    def rollback(self) -> None:
        for table, key, prior in reversed(self._noted.values()):
            table.put_back(key, prior)
        self.end()
