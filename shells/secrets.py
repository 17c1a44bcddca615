"""Secrets named by the config file, read when needed: from an environment variable or a file, never from
the file itself. Errors name the config key and the source, never a value."""

from __future__ import annotations

import os
from pathlib import Path

from reconstream.models.errors import ReconError


class SecretError(ReconError, ValueError):
    """A configured secret cannot be read."""


def read_secret(key: str, env: str | None, file: Path | None) -> str:
    if env:
        value = os.environ.get(env)
        if value is None:
            raise SecretError(f"{key}: ${env} is not set")
        return value
    if file is not None:
        try:
            return file.read_text().strip()
        except OSError as exc:
            raise SecretError(f"{key}: cannot read {file} ({exc.strerror})") from None
    raise SecretError(f"{key}: name the secret in an environment variable or a file")
