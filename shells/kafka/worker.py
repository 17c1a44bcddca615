"""The reconciliation worker: consume, merge by event time, apply, and commit everything in one transaction.

Per commit (every `commit_every` records or `commit_interval` seconds) one Kafka transaction carries the
outputs, each partition's state changes (to the compacted changelog) and the consumed input offsets.
Only after it commits is the local RocksDB copy written. A worker killed at any point therefore resumes
from offsets that match its state exactly: the aborted transaction's outputs are never visible to
read_committed consumers, and the local copy catches up from the changelog if it fell behind. Output ids
are deterministic all the same, so a consumer that reads uncommitted data can deduplicate by id.

A worker the cluster fails (a broker restart fences its group membership or its transactional producer,
or times out what was in flight) does in-process what that restart would: it drops everything applied
since the last commit, makes new clients, rejoins and restores (`recovery.py`).
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec
from prometheus_client import start_http_server
from reconstream.models.errors import InvariantBroken
from reconstream.streams import Output, Settings

from .. import collector
from ..audit import AuditKey
from ..metrics import RunMetrics
from ..sinks.topics import TopicSink
from . import clients
from .consumed import key_of
from .consumed import position as record_position
from .partition import LedgerPartition
from .recovery import (
    NEVER,
    NOT_SERVING,
    AssignmentLost,
    BrokerUnavailable,
    ClusterRefused,
    Outage,
    StuckCall,
    bounded,
    passing,
    recoverable,
)
from .sending import send
from .topics import DEFAULT_PARTITIONS, Topics, ensure_topics

log = logging.getLogger("reconstream.worker")
RebalanceCallback = Callable[[Consumer, list[TopicPartition]], None]

_END_OFFSETS_TTL = 0.25  # seconds a broker answer about where the input partitions end is trusted
_WARN_EVERY = 10.0  # seconds between two warnings that the broker does not say where the partitions end
# How long the two calls of a commit may take. Adding the offsets is one round trip to the group coordinator;
# committing waits for the markers on every partition written. Past these the worker recovers instead.
_SEND_OFFSETS_S = 10.0
_COMMIT_S = 30.0
_GRACE_S = 5.0  # then librdkafka has ignored its timeout (recovery.bounded)
# What a broker says to a client asking with the leader epoch it knew before the broker restarted.
_STALE_EPOCH = {KafkaError.FENCED_LEADER_EPOCH, KafkaError.UNKNOWN_LEADER_EPOCH}
_FLUSH_SLICE_S = 0.5  # how often a commit waiting for deliveries looks whether the group session still holds
# librdkafka's reconnect backoff grows to 10 s by default: a worker would go on that long after its broker is back.
_RECONNECT = {"reconnect.backoff.max.ms": 1000}


@dataclass(frozen=True)
class WorkerConfig:
    bootstrap: str
    data_dir: Path
    worker_id: str = "worker-1"
    topics: Topics = field(default_factory=Topics)
    partitions: int = DEFAULT_PARTITIONS
    commit_every: int = 5000
    commit_interval: float = 1.0
    max_idle: float = 0.5
    metrics_port: int | None = None  # serve Prometheus metrics (consumer lag, the SLA set) on this port
    settings: Settings | None = None
    max_outage: float = 900.0  # seconds the cluster may fail this worker before it exits ([kafka] max_outage)
    audit_key: AuditKey | None = None  # keys each partition's audit chain ([audit] key_env or key_file)


def consumer_config(config: WorkerConfig, topics: Topics) -> dict[str, Any]:
    return clients.config(
        config.bootstrap,
        {
            "group.id": topics.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            # Range assignment gives a worker the same partition number of every input topic: co-partitioning.
            "partition.assignment.strategy": "range",
            # Static membership: a worker restarted under the same id takes its partitions straight back.
            "group.instance.id": config.worker_id,
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
            "fetch.min.bytes": 1,
            "queued.max.messages.kbytes": 65536,
            **_RECONNECT,
        },
    )


def producer_config(config: WorkerConfig, topics: Topics) -> dict[str, Any]:
    return clients.config(
        config.bootstrap,
        {
            # The same id in every incarnation and after every recovery: init_transactions fences the old one.
            "transactional.id": f"reconstream-{topics.group}-{config.worker_id}",
            "linger.ms": 5,
            "compression.type": "lz4",
            # Long enough that a loaded machine's slow commit is not aborted (and the producer fenced) by
            # the coordinator; a crashed worker's transaction is still aborted when its successor starts.
            "transaction.timeout.ms": 120_000,
            "queue.buffering.max.messages": 500_000,
            **_RECONNECT,
        },
    )


class ReconciliationWorker:
    def __init__(self, config: WorkerConfig, metrics: RunMetrics | None = None) -> None:
        self.config = config
        self.topics = config.topics
        self.streams = self.topics.streams()
        self.ledgers: dict[int, LedgerPartition] = {}
        self.received: dict[tuple[str, int], int] = {}  # next offset fetched, per input topic-partition
        self.consumed: dict[tuple[str, int], int] = {}  # next offset applied: what the transaction commits
        self._end_offsets: dict[tuple[str, int], int] = {}
        self._end_offsets_at = 0.0
        self._end_offsets_warned_at = -_WARN_EVERY
        self._idle_since: dict[tuple[str, int], tuple[float, int]] = {}  # (since, at high watermark)
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._changelog_delivered: dict[int, int] = {}
        self.applied = 0
        self.recoveries = 0  # times the cluster failed this worker and it went back to its last commit
        self.applied_by_partition: Counter[int] = Counter()
        self.first_applied_at: float | None = None  # wall clock, for throughput figures
        self.last_applied_at: float | None = None
        # What the last commit made durable: a recovery takes the counts back to it, as it does the state.
        self._committed_counts: tuple[int, Counter[int]] = (0, Counter())
        self.stopping = False
        self.failed = False
        self._callback_error: Exception | None = None
        self._stuck: list[Producer] = []  # producers a call never returned from (recovery.bounded)
        self._member: str | None = None  # the group member id the current assignment was made to
        self._connected = False  # once the cluster has served this worker, a refusal is waited out
        self._refusal: KafkaError | None = None  # the last refusal of its credentials librdkafka reported
        self.outage = Outage(config.max_outage)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = metrics
        log.info(
            "worker %s: Kafka clients with %s", config.worker_id, clients.described(clients.config(config.bootstrap))
        )
        self._make_clients()

    def _make_clients(self) -> None:
        """New clients: fenced ones stay fenced, and an old admin client asks with leader epochs a restarted
        broker no longer accepts."""
        self.admin = AdminClient(clients.config(self.config.bootstrap, _RECONNECT))
        watched = {"error_cb": self._on_client_error}
        self.consumer = Consumer({**consumer_config(self.config, self.topics), **watched})
        self.producer = Producer({**producer_config(self.config, self.topics), **watched})
        metrics = self.metrics
        # Every output leaves through the sink interface; in this shell, topics inside the transaction.
        self.sink = TopicSink(self.producer, self.topics, (lambda: metrics.retry("kafka_produce")) if metrics else None)

    # -- lifecycle --------------------------------------------------------------------------------
    def run(self, idle_exit: float | None = None) -> None:
        """Process until stopped (SIGTERM/SIGINT), or until nothing arrived for `idle_exit` seconds.

        A failure the cluster caused is recovered from here, as often as it takes, until the cluster has
        failed the worker for `max_outage` seconds in a row (WorkerGaveUp); any other failure ends the run.
        """
        try:
            while not self.stopping:
                try:
                    self._connect()
                    self._process(idle_exit)
                    return
                except Exception as exc:
                    if not recoverable(exc):
                        raise
                    if self.stopping:
                        self.failed = True
                        log.warning("stopping without the last commit (%s): a restart applies it again", exc)
                        return
                    self._recover(exc)
        except BaseException:
            self.failed = True  # nothing more is committed: a restart resumes from the last transaction
            raise
        finally:
            self._shutdown()

    def _connect(self) -> None:
        """Fence any earlier producer of this worker id, open a transaction, join the group."""
        self._callback_error = None
        self.failed = False
        # Fences a previous incarnation with the same id and aborts whatever it left open. First, since this
        # client reconnects within a second of the broker's return (_RECONNECT), where a new admin client of
        # ensure_topics, made while the broker is away, backs off up to 10 s.
        self.producer.init_transactions(30)
        self.outage.answered()
        self._connected = True
        ensure_topics(self.config.bootstrap, self.topics, self.config.partitions)
        self.producer.begin_transaction()
        self.consumer.subscribe(
            list(self.streams),
            on_assign=self._guarded(self._on_assign),
            on_revoke=self._guarded(self._on_revoke),
            on_lost=self._guarded(self._on_lost),
        )
        self._last_commit = time.monotonic()

    def _process(self, idle_exit: float | None) -> None:
        last_activity = time.monotonic()
        while not self.stopping:
            messages = self.consumer.consume(num_messages=5000, timeout=0.05)
            if self._callback_error is not None:
                raise self._callback_error
            for message in messages:
                self._receive(message)
            applied = self._apply_ready()
            if self._uncommitted >= self.config.commit_every or (
                self._uncommitted and time.monotonic() - self._last_commit >= self.config.commit_interval
            ):
                self._commit()
            # Idle means settled for a while by the clock, however long a commit took in between.
            if messages or applied or not self._settled():
                last_activity = time.monotonic()
            else:
                self.outage.progressed()  # caught up, by the broker's own end offsets
                if idle_exit is not None and time.monotonic() - last_activity > idle_exit:
                    log.info("input done and idle for %.1f s: stopping; %s", idle_exit, self._positions())
                    break
        self._commit()

    # -- recovery ---------------------------------------------------------------------------------
    def _recover(self, exc: Exception) -> None:
        """Back to the last commit with new clients, after a backoff; WorkerGaveUp once the outage is too long."""
        self.failed = True  # nothing of this transaction is committed now: its failed deliveries are expected
        self.recoveries += 1
        if self.metrics is not None:
            self.metrics.retry("kafka_recovery")
        if self.producer not in self._stuck:
            self.producer.poll(0)  # serves the error events: a refused login shows there, the call only timed out
        refusal, self._refusal = self._refusal, None
        if refusal is not None and not self._connected:
            raise ClusterRefused(
                f"the Kafka cluster refuses this worker: {refusal.str()}; see [kafka] in the config"
            ) from exc
        wait = self.outage.failed(exc)
        log.warning(
            "worker %s recovering from %s%s (recovery %d, %.0f s into the outage, giving up after %.0f s): "
            "dropping %d records applied since the last commit, new clients in %.1f s",
            self.config.worker_id,
            exc,
            f" (the cluster refused: {refusal.str()})" if refusal is not None else "",
            self.outage.attempts,
            self.outage.elapsed,
            self.outage.limit,
            self._uncommitted,
            wait,
        )
        self._abandon()
        self._pause(wait)
        self._make_clients()

    def _abandon(self) -> None:
        """Forget everything not committed and let go of the clients; what is committed stays in Kafka."""
        self.failed = True  # the revoke callback a closing consumer may call must not commit
        self._member = None
        self._release(sorted(self.ledgers), list(self.received))  # uncommitted RocksDB writes are discarded
        self._end_offsets.clear()
        self._idle_since.clear()
        self._uncommitted = 0
        self.applied, counts = self._committed_counts
        self.applied_by_partition = Counter(counts)
        # Queued and in-flight records of the aborted transaction go nowhere; the next producer's
        # init_transactions aborts the transaction itself (and fences this producer, should it still live).
        if self.producer not in self._stuck:
            try:
                self.producer.purge(in_queue=True, in_flight=True)
                self.producer.poll(0)  # their delivery reports (failed: ignored), or they count as left behind
            except KafkaException as exc:
                log.info("purging the old producer: %s", exc)
        try:
            self.consumer.close()  # a static member leaves no group: its successor takes the partitions back
        except (KafkaException, RuntimeError) as exc:
            log.info("closing the old consumer: %s", exc)

    def _on_client_error(self, error: KafkaError) -> None:
        """librdkafka's errors outside any call. A refused login is kept: the call that met it only times out.
        The rest librdkafka retries by itself, and logs."""
        if error.code() in NEVER:
            self._refusal = error

    def _pause(self, seconds: float) -> None:
        """Sleep, but wake for a stop signal."""
        until = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < until:
            time.sleep(min(0.1, max(0.0, until - time.monotonic())))

    def _positions(self) -> str:
        return ", ".join(
            f"{topic}/{number} at {offset} of {self._end_offsets.get((topic, number))}"
            f" ({len(self.ledgers[number].sequencer.queues[topic]) if number in self.ledgers else '-'} waiting)"
            for (topic, number), offset in sorted(self.received.items())
        )

    def _settled(self) -> bool:
        """Assigned, everything fetched applied, and nothing left to fetch: what an idle exit waits for."""
        return (
            bool(self.ledgers)
            and not any(len(ledger.sequencer) for ledger in self.ledgers.values())
            and all(self._caught_up(topic, number) for topic, number in self.received)
        )

    def stop(self, *_: object) -> None:
        self.stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _shutdown(self) -> None:
        try:
            self.consumer.close()
        finally:
            self._write_status()
            for ledger in self.ledgers.values():
                ledger.close()
            self.ledgers.clear()

    # -- rebalancing ------------------------------------------------------------------------------
    def _guarded(self, callback: Callable[[Consumer, list[TopicPartition]], None]) -> RebalanceCallback:
        """librdkafka cannot carry an exception out of a rebalance callback: keep it for the loop to raise."""

        def guarded(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            try:
                callback(consumer, partitions)
            except Exception as exc:
                if not recoverable(exc):  # a recoverable one gets its line from the recovery
                    log.exception("rebalance callback failed")
                self._callback_error = exc

        return guarded

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = sorted({tp.partition for tp in partitions})
        log.info("worker %s assigned partitions %s", self.config.worker_id, numbers)
        self._member = consumer.memberid()
        committed = consumer.committed(partitions, timeout=30)
        earliest = self._earliest_offsets([tp for tp in committed if tp.offset < 0])
        for tp in committed:
            key = (tp.topic, tp.partition)
            self.received[key] = self.consumed[key] = tp.offset if tp.offset >= 0 else earliest[key]
        for number in numbers:
            if number not in self.ledgers:
                self.ledgers[number] = self._open_ledger(number)
        self.outage.answered()
        self._write_status()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = sorted({tp.partition for tp in partitions})
        log.info("worker %s gives up partitions %s", self.config.worker_id, numbers)
        # What was applied is committed before another worker may take over; fetched-but-unapplied is refetched.
        if not self.failed:
            self._commit()
        self._release(numbers, [(tp.topic, tp.partition) for tp in partitions])

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group gave the partitions away while this worker was cut off: committing now could only fail
        (the generation is gone), so the loop recovers from the last commit instead."""
        numbers = sorted({tp.partition for tp in partitions})
        raise AssignmentLost(f"worker {self.config.worker_id} lost partitions {numbers} (session timed out)")

    def _release(self, numbers: list[int], partitions: list[tuple[str, int]]) -> None:
        """Close these ledgers and forget where their topic-partitions stand."""
        for number in numbers:
            ledger = self.ledgers.pop(number, None)
            if ledger is not None:
                if self.metrics is not None and ledger.engine is not None:
                    # Another worker reports them now: this one's gauges must not count them twice.
                    self.metrics.forget_open(e for _, e in ledger.engine.state.exceptions.items())
                ledger.close()
        for topic, number in partitions:
            self.received.pop((topic, number), None)
            self.consumed.pop((topic, number), None)
            if self.metrics is not None:
                self.metrics.forget_partition(topic, number)
        self._write_status()

    def _write_status(self) -> None:
        """What this worker owns now and what it has applied per partition: for operators and tests."""
        document = {
            "worker_id": self.config.worker_id,
            "partitions": sorted(self.ledgers),
            "applied_by_partition": {str(n): count for n, count in sorted(self.applied_by_partition.items())},
            "applied": self.applied,
            "recoveries": self.recoveries,
            "first_applied_at": self.first_applied_at,
            "last_applied_at": self.last_applied_at,
        }
        (self.config.data_dir / "status.json").write_bytes(orjson.dumps(document))

    def _open_ledger(self, number: int) -> LedgerPartition:
        config = self.config
        ledger = LedgerPartition(number, config.data_dir, self.streams, config.settings, self.metrics, config.audit_key)
        end = self._changelog_end(number)
        if ledger.changelog_offset > end:
            log.warning("partition %d: local state is ahead of the changelog (recreated?); restoring anew", number)
            ledger.reset()
        restored = 0
        for changes, next_offset in self._read_changelog(number, ledger.changelog_offset, end):
            ledger.restore(changes, next_offset)
            restored += len(changes)
        if restored:
            log.info("partition %d: restored %d changes from the changelog", number, restored)
        ledger.start()
        return ledger

    def _read_changelog(
        self, number: int, start: int, end: int, chunk: int = 20_000
    ) -> Iterator[tuple[list[tuple[bytes, bytes | None]], int]]:
        if start >= end:
            return
        reader = Consumer(
            clients.config(
                self.config.bootstrap,
                {
                    "group.id": f"{self.topics.group}-restore",
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                },
            )
        )
        try:
            reader.assign([TopicPartition(self.topics.changelog, number, start or OFFSET_BEGINNING)])
            changes: list[tuple[bytes, bytes | None]] = []
            position = start
            deadline = time.monotonic() + 120
            while position < end:
                if time.monotonic() > deadline:
                    raise BrokerUnavailable(f"changelog partition {number} did not reach offset {end} (at {position})")
                for message in reader.consume(num_messages=chunk, timeout=1.0):
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise KafkaException(error)
                    changes.append((key_of(message), message.value()))
                    position = record_position(message)[2] + 1
                # Transaction markers take offsets but are never delivered: ask where the reader stands.
                position = max(position, reader.position([TopicPartition(self.topics.changelog, number)])[0].offset)
                if len(changes) >= chunk or position >= end:
                    yield changes, position
                    changes = []
        finally:
            reader.close()

    # -- the hot path -----------------------------------------------------------------------------
    def _receive(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            if passing(error):
                log.warning("consumer: %s (librdkafka reconnects by itself)", error)
                return
            raise KafkaException(error)
        topic, number, offset = record_position(message)
        ledger = self.ledgers.get(number)
        if ledger is None:
            return  # revoked while in flight: it will be fetched again by its new owner
        ledger.sequencer.push(topic, offset, message.value() or b"", message.timestamp()[1])
        self.received[(topic, number)] = offset + 1

    def _apply_ready(self) -> int:
        total = 0
        for number, ledger in self.ledgers.items():
            applied = 0
            for record in ledger.sequencer.pop_ready(partial(self._caught_up, number=number)):
                outputs, audit = ledger.apply(record)
                self._emit(outputs, record.received_ms, record.offset, number)
                if audit is not None:
                    # The partition's chain, in the transaction with the outputs and the head in the changelog.
                    value = orjson.dumps(audit, option=orjson.OPT_SORT_KEYS)
                    self._send(self.topics.audit, str(audit["seq"]).encode(), value, partition=number)
                self.consumed[(record.topic, number)] = record.offset + 1
                applied += 1
            self.applied_by_partition[number] += applied
            total += applied
        self._uncommitted += total
        self.applied += total
        if total:
            self.last_applied_at = time.time()
            self.first_applied_at = self.first_applied_at or self.last_applied_at
        return total

    def _emit(self, outputs: list[Output], input_ms: int, offset: int, partition: int) -> None:
        self.sink.from_input(input_ms, partition)
        for output in outputs:
            self.sink.add(output, offset)

    def _send(self, topic: str, key: bytes, value: bytes | None, **options: Any) -> None:
        """State changes and cash positions, produced in the same transaction as the sink's outputs."""
        send(self.producer, topic, key, value, on_full=self.sink.on_full, **options)

    def _caught_up(self, topic: str, number: int) -> bool:
        """Nothing more to fetch from this topic-partition, and for long enough that none is on its way.

        End offsets come from the broker (one ListOffsets request for every assigned partition, at most
        every `_END_OFFSETS_TTL`), never from the client's cached watermarks, which can lag a partition it
        has not fetched yet. The grace (`max_idle`, Kafka Streams' max.task.idle.ms) covers a producer
        writing several topics at once: their records reach the broker in batches, not in send order.
        """
        key = (topic, number)
        received = self.received.get(key)
        if received is None:
            return False
        end = self._end_offsets.get(key)
        if end is None or received >= end:
            end = self._end_offset(key)
        if end is None or received < end:
            return False
        now = time.monotonic()
        since = self._idle_since.get(key)
        if since is None or since[1] != end:
            self._idle_since[key] = since = (now, end)
        return now - since[0] >= self.config.max_idle

    def _end_offset(self, key: tuple[str, int]) -> int | None:
        if time.monotonic() - self._end_offsets_at >= _END_OFFSETS_TTL:
            self._refresh_end_offsets()
        return self._end_offsets.get(key)

    def _refresh_end_offsets(self) -> None:
        wanted = {TopicPartition(topic, number): OffsetSpec.latest() for topic, number in self.received}
        if not wanted:
            return
        futures = self.admin.list_offsets(wanted, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=10)
        failed: list[str] = []
        stale = False
        for tp, future in futures.items():
            try:
                self._end_offsets[(tp.topic, tp.partition)] = future.result().offset
            except KafkaException as exc:
                # Unknown, not an old answer: a record that arrived since must not be overtaken by later ones.
                self._end_offsets.pop((tp.topic, tp.partition), None)
                failed.append(f"{tp.topic}/{tp.partition}: {exc}")
                stale = stale or exc.args[0].code() in _STALE_EPOCH
        now = time.monotonic()
        if not failed:
            self.outage.answered()
        elif now - self._end_offsets_warned_at >= _WARN_EVERY:  # asked 4 times a second: not a line each time
            log.warning("no end offset for %d of %d partitions, e.g. %s", len(failed), len(futures), failed[0])
            self._end_offsets_warned_at = now
        if stale:
            # A restarted broker bumps every leader epoch, and the admin client keeps asking with the old one
            # (FENCED_LEADER_EPOCH) until its metadata refresh, minutes later: a new client asks afresh.
            self.admin = AdminClient(clients.config(self.config.bootstrap, _RECONNECT))
        self._end_offsets_at = now

    def _changelog_end(self, number: int, timeout: float = 60.0) -> int:
        """Where a restore of this partition must read to: the changelog's end once no transaction is open on it.

        The previous owner's last commit makes its input offsets stable before the transaction's marker
        reaches every partition it wrote; restoring to an end short of that marker would leave the state
        behind offsets that are already committed, and lose the records in between.
        """
        tp = TopicPartition(self.topics.changelog, number)
        deadline = time.monotonic() + timeout
        while True:
            committed, written = (
                next(iter(self.admin.list_offsets({tp: OffsetSpec.latest()}, isolation_level=level).values()))
                .result()
                .offset
                for level in (IsolationLevel.READ_COMMITTED, IsolationLevel.READ_UNCOMMITTED)
            )
            if committed >= written:
                return committed
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"changelog partition {number} keeps a transaction open past {timeout:.0f} s")
            time.sleep(0.1)

    def _earliest_offsets(self, partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
        """Where a partition never committed by this group starts (auto.offset.reset=earliest)."""
        if not partitions:
            return {}
        wanted = {TopicPartition(tp.topic, tp.partition): OffsetSpec.earliest() for tp in partitions}
        for attempt in range(20):
            try:
                futures = self.admin.list_offsets(wanted, request_timeout=30)
                return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
            except KafkaException as exc:
                error = exc.args[0]
                if not (error.retriable() or error.code() in NOT_SERVING) or attempt == 19:
                    raise
                if self.metrics is not None:
                    self.metrics.retry("kafka_list_offsets")
                time.sleep(0.25)  # a partition created (or a broker restarted) a moment ago may not serve yet
        raise AssertionError("unreachable")

    # -- commit -----------------------------------------------------------------------------------
    def _commit(self) -> None:
        dirty = [ledger for ledger in self.ledgers.values() if ledger.dirty]
        if not dirty and not self._uncommitted:
            self._last_commit = time.monotonic()
            return
        self._changelog_delivered.clear()
        for ledger in dirty:
            for key, value in ledger.pending_changes():
                self._send(self.topics.changelog, key, value, partition=ledger.partition, on_delivery=self._delivered)
            self._publish_cash_positions(ledger)
        self._await_deliveries()  # every output and change delivered before the offsets go into the transaction
        self._check_session()
        offsets = [TopicPartition(topic, number, offset) for (topic, number), offset in self.consumed.items()]
        group, producer = self.consumer.consumer_group_metadata(), self.producer
        try:
            bounded(
                "send_offsets_to_transaction",
                _SEND_OFFSETS_S + _GRACE_S,
                lambda: producer.send_offsets_to_transaction(offsets, group, _SEND_OFFSETS_S),
            )
            bounded("commit_transaction", _COMMIT_S + _GRACE_S, lambda: producer.commit_transaction(_COMMIT_S))
        except StuckCall:
            self._stuck.append(producer)  # see bounded: kept, never destroyed, never called again
            raise
        self.outage.progressed()
        self._committed_counts = (self.applied, Counter(self.applied_by_partition))
        self._report_lag()
        for ledger in dirty:
            ledger.committed(self._changelog_delivered.get(ledger.partition, ledger.changelog_offset))
        self.producer.begin_transaction()
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        collector.settle()

    def _await_deliveries(self) -> None:
        """Wait for the transaction's records, but not past the end of the group session: once the broker has
        been away that long, the offsets can no longer be added, and the recovery may as well start."""
        while self.producer.flush(_FLUSH_SLICE_S):
            self._check_session()
        self.sink.flush()  # the sink's own flush: nothing is left to wait for

    def _check_session(self) -> None:
        # librdkafka drops the member id when the session times out (no heartbeat answered for
        # session.timeout.ms): the group has given the partitions up, and adding the offsets to the transaction
        # would fail, or hang (recovery.bounded).
        if self.consumer.memberid() != self._member:
            raise AssignmentLost(f"worker {self.config.worker_id}: the group session ended during a transaction")

    def _report_lag(self) -> None:
        """End offset minus committed offset, per input topic-partition this worker owns."""
        if self.metrics is None:
            return
        for (topic, number), offset in self.consumed.items():
            end = self._end_offsets.get((topic, number))
            if end is not None:
                self.metrics.set_consumer_lag(topic, number, end - offset)

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            if self.failed:
                return  # purged with the transaction being abandoned
            raise KafkaException(error)  # the transaction cannot commit without it: recover from the last commit
        _, number, offset = record_position(message)
        self._changelog_delivered[number] = max(self._changelog_delivered.get(number, 0), offset + 1)

    def _publish_cash_positions(self, ledger: LedgerPartition) -> None:
        if ledger.engine is None:
            raise InvariantBroken(f"partition {ledger.partition}: cash positions published before it started")
        for position in ledger.engine.cash_positions():
            value = orjson.dumps(position.model_dump(mode="json", exclude_none=True), option=orjson.OPT_SORT_KEYS)
            self._send(self.topics.output("cash_positions"), f"{position.account}|{position.currency}".encode(), value)


def run_worker(config: WorkerConfig, idle_exit: float | None = None) -> int:
    metrics = None
    if config.metrics_port is not None:
        # Bound before any Kafka client exists: a taken port ends the worker before it joins the group.
        metrics = RunMetrics()
        # Every interface: Prometheus scrapes it from another host or container (ops/compose: worker:9400).
        start_http_server(config.metrics_port, addr="0.0.0.0", registry=metrics.registry)  # noqa: S104
        log.info("metrics on :%d/metrics", config.metrics_port)
    worker = ReconciliationWorker(config, metrics)
    worker.install_signal_handlers()
    worker.run(idle_exit)
    return worker.applied
