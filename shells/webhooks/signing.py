"""HMAC-SHA256 signatures over a webhook's timestamp and body, as Stripe and Standard Webhooks sign theirs.

Header `Recon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`. A receiver recomputes
it with the shared secret and refuses a body whose time is too far from its own clock (a replay).
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Recon-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> str | None:
    """None when `header` signs `body` with `secret` within `tolerance` seconds of `now`; else why not."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return "no timestamp"
    if abs(now - timestamp) > tolerance:
        return "timestamp outside the tolerance"
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        return "signature does not match"
    return None
