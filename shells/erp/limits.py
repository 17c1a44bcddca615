"""What keeps the posting service within an ERP's limits: a token bucket for the request rate (paused as a
whole when the ERP answers 429 with Retry-After) and a circuit breaker that parks postings while the ERP is
down. Concurrency is bounded by the number of workers an ERP gets (shells/erp/service.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import StrEnum


class RateLimit:
    """At most `rate` requests a second on average, `burst` at once; `pause_until` holds every request back
    until the time an ERP's Retry-After named."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp: float | None = None
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def wait_time(self, now: float) -> float:
        """Seconds to wait before a request may go; 0 takes a token for it."""
        with self._lock:
            if now < self._paused_until:
                return self._paused_until - now
            if self._stamp is not None:
                self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate

    def pause_until(self, at: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, at)


class BreakerState(StrEnum):
    CLOSED = "closed"  # postings flow
    OPEN = "open"  # the ERP is down: postings are parked until the cool-off ends
    HALF_OPEN = "half_open"  # one posting probes; its success closes the breaker, its failure opens it again


class CircuitBreaker:
    """Opens after `threshold` failures in a row of the ERP itself (5xx, timeouts, dropped connections,
    refused credentials), never for a refused document or throttling; after `cool_off` seconds one probe goes."""

    def __init__(
        self, threshold: int, cool_off: float, on_change: Callable[[BreakerState], None] | None = None
    ) -> None:
        self.threshold = threshold
        self.cool_off = cool_off
        self.on_change = on_change  # told every change, under the breaker's lock, so none is missed or reordered
        self.state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()
        self.opened = 0  # times it opened: a metric

    def allow(self, now: float) -> bool:
        """Whether a posting may be attempted now (in half-open state, only the one probe)."""
        with self._lock:
            if self.state is BreakerState.CLOSED:
                return True
            if self.state is BreakerState.OPEN and now - self._opened_at >= self.cool_off:
                self._become(BreakerState.HALF_OPEN)
                self._probing = False
            if self.state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def wait_time(self, now: float) -> float:
        with self._lock:
            if self.state is BreakerState.OPEN:
                return max(0.0, self.cool_off - (now - self._opened_at))
            return 0.05 if self.state is BreakerState.HALF_OPEN else 0.0

    def succeeded(self) -> None:
        with self._lock:
            self._become(BreakerState.CLOSED)
            self._failures = 0
            self._probing = False

    def failed(self, now: float) -> None:
        with self._lock:
            self._failures += 1
            if self.state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
                if self.state is not BreakerState.OPEN:
                    self.opened += 1
                self._become(BreakerState.OPEN)
                self._opened_at = now
                self._probing = False

    def _become(self, state: BreakerState) -> None:
        if state is not self.state:
            self.state = state
            if self.on_change is not None:
                self.on_change(state)

    def neutral(self) -> None:
        """An attempt that said nothing about the ERP's health (throttled): a probe slot is given back."""
        with self._lock:
            self._probing = False
