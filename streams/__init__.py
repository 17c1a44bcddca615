"""One handler per stream, written against tables/ and matchers/, independent of transport."""

from .context import Output, Settings
from .engine import Engine

__all__ = ["Engine", "Output", "Settings"]
