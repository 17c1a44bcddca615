"""Where a consumed record came from.

The client types a message's topic, partition and offset as optional, since a message being produced has
no partition or offset until it is delivered. A consumed record always has all three, and a delivery
report has its partition and offset: these say so once, and raise if the client ever breaks that.
"""

from __future__ import annotations

from confluent_kafka import Message
from reconstream.models.errors import InvariantBroken


def position(message: Message) -> tuple[str, int, int]:
    """(topic, partition, offset) of a consumed or delivered record."""
    topic, number, offset = message.topic(), message.partition(), message.offset()
    if topic is None or number is None or offset is None:
        raise InvariantBroken(f"a Kafka record without its place: topic {topic}, partition {number}, offset {offset}")
    return topic, number, offset


def partition_of(message: Message) -> int:
    return position(message)[1]


def key_of(message: Message) -> bytes:
    """The key of a record that must have one (a changelog's stored key)."""
    key = message.key()
    if not isinstance(key, bytes):
        raise InvariantBroken(f"a record of {message.topic()} at offset {message.offset()} has no key")
    return key
