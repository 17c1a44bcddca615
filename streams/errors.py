"""Errors a handler raises for an event it cannot apply; the engine turns them into dead letters."""

from __future__ import annotations

from reconstream.models.errors import FieldRefused


class OrphanEvent(FieldRefused):
    """The event refers to a document the engine has never seen (an id that correlates to nothing)."""
