"""Producing without ever dropping a record: a full local queue waits for deliveries instead of failing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer


def send(
    producer: Producer,
    topic: str,
    key: bytes,
    value: bytes | None,
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
