"""Where outputs leave: one Sink interface (add as the engine emits, flush at a checkpoint).

The case store's sink lives in `sinks.cases`, imported where a run uses it (it brings SQLAlchemy)."""

from .base import Sink
from .files import FileSink

__all__ = ["FileSink", "Sink"]
