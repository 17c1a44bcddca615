"""Delivery beside a run: a thread drains the outbox while the engine works, and at the end of the run
the rest gets a bounded time; whatever is still pending waits for `recon webhooks deliver`."""

from __future__ import annotations

import threading
import time

from .delivery import Deliverer


class DeliveryThread:
    def __init__(self, deliverer: Deliverer, poll_seconds: float = 0.5) -> None:
        self.deliverer = deliverer
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="recon-webhooks", daemon=True)

    def start(self) -> DeliveryThread:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            done = self.deliverer.run_once()
            if not (done.delivered + done.retried + done.dead):
                self._stop.wait(self.poll_seconds)

    def finish(self, drain_seconds: float) -> None:
        """Stop the background loop, then deliver what is due for at most `drain_seconds`."""
        self._stop.set()
        self._thread.join()
        self.deliverer.drain(deadline=time.time() + drain_seconds)
