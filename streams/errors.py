"""Errors a handler raises for an event it cannot apply; the engine turns them into dead letters."""

from __future__ import annotations


class OrphanEvent(ValueError):
    """The event refers to a document the engine has never seen (an id that correlates to nothing)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
