"""The test broker is a real Kafka: partitions, an idempotent producer and a consumer group behave as in production."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.kafka

PARTITIONS = 4
MESSAGES = 1000


def test_idempotent_produce_and_group_consume_exactly_once(kafka_bootstrap: str) -> None:
    # A fresh topic and group per run, so the test also holds against a long-lived $KAFKA_BOOTSTRAP broker.
    run = uuid.uuid4().hex[:12]
    topic, group = f"test-broker-{run}", f"test-broker-{run}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[topic].result(timeout=30)
    try:
        _produce(kafka_bootstrap, topic)
        seen, partitions = _consume(kafka_bootstrap, topic, group)
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)

    expected = {f"msg-{i}" for i in range(MESSAGES)}
    duplicates = {value: n for value, n in seen.items() if n > 1}
    assert not duplicates, f"delivered more than once: {sorted(duplicates)[:10]}"
    assert set(seen) == expected, f"missing: {sorted(expected - set(seen))[:10]}"
    assert partitions == set(range(PARTITIONS)), "keys should spread over every partition"


def _produce(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    for i in range(MESSAGES):
        producer.produce(topic, key=f"key-{i % 97}", value=f"msg-{i}", on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0, "messages still queued after 30 s"
    assert not errors, f"delivery failed: {errors[:5]}"


def _consume(bootstrap: str, topic: str, group: str) -> tuple[Counter[str], set[int]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )
    consumer.subscribe([topic])
    seen: Counter[str] = Counter()
    partitions: set[int] = set()
    # Keep polling briefly after the last expected message: a duplicate would arrive in that window.
    deadline, settle_until = time.monotonic() + 45, None
    try:
        while time.monotonic() < deadline and (settle_until is None or time.monotonic() < settle_until):
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                if msg.error():
                    raise AssertionError(f"consume error: {msg.error()}")
                value, partition = msg.value(), msg.partition()
                assert value is not None and partition is not None
                seen[value.decode()] += 1
                partitions.add(partition)
            if settle_until is None and sum(seen.values()) >= MESSAGES:
                settle_until = time.monotonic() + 1.0
    finally:
        consumer.close()
    return seen, partitions
