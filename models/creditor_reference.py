"""ISO 11649 structured creditor references (RF...): the check that makes a mistyped one fail.

"RF", two check digits and up to 21 letters or digits; moved to the end with letters as numbers
(A=10 ... Z=35) it leaves 1 modulo 97, so a mistyped reference fails the check instead of paying the
wrong invoice.
"""

from __future__ import annotations

import re

_RF_PAYLOAD = re.compile(r"^[0-9A-Z]{1,21}$")


def _as_digits(text: str) -> str:
    return "".join(str(int(ch, 36)) for ch in text)


def _mod97(text: str) -> int:
    return int(_as_digits(text)) % 97


def rf_reference(payload: str) -> str:
    """The ISO 11649 creditor reference for a payload of up to 21 letters and digits, e.g. RF18539007547034."""
    body = "".join(payload.split()).upper()
    if not _RF_PAYLOAD.match(body):
        raise ValueError(f"payload: {payload!r} must be 1-21 letters or digits")
    check = 98 - _mod97(body + "RF00")
    return f"RF{check:02d}{body}"


def is_valid_rf(reference: str) -> bool:
    compact = "".join(reference.split()).upper()
    if len(compact) < 5 or len(compact) > 25 or not compact.startswith("RF") or not compact[2:4].isdigit():
        return False
    if not _RF_PAYLOAD.match(compact[4:]):
        return False
    return _mod97(compact[4:] + compact[:4]) == 1


def compact_rf(reference: str) -> str:
    return "".join(reference.split()).upper()
