"""Who pushed a request: the AP platform named in `Recon-Platform`, proven by its HMAC signature.

The scheme is our outgoing webhooks' (shells/webhooks/signing.py), so one implementation serves both ways:
`Recon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`. Several v1 values may be sent
(a platform signing with an old and a new secret while it rotates them). A reason says what failed, never
what was expected: no secret, no expected digest.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ..webhooks.signing import HEADER as SIGNATURE_HEADER
from ..webhooks.signing import signature

PLATFORM_HEADER = "Recon-Platform"
_MAX_TIMESTAMP_DIGITS = 12  # unix seconds until the year 33658: anything longer is not a time


def parse_signature(header: str) -> tuple[int | None, list[str]]:
    """(timestamp, v1 digests) of a signature header; the timestamp is None when absent or not plain digits."""
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            # int() would also read other scripts' digits, signs and underscores: only ASCII digits are a time.
            plain = value.isascii() and value.isdigit() and len(value) <= _MAX_TIMESTAMP_DIGITS
            timestamp = int(value) if plain else None
        elif key == "v1" and value.isascii():  # compare_digest refuses non-ASCII text: it cannot match anyway
            digests.append(value)
    return timestamp, digests


def refusal(
    secrets: Mapping[str, bytes],
    platform: str | None,
    header: str | None,
    body: bytes,
    now: float,
    tolerance: int,
) -> str | None:
    """None when `header` signs `body` with the named platform's secret within `tolerance` seconds of `now`;
    else why not, in words safe to answer with."""
    if not platform:
        return f"no {PLATFORM_HEADER} header"
    secret = secrets.get(platform)
    if secret is None:
        return f"unknown platform (the {PLATFORM_HEADER} header)"
    if not header:
        return f"no {SIGNATURE_HEADER} header"
    timestamp, digests = parse_signature(header)
    if timestamp is None:
        return f"no timestamp in {SIGNATURE_HEADER} (t=<unix seconds>)"
    if abs(now - timestamp) > tolerance:
        return f"timestamp more than {tolerance} s from the receiver's clock (a replay, or a wrong clock)"
    if not digests:
        return f"no signature in {SIGNATURE_HEADER} (v1=<hex HMAC-SHA256>)"
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    # Every candidate is compared, in constant time each: how many were tried says nothing of the secret.
    matches = [hmac.compare_digest(expected, digest) for digest in digests]
    return None if any(matches) else "signature does not match"
