"""Producing without ever dropping a record: a full local queue waits for deliveries instead of failing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer


@dataclass
class Deliveries:
    """What the broker said of each record sent with `on_delivery=deliveries.record`: a producer that must
    know every record landed compares `acknowledged` with what it sent, after its flush."""

    failures: list[KafkaError] = field(default_factory=list)
    acknowledged: int = 0

    def record(self, error: KafkaError | None, _: Message) -> None:
        if error is not None:
            self.failures.append(error)
        else:
            self.acknowledged += 1


def send(
    producer: Producer,
    topic: str,
    key: bytes,
    value: bytes | None,
    *,
    on_full: Callable[[], None] | None = None,
    **options: Any,
) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value, **options)
            return
        except BufferError:
            if on_full is not None:
                on_full()  # e.g. count it as a retry
            producer.poll(0.05)
