"""`recon produce`: a folder of input streams onto the input topics, keyed by ledger, with watermark ticks.

The folder is read in the embedded shell's event-time order (`inputs.merged`: the `<stream>.jsonl` files
and the bank and AP files of `bank/`), so each partition of each topic holds its events in that order. A
bank file's event goes out as its canonical JSONL line on the topic of its stream, routed like any other;
a record that did not convert goes out as its `ingest_error` record, which the worker dead-letters with
the converter's field and reason.

Every `tick_every` of event time (and once at the end) a tick carrying the latest event time goes to every
partition of the clock topic: a partition whose company codes fall quiet still sees its missing-ack and
missing-settlement deadlines pass.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import orjson
from confluent_kafka import KafkaException, Producer
from reconstream.models.accounts import account_of
from reconstream.models.base import from_micros, iso, to_micros
from reconstream.models.events import Stream

from ..formats.canonical import IngestOptions
from ..inputs import file_name, merged
from . import clients
from .routing import BROADCAST, LedgerRouter
from .sending import Deliveries
from .sending import send as send_reliably
from .topics import DEFAULT_PARTITIONS, Topics, ensure_topics

Progress = Callable[[int], None]  # input lines produced so far

# Every producer of input records (`recon produce`, the AP intake's Kafka writer) uses these, so a worker
# cannot tell which of them sent a record: same partition for the same key, same delivery guarantees.
INPUT_PRODUCER: Final[Mapping[str, Any]] = {
    "enable.idempotence": True,  # a retried send is written once, in order
    # One request at a time: with several in flight, a batch refused by a partition's new leader is
    # counted as delivered when the next batch of that partition is accepted ("implicitly acked"),
    # and lost, for a producer the partition holds no state of yet (see topics._await_leaders).
    # Costs little: parsing and routing bound these producers, not the broker round trip.
    "max.in.flight.requests.per.connection": 1,
    "linger.ms": 20,
    "compression.type": "lz4",
    "partitioner": "murmur2_random",  # the Java clients' default: any producer keying by ledger agrees
}


@dataclass
class ProduceSummary:
    lines: int = 0
    messages: int = 0
    ticks: int = 0
    partitions: int = 0


def house_accounts(input_dir: Path) -> dict[str, str]:
    """Debtor account -> company code from the payment runs: the house-bank map a statement import uses."""
    path = input_dir / file_name(Stream.PAYMENT_BATCHES)
    accounts: dict[str, str] = {}
    if not path.exists():
        return accounts
    with path.open("rb") as handle:
        for raw in handle:
            with contextlib.suppress(orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
                payload = orjson.loads(raw)["payload"]
                account = account_of(payload.get("debtor_account") or payload["debtor_iban"])
                accounts.setdefault(account.key, str(payload["company_code"]))
    return accounts


def produce(
    input_dir: Path,
    bootstrap: str,
    topics: Topics,
    partitions: int = DEFAULT_PARTITIONS,
    tick_every: timedelta = timedelta(hours=1),
    progress: Progress | None = None,
    rate: float | None = None,
    house: dict[str, str] | None = None,
    ingest_options: IngestOptions | None = None,
) -> ProduceSummary:
    """Send every line; with `rate`, at most that many input lines per second (for latency measurements)."""
    summary = ProduceSummary(partitions=ensure_topics(bootstrap, topics, partitions))
    producer = Producer(clients.config(bootstrap, INPUT_PRODUCER))
    deliveries = Deliveries()

    def send(topic: str, value: bytes, key: str, partition: int | None = None) -> None:
        where: dict[str, Any] = {} if partition is None else {"partition": partition}
        send_reliably(producer, topic, key.encode(), value, on_delivery=deliveries.record, **where)
        summary.messages += 1

    def tick(watermark_us: int) -> None:
        value = orjson.dumps({"watermark": iso(from_micros(watermark_us))})
        for partition in range(summary.partitions):
            send(topics.clock, value, "clock", partition)
        summary.ticks += 1

    router = LedgerRouter({**house_accounts(input_dir), **(house or {})})
    started = time.monotonic()
    watermark = last_tick = 0
    tick_us = int(tick_every.total_seconds() * 1_000_000)
    for line in merged(input_dir, {}, ingest_options):
        topic = topics.input(line.stream)
        if line.event is None:
            send(topic, line.raw, line.source)  # refused by the worker, with its reason; the key only spreads them
        else:
            key = router.key_for(line.event)
            if key == BROADCAST:
                for partition in range(summary.partitions):
                    send(topic, line.raw, key, partition)
            else:
                send(topic, line.raw, key)
            watermark = max(watermark, to_micros(line.event.event_time))
            if watermark - last_tick >= tick_us:
                tick(watermark)
                last_tick = watermark
        summary.lines += 1
        if rate is not None:
            while time.monotonic() - started < summary.lines / rate:
                producer.poll(0.001)
        if progress is not None and summary.lines % 5000 == 0:
            progress(summary.lines)
        producer.poll(0)
    if watermark:
        tick(watermark)
    producer.flush()
    if deliveries.failures:
        raise KafkaException(deliveries.failures[0])
    if deliveries.acknowledged != summary.messages:
        raise RuntimeError(f"the broker acknowledged {deliveries.acknowledged:,} of {summary.messages:,} messages")
    if progress is not None:
        progress(summary.lines)
    return summary
