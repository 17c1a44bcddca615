"""The events people's actions make in the case store (a manual match), sent on to the engine's input topics.

Each goes to the partition of the ledger that raised its case: the worker that holds the bank line. A
case projected before workers named their partition falls back to its company code as the key, which is
how `recon produce` routes the line itself. Sent with an idempotent producer and flushed before the
store records how far it got; a kill in between sends an event again, and the engine, which has seen its
id, applies it once.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from reconstream.models.events import Stream

from ..cases.store import CaseStore
from . import clients
from .sending import send
from .topics import Topics


class CaseEventSender:
    def __init__(self, bootstrap: str, topics: Topics, store: CaseStore) -> None:
        self.topics = topics
        self.store = store
        self.source = f"sent:{topics.prefix}"  # its position in the store: the last timeline seq sent
        self.producer = Producer(
            clients.config(
                bootstrap,
                {
                    "enable.idempotence": True,
                    "max.in.flight.requests.per.connection": 1,  # see producer.py: no implicitly acked losses
                    "partitioner": "murmur2_random",  # as `recon produce` keys by ledger
                },
            )
        )

    def send_pending(self) -> int:
        """Send every event made since the last call; the number sent."""
        done = self.store.position(self.source) or 0
        pending = self.store.events_to_send(done)
        if not pending:
            return 0
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failures.append(error)

        for event in pending:
            topic = self.topics.input(Stream(event.stream))
            where: dict[str, Any] = {} if event.ledger_partition is None else {"partition": event.ledger_partition}
            key = (event.company_code or event.event_id).encode()
            send(self.producer, topic, key, event.body, on_delivery=delivered, **where)
        self.producer.flush()
        if failures:
            raise KafkaException(failures[0])
        self.store.mark(self.source, pending[-1].seq)
        return len(pending)

    def close(self) -> None:
        self.producer.flush()
