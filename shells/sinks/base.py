"""The one interface every output leaves through, after quix-streams' sinks: `add` as the engine emits,
`flush` at a checkpoint. A shell commits its input positions and state only after every sink flushed,
so a crash between the two makes a sink see records again, never miss one: each sink is idempotent by
the position it is given (and the ids in the records), which is what makes the pair exactly-once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from reconstream.models.errors import ReconError
from reconstream.streams import Output


class ResumeRefused(ReconError):
    """A sink cannot resume from the checkpoint handed back to it: what it holds is not what that checkpoint
    recorded. Raised before the sink changes anything, so what it holds stays as it was found."""


class Sink(ABC):
    name: str

    @abstractmethod
    def add(self, output: Output, position: int) -> None:
        """Take one output record. `position` orders the records of this run or partition (the audit seq of
        the event that emitted it, or its input offset): equal for one event's outputs, growing after."""

    def add_audit(self, entry: dict[str, Any], position: int) -> None:  # noqa: B027 - most sinks deliver outputs only
        """Take the audit record of one event (what came in, what became of it, what it emitted)."""

    @abstractmethod
    def flush(self) -> dict[str, Any] | None:
        """Make everything added durable or delivered. What it returns is kept in the checkpoint and handed
        back to the sink when a run resumes from it."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release files and connections (without flushing: an unflushed batch is produced again on resume)."""
