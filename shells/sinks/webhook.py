"""Webhooks as a sink: each output a receiver wants is put in the outbox at the checkpoint, under a
deterministic delivery id, so a resumed run enqueues nothing twice. Delivery itself runs apart
(shells/webhooks/delivery.py), beside the run and after it."""

from __future__ import annotations

import hashlib
from typing import Any

from reconstream.models.ids import stable_id
from reconstream.streams import Output

from ..outputs import output_id, record_json
from ..webhooks.delivery import Target
from ..webhooks.outbox import Outbox
from .base import Sink


class WebhookSink(Sink):
    name = "webhooks"

    def __init__(self, outbox: Outbox, targets: list[Target]) -> None:
        self.outbox = outbox
        self.targets = targets
        self._pending: list[tuple[str, str, str, bytes]] = []

    def add(self, output: Output, position: int) -> None:
        owner = getattr(output.record, "owner_queue", None)
        wanting = [t for t in self.targets if t.wants(output.stream, owner.value if owner is not None else None)]
        if not wanting:
            return
        body = record_json(output)
        # A record id names the exception; its body tells which of its states (raised, resolved) this is.
        version = hashlib.sha256(body).hexdigest()[:16]
        for target in wanting:
            delivery_id = stable_id("whd", target.name, output.stream, output_id(output), version)
            self._pending.append((delivery_id, target.name, output.stream, body))

    def flush(self) -> dict[str, Any] | None:
        if self._pending:
            self.outbox.enqueue(self._pending)
            self._pending = []
        return None
