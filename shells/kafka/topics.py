"""Topic names and the partitioning rule every producer and worker shares.

All input topics have the same number of partitions and are keyed by the ledger key (the company code),
so partition p of every input topic holds one set of company codes: one engine per partition sees every
event its state depends on. Vendor master data is needed by every ledger, so it is sent to each
partition of its topic. A prefix keeps several deployments (or test runs) apart on one cluster.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from reconstream.models.events import Stream
from reconstream.models.exceptions import OwnerQueue
from reconstream.models.outputs import TOPIC_STREAMS, OutputStream

from . import clients
from .recovery import NOT_SERVING, BrokerUnavailable

DEFAULT_PARTITIONS = 6
OUTPUT_STREAMS = TOPIC_STREAMS


@dataclass(frozen=True)
class Topics:
    prefix: str = "recon"

    @classmethod
    def from_env(cls, prefix: str | None = None) -> Topics:
        return cls(prefix or os.environ.get("RECON_TOPIC_PREFIX") or "recon")

    def input(self, stream: Stream) -> str:
        return f"{self.prefix}.{stream.value}"

    @property
    def clock(self) -> str:
        # Watermark ticks: event time moves on in every partition, even one whose company codes are quiet.
        return f"{self.prefix}.clock"

    def output(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def owner_exceptions(self, owner: str) -> str:
        """One owner queue's exceptions (also on the exceptions topic): what that team's tools subscribe to."""
        return f"{self.prefix}.exceptions.{owner}"

    @property
    def changelog(self) -> str:
        # The engine state of each partition, compacted: a worker taking a partition over restores it from here.
        return f"{self.prefix}.state-changelog"

    @property
    def audit(self) -> str:
        # One audit chain per ledger partition, kept forever: what `recon audit verify-kafka` reads.
        return f"{self.prefix}.audit"

    @property
    def group(self) -> str:
        return f"{self.prefix}-engine"

    def streams(self) -> dict[str, Stream | None]:
        """Every engine input topic and the stream it carries (None: the clock)."""
        return {**{self.input(stream): stream for stream in Stream}, self.clock: None}

    def compacted(self) -> set[str]:
        return {self.changelog, self.output(OutputStream.CASH_POSITIONS)}

    def all(self) -> list[str]:
        owners = (self.owner_exceptions(owner.value) for owner in OwnerQueue)
        return [*self.streams(), *(self.output(name) for name in OUTPUT_STREAMS), *owners, self.changelog, self.audit]

    def settings(self, topic: str) -> dict[str, str]:
        """Topic configuration: the changelog and cash positions compacted, the audit chain never deleted."""
        if topic in self.compacted():
            return {"cleanup.policy": "compact"}
        if topic == self.audit:
            return {"retention.ms": "-1", "retention.bytes": "-1"}
        return {}


def ensure_topics(bootstrap: str, topics: Topics, partitions: int = DEFAULT_PARTITIONS, timeout: float = 30.0) -> int:
    """Create missing topics; return the engine's partition count (that of the existing input topics, if any)."""
    admin = AdminClient(clients.config(bootstrap))
    existing = admin.list_topics(timeout=timeout).topics
    first_input = existing.get(topics.input(Stream.INVOICES))
    if first_input is not None and first_input.partitions:
        partitions = len(first_input.partitions)  # co-partitioning beats the flag: never mix counts
    missing = [
        NewTopic(
            topic,
            num_partitions=partitions,
            replication_factor=1,
            config=topics.settings(topic),
        )
        for topic in topics.all()
        if topic not in existing
    ]
    if missing:
        for topic, future in admin.create_topics(missing, operation_timeout=timeout).items():
            try:
                future.result()
            except KafkaException as exc:
                # A worker starting beside us may have created it first; anything else is a real failure.
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise RuntimeError(f"cannot create topic {topic}: {exc}") from exc
    _await_leaders(admin, topics.all(), timeout)  # also when another process created them a moment ago
    return partitions


def _await_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    """Wait until every partition of every topic is served by its leader.

    Metadata names a leader before that broker has taken the partition on: until it has, produce requests
    fail with NOT_LEADER_OR_FOLLOWER. An idempotent producer then loses records without a delivery error:
    a later batch of the same partition, already in flight, is accepted (the broker takes any first
    sequence from a producer it has no state for) and librdkafka counts the failed batch as delivered
    with it ("implicitly acked"). Only a request the leader itself answers shows it is ready.
    """
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout).topics
        pending = [
            name
            for name in names
            if name not in metadata
            or metadata[name].error is not None
            or not metadata[name].partitions
            or any(p.leader < 0 or p.error is not None for p in metadata[name].partitions.values())
        ]
        if not pending:
            pending = _not_served(admin, {name: list(metadata[name].partitions) for name in names}, timeout)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise BrokerUnavailable(f"topics without a serving leader after {timeout:.0f} s: {', '.join(pending)}")
        time.sleep(0.1)


def _not_served(admin: AdminClient, partitions: dict[str, list[int]], timeout: float) -> list[str]:
    """The topics some partition of which its leader does not answer yet (ListOffsets goes to the leader's log)."""
    wanted = {TopicPartition(name, n): OffsetSpec.latest() for name, numbers in partitions.items() for n in numbers}
    pending: set[str] = set()
    for tp, future in admin.list_offsets(wanted, request_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            error = exc.args[0]
            if not (error.retriable() or error.code() in NOT_SERVING):
                raise
            pending.add(tp.topic)
    return sorted(pending)
