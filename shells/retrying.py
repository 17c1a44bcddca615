"""How long to wait before trying again, shared by every shell that calls out (webhooks, ERP posting):
exponential backoff with full jitter from tenacity, and the wait a server asks for in Retry-After."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState, wait_random_exponential


def backoff(attempts: int, max_seconds: float, multiplier: float = 0.5) -> float:
    """Seconds before the next attempt after `attempts` failed ones: exponential with full jitter. Computed
    from a count the caller keeps durably, so a restart does not reset it."""
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]  # the wait strategy reads the count only
    state.attempt_number = attempts
    return float(wait_random_exponential(multiplier=multiplier, max=max_seconds)(state))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
