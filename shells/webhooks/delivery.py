"""Delivering the outbox: one signed POST per attempt, retried with exponential backoff and full jitter
(tenacity's `wait_random_exponential`, computed from the attempt count the outbox keeps, so a restart does
not reset it), a receiver's Retry-After honoured, a dead letter after the last attempt or a permanent
refusal. Delivery is at least once; each request names its delivery id, which receivers dedupe by."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from reconstream.shells.retrying import backoff, retry_after_seconds

from . import signing
from .outbox import Delivery, Outbox

# Answers a receiver may give again differently: a later attempt may succeed.
RETRIED_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class Target:
    """A receiver: where, which outputs (streams; for exceptions optionally only some owner queues), the
    shared secret of its signatures, and how long to keep trying."""

    name: str
    url: str
    secret: bytes = field(repr=False)
    streams: frozenset[str]
    owner_queues: frozenset[str] = frozenset()
    max_attempts: int = 8
    timeout_seconds: float = 10.0
    max_backoff_seconds: float = 300.0

    def wants(self, stream: str, owner_queue: str | None) -> bool:
        if stream not in self.streams:
            return False
        return not self.owner_queues or owner_queue is None or owner_queue in self.owner_queues


@dataclass
class Round:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        targets: dict[str, Target],
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.targets = targets
        self.client = client or httpx.Client(headers={"User-Agent": "reconstream-webhooks"})
        self.clock = clock

    def run_once(self, limit: int = 200) -> Round:
        """Attempt every delivery due now (up to `limit`), oldest first."""
        done = Round()
        for delivery in self.outbox.due(self.clock(), limit):
            self._attempt(delivery, done)
        return done

    def drain(self, deadline: float | None = None, sleep: Callable[[float], None] = time.sleep) -> Round:
        """Deliver until nothing is pending, or until `deadline` (what is left waits for the next call)."""
        total = Round()
        while True:
            done = self.run_once()
            total.delivered += done.delivered
            total.retried += done.retried
            total.dead += done.dead
            if done.delivered + done.retried + done.dead:
                continue
            next_at = self.outbox.next_due_at()
            now = self.clock()
            if next_at is None or (deadline is not None and now >= deadline):
                return total
            wake = next_at if deadline is None else min(next_at, deadline)
            sleep(max(0.0, min(wake - now, 5.0)))

    def _attempt(self, delivery: Delivery, done: Round) -> None:
        target = self.targets.get(delivery.target)
        attempts = delivery.attempts + 1
        if target is None:
            self.outbox.dead(delivery.delivery_id, attempts, f"no webhook target {delivery.target!r} is configured")
            done.dead += 1
            return
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "Recon-Delivery-Id": delivery.delivery_id,
            "Recon-Stream": delivery.stream,
            signing.HEADER: signing.signature(target.secret, timestamp, delivery.body),
        }
        retry_after: float | None = None
        try:
            response = self.client.post(
                target.url, content=delivery.body, headers=headers, timeout=target.timeout_seconds
            )
        except httpx.TimeoutException:
            error, permanent = f"no answer within {target.timeout_seconds:g} s", False
        except httpx.TransportError as exc:
            error, permanent = f"could not reach the receiver ({type(exc).__name__})", False
        else:
            if response.is_success:
                self.outbox.delivered(delivery.delivery_id, attempts)
                done.delivered += 1
                return
            error = f"HTTP {response.status_code}"
            permanent = response.status_code not in RETRIED_STATUSES
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), self.clock())
        if permanent or attempts >= target.max_attempts:
            why = "refused" if permanent else f"gave up after {attempts} attempts"
            self.outbox.dead(delivery.delivery_id, attempts, f"{why}: {error}")
            done.dead += 1
            return
        wait = backoff(attempts, target.max_backoff_seconds)
        if retry_after is not None:
            wait = max(wait, min(retry_after, target.max_backoff_seconds))
        self.outbox.retry(delivery.delivery_id, attempts, self.clock() + wait, error)
        done.retried += 1
