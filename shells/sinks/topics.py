"""Kafka topics as a sink, inside the worker's transaction: each output on its stream's topic keyed by its
id (a status update by its invoice's), and every exception also on its owner queue's topic
(`<prefix>.exceptions.<owner>`), so a team's ticketing or chat integration reads its own queue only.
`flush` waits until every record is delivered; the worker then commits the transaction with the input
offsets (read_committed readers see all or none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer
from reconstream.models.outputs import OutputStream
from reconstream.streams import Output

from ..kafka.sending import send
from ..kafka.topics import Topics
from ..outputs import output_id, record_json
from .base import Sink

LATENCY_HEADER = "recon-input-ts-ms"
LEDGER_HEADER = "recon-ledger-partition"


class TopicSink(Sink):
    name = "topics"

    def __init__(self, producer: Producer, topics: Topics, on_full: Callable[[], None] | None = None) -> None:
        self.producer = producer
        self.topics = topics
        self.on_full = on_full
        self._headers: list[tuple[str, bytes]] = []

    def from_input(self, input_ms: int, partition: int) -> None:
        """The input the next outputs come from: its timestamp rides along, for produced-to-visible latency,
        and its partition (the ledger), which a manual match made on the case is sent back to."""
        self._headers = [(LATENCY_HEADER, str(input_ms).encode()), (LEDGER_HEADER, str(partition).encode())]

    def add(self, output: Output, position: int) -> None:
        key, value = _key_of(output), record_json(output)
        send(self.producer, self.topics.output(output.stream), key, value, on_full=self.on_full, headers=self._headers)
        if output.stream == OutputStream.EXCEPTIONS:
            owner_topic = self.topics.owner_exceptions(output.record.owner_queue.value)  # type: ignore[attr-defined]
            send(self.producer, owner_topic, key, value, on_full=self.on_full, headers=self._headers)

    def flush(self) -> dict[str, Any] | None:
        self.producer.flush()
        return None


def _key_of(output: Output) -> bytes:
    """An output's record key: its id; a status update's is its invoice's, so that one partition holds an
    invoice's updates in the order they were made (what an AP platform applies them in)."""
    if output.stream == OutputStream.STATUS_UPDATES:
        return str(output.record.invoice_id).encode()  # type: ignore[attr-defined]
    return output_id(output).encode()
