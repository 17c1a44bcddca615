"""`recon tail`: follow an output topic, one JSON record per line, committed records only."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from typing import IO

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from reconstream.models.outputs import TAIL_NAMES

from . import clients
from .consumed import partition_of
from .topics import Topics


def read_topic(
    bootstrap: str, topic: str, from_beginning: bool = True, idle_exit: float | None = None, to_end: bool = False
) -> Iterator[tuple[bytes | None, bytes | None]]:
    """(key, value) of each committed record (see committed_messages)."""
    for message in committed_messages(bootstrap, topic, from_beginning, idle_exit, to_end):
        yield message.key(), message.value()


def committed_messages(
    bootstrap: str, topic: str, from_beginning: bool = True, idle_exit: float | None = None, to_end: bool = False
) -> Iterator[Message]:
    """Each committed record of every partition, in offset order within a partition. Stops at the end of every
    partition with `to_end`, after `idle_exit` seconds without a record, or never."""
    consumer = Consumer(
        clients.config(
            bootstrap,
            {
                "group.id": f"recon-tail-{uuid.uuid4()}",  # a reader of its own: tailing never moves anyone's offsets
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest" if from_beginning else "latest",
                "isolation.level": "read_committed",
                "enable.partition.eof": to_end,
            },
        )
    )
    consumer.subscribe([topic])
    partitions = len(consumer.list_topics(topic, timeout=10).topics[topic].partitions) if to_end else 0
    at_end: set[int] = set()
    last = time.monotonic()
    try:
        while idle_exit is None or time.monotonic() - last < idle_exit:
            for message in consumer.consume(num_messages=1000, timeout=0.2):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        at_end.add(partition_of(message))
                        continue
                    if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                        continue
                    raise KafkaException(error)
                at_end.discard(message.partition())
                last = time.monotonic()
                yield message
            if to_end and len(at_end) == partitions:
                return
    finally:
        consumer.close()


def tail(
    bootstrap: str,
    topics: Topics,
    what: str,
    from_beginning: bool,
    idle_exit: float | None,
    out: IO[bytes] | None = None,
) -> int:
    out = out or sys.stdout.buffer
    count = 0
    for _, value in read_topic(bootstrap, topics.output(TAIL_NAMES[what]), from_beginning, idle_exit):
        if value is None:
            continue
        out.write(value + b"\n")
        out.flush()
        count += 1
    return count
