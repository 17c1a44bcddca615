"""Deterministic ids: the same cause always yields the same id, so reprocessing never doubles an output."""

from __future__ import annotations

from hashlib import blake2b


def stable_id(prefix: str, *parts: str) -> str:
    digest = blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"
