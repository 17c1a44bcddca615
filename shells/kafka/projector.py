"""`recon project`: the Kafka shell's exceptions projected into the case store, so the pages and the API
work on the same cases as after an embedded run; the events people's actions made there (a manual match)
sent back to the engine's input topics (case_events.py); and the other outputs written as a run folder
(folder.py), for the treasury and invoice pages.

Committed records only (read_committed: an aborted worker transaction is never seen). Offsets are not
committed to Kafka: each partition's position is stored in the case store in the same transaction as the
cases it produced (source `kafka:<topic>:<partition>`), and a restarted projector seeks to it. So a kill
at any point neither loses nor doubles a timeline entry. An exception's records share a key, hence a
partition, so its raise and its resolution are projected in order.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from pydantic import ValidationError
from reconstream.models.exceptions import ReconException
from reconstream.models.outputs import OutputStream

from ..cases.store import CaseStore
from ..sinks.topics import LEDGER_HEADER
from . import clients
from .case_events import CaseEventSender
from .consumed import position
from .folder import CASH, FOLDER_STREAMS, FolderProjection, readable
from .topics import Topics


@dataclass
class ProjectionSummary:
    records: int = 0
    applied: int = 0
    unreadable: int = 0
    sent: int = 0  # events people's actions made, sent to the engine's input topics
    written: int = 0  # output records written to the run folder


def source_of(topic: str, partition: int) -> str:
    return f"kafka:{topic}:{partition}"


def project_cases(
    bootstrap: str,
    topics: Topics,
    store: CaseStore,
    idle_exit: float | None = None,
    batch: int = 2000,
    folder: Path | None = None,
) -> ProjectionSummary:
    """Project until idle for `idle_exit` seconds (None: forever); with `folder`, write the run folder too."""
    topic = topics.output(OutputStream.EXCEPTIONS)
    consumer = Consumer(
        clients.config(
            bootstrap,
            {
                "group.id": f"{topics.prefix}.case-projector",  # named, never joined: see assign below
                "enable.auto.commit": False,  # positions live in the case store, with the cases
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
            },
        )
    )

    # Partitions are assigned, not subscribed: no group to rebalance (a killed projector's membership would
    # hold its partitions until the session times out), and the positions are ours anyway.
    summary = ProjectionSummary()
    sender = CaseEventSender(bootstrap, topics, store)
    files: FolderProjection | None = None
    try:
        if folder is not None:
            names = [topics.output(name) for name in (*FOLDER_STREAMS, CASH)]
            files = FolderProjection(bootstrap, topics, folder, {name: _partitions(consumer, name) for name in names})
        consumer.assign(
            [
                TopicPartition(topic, partition, _start(store.position(source_of(topic, partition))))
                for partition in _partitions(consumer, topic)
            ]
        )
        last = time.monotonic()
        while idle_exit is None or time.monotonic() - last < idle_exit:
            messages = consumer.consume(num_messages=batch, timeout=0.5)
            by_partition: dict[int, list[tuple[int, ReconException]]] = defaultdict(list)
            ledgers: dict[int, dict[str, int]] = defaultdict(dict)
            for message in messages:
                if not readable(message):
                    continue
                summary.records += 1
                _, number, offset = position(message)
                record = _exception(message.value(), number, offset, summary)
                if record is not None:
                    by_partition[number].append((offset, record))
                    ledger = _ledger_of(message.headers())
                    if ledger is not None:
                        ledgers[number][record.exception_id] = ledger
            for partition, records in sorted(by_partition.items()):
                summary.applied += store.project(source_of(topic, partition), records, ledgers[partition]).applied
            sent = sender.send_pending()
            summary.sent += sent
            written = files.poll() if files is not None else 0
            summary.written += written
            if messages or sent or written:
                last = time.monotonic()
    finally:
        if files is not None:
            files.close()
        sender.close()
        consumer.close()
    return summary


def _ledger_of(headers: list[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None) -> int | None:
    # A consumed record's headers are (name, value) pairs; the client's types allow a dict as well.
    for name, value in headers.items() if isinstance(headers, dict) else headers or ():
        if name == LEDGER_HEADER and isinstance(value, bytes) and value.isdigit():
            return int(value)
    return None


def _partitions(consumer: Consumer, topic: str, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        found = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return sorted(found.partitions)
        if time.monotonic() > deadline:
            raise KafkaException(f"topic {topic} has no partitions: are the workers running with this prefix?")
        time.sleep(0.5)


def _start(done: int | None) -> int:
    return done + 1 if done is not None else OFFSET_BEGINNING


def _exception(value: Any, partition: int, offset: int, summary: ProjectionSummary) -> ReconException | None:
    try:
        return ReconException.model_validate_json(value or b"")
    except ValidationError as exc:
        # Workers write this topic; a record that does not read is named, counted and passed over.
        summary.unreadable += 1
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "<record>"
        print(f"recon project: partition {partition} offset {offset}: {field}: {first['msg']}", file=sys.stderr)
        return None
