"""The root of every error the project raises on purpose, and the one shape of a refused field.

Each deliberate error also keeps the builtin base it always had (ValueError, RuntimeError), so that an
`except ValueError` written against it still catches it; `except ReconError` catches all of them.
"""

from __future__ import annotations


class ReconError(Exception):
    """An error the project raises on purpose (never a bug's own exception)."""


class FieldRefused(ReconError, ValueError):
    """An input refused at one field, with the reason: `str()` is "field: reason"."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvariantBroken(ReconError, RuntimeError):
    """Something the code guarantees did not hold: a bug to report, never a bad input."""
