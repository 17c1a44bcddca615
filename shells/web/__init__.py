"""The engine's web service: /metrics, a JSON API and server-rendered treasury and owner-queue pages."""

from .app import create_app
from .source import RunFolder

__all__ = ["RunFolder", "create_app"]
