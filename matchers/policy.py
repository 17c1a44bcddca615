"""The version of the decision policy in force, recorded on every match and exception.

Thresholds, tolerances, windows and bank-code rules come from the config file and change over a
deployment's life; a clerk reading a match months later must know which policy made it. The version is
a digest of the policies' values, so the same settings give the same version on every worker and
restart, and any change gives a new one, with nothing for an operator to remember to bump.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, is_dataclass
from typing import Any


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__, **{k: _plain(v) for k, v in asdict(value).items()}}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)  # Decimal, timedelta, enums: their exact text, never a float


def policy_version(*policies: object) -> str:
    """`policy-` and 12 hex digits of the SHA-256 of the policies' values, in the order given."""
    text = json.dumps([_plain(policy) for policy in policies], sort_keys=True, separators=(",", ":"))
    return "policy-" + hashlib.sha256(text.encode()).hexdigest()[:12]
