"""The model a table is tested against: what a dict would hold."""

from __future__ import annotations

from typing import TypeVar

V = TypeVar("V")


def visible(committed: dict[str, V], pending: dict[str, V | None]) -> dict[str, V]:
    """What a dict would hold: the pending writes over the committed ones, a pending None a delete."""
    return {key: value for key, value in {**committed, **pending}.items() if value is not None}
