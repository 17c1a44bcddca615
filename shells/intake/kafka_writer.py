"""Accepted events onto the input topics (`[intake] kafka_bootstrap`), as `recon produce` would send them.

Each line goes to its stream's input topic, keyed by ledger with the same router, producer settings and
partitioner as `recon produce` (shells/kafka/producer.py): a worker cannot tell which of the two sent a
record. A vendor goes to every partition, since every ledger needs it. `append` returns only when the broker
has acknowledged every record (idempotent producer, so acks=all); otherwise it raises OSError and the intake
answers 503 and remembers no id, so the platform's retry is written. A record of a failed batch may still
land after the 503: the retry's copy then carries the same event id, which the engine applies once.

The router is stateful: a status change is keyed by the company code of the invoice it names, a goods receipt
by that of its purchase order. The intake restarts, so what it learned is kept in a small SQLite file, committed
before the records are produced: no invoice or order is on a topic without its route on disk.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from confluent_kafka import KafkaException, Producer
from reconstream.models.events import Event, parse

from ..kafka import clients
from ..kafka.producer import INPUT_PRODUCER
from ..kafka.routing import BROADCAST, LedgerRouter
from ..kafka.sending import Deliveries, send
from ..kafka.topics import DEFAULT_PARTITIONS, Topics, ensure_topics
from .writer import Accepted

INVOICE: Final = "invoice"
PURCHASE_ORDER: Final = "purchase_order"
_FLUSH_MARGIN_S = 5.0  # flush waits past message.timeout.ms, so a record that failed says why in its callback
_SCHEMA = """
CREATE TABLE IF NOT EXISTS routes (
    kind TEXT NOT NULL,
    document TEXT NOT NULL,
    company_code TEXT NOT NULL,
    PRIMARY KEY (kind, document)
) WITHOUT ROWID;
"""

Route = tuple[str, str, str]  # (kind, invoice id or PO number, company code)


class RouteBook:
    """Invoice id -> company code and PO number -> company code, the router's memory across restarts."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL, unlike the id index: a route lost to a power cut would send every later status of that
        # invoice to the wrong ledger, where the engine dead-letters it as an orphan.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def load_into(self, router: LedgerRouter) -> None:
        known = {INVOICE: router.invoices, PURCHASE_ORDER: router.purchase_orders}
        for kind, document, company_code in self._db.execute("SELECT kind, document, company_code FROM routes"):
            known[kind][document] = company_code

    def save(self, routes: Sequence[Route]) -> None:
        """Committed when it returns. The latest wins, as in the router: an invoice re-captured elsewhere moves."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO routes VALUES (?, ?, ?)", routes)

    def close(self) -> None:
        self._db.close()


def learned(event: Event) -> Route | None:
    """The route an event teaches the router (LedgerRouter.key_for remembers exactly these)."""
    payload: Any = event.payload  # the event type says which payload it is
    if event.event_type == "invoice.captured":
        return INVOICE, payload.invoice_id, payload.company_code
    if event.event_type == "purchase_order.created":
        return PURCHASE_ORDER, payload.po_number, payload.company_code
    return None


class KafkaIntakeWriter:
    """Produces each accepted line to `topics.input(stream)`; one append at a time, each flushed and confirmed.

    The topics are created (or found) at the first append, not at start: an intake whose cluster is down
    still starts, and answers 503 until the cluster serves it.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        routes_path: Path,
        partitions: int = DEFAULT_PARTITIONS,
        timeout: float = 30.0,
        topics_timeout: float = 30.0,
    ) -> None:
        """`timeout`: seconds a batch may take to be acknowledged (message.timeout.ms); `topics_timeout`: to find
        or create the topics at the first append (a new cluster takes a while to give every partition a leader)."""
        self.bootstrap = bootstrap
        self.topics = topics
        self._wanted_partitions = partitions
        self._partitions: int | None = None  # the engine's partition count, known once the topics are found
        self._timeout = timeout
        self._topics_timeout = topics_timeout
        self._lock = threading.Lock()
        self._routes = RouteBook(routes_path)
        self._router = LedgerRouter()  # no house accounts: the intake's streams name no bank account
        self._routes.load_into(self._router)
        self._producer: Producer | None = self._new_producer()

    def append(self, events: Sequence[Accepted]) -> None:
        with self._lock:
            if self._producer is None:
                raise OSError("the intake's Kafka writer is closed")
            partitions = self._ensure_topics()
            records: list[tuple[str, bytes, str]] = []
            routes: list[Route] = []
            for accepted in events:
                event = parse(accepted.line, accepted.stream)  # the intake parsed it already: this cannot refuse
                records.append((self.topics.input(accepted.stream), accepted.line, self._router.key_for(event)))
                if (route := learned(event)) is not None:
                    routes.append(route)
            try:
                if routes:
                    self._routes.save(routes)  # before producing: a route lost after its invoice went out misroutes
            except sqlite3.Error as exc:
                raise OSError(f"the intake's routes could not be saved: {exc}") from exc
            self._produce(self._producer, records, partitions)

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(self._timeout)  # nothing is pending after an append; this is for a failed one
                self._producer = None  # its librdkafka threads and connections end with it
                self._routes.close()

    def _ensure_topics(self) -> int:
        if self._partitions is None:
            try:
                wanted, timeout = self._wanted_partitions, self._topics_timeout
                self._partitions = ensure_topics(self.bootstrap, self.topics, wanted, timeout)
            except (KafkaException, RuntimeError) as exc:  # RuntimeError: BrokerUnavailable, a refused creation
                raise OSError(f"the input topics on {self.bootstrap} are not available: {exc}") from exc
        return self._partitions

    def _produce(self, producer: Producer, records: Sequence[tuple[str, bytes, str]], partitions: int) -> None:
        deliveries = Deliveries()
        sent = 0
        try:
            for topic, value, key in records:
                # A vendor's key is BROADCAST: every partition gets it, named explicitly, as `recon produce` does.
                targets: Sequence[int | None] = range(partitions) if key == BROADCAST else (None,)
                for partition in targets:
                    where: dict[str, Any] = {} if partition is None else {"partition": partition}
                    send(producer, topic, key.encode(), value, on_delivery=deliveries.record, **where)
                    sent += 1
            pending = producer.flush(self._timeout + _FLUSH_MARGIN_S)
        except KafkaException as exc:  # refused before sending (a bad partition, a record over the size bound)
            self._discard(producer)
            raise OSError(f"the broker at {self.bootstrap} took none of the batch: {exc}") from exc
        failures, acknowledged = deliveries.failures, deliveries.acknowledged
        if failures or pending or acknowledged != sent:
            self._discard(producer, fatal=any(error.fatal() for error in failures))
            why = failures[0].str() if failures else f"{pending} not answered in {self._timeout:.0f} s"
            raise OSError(f"the broker at {self.bootstrap} acknowledged {acknowledged} of {sent} records: {why}")

    def _discard(self, producer: Producer, fatal: bool = False) -> None:
        """Drop what is still queued of a failed batch (its retry sends it again), and a producer that failed
        fatally; otherwise the idempotent producer recovers from timeouts on its own."""
        producer.purge(in_queue=True, in_flight=False)
        producer.poll(0)  # the purged records' callbacks: each batch counts in its own closure
        if fatal:
            self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        own = {**INPUT_PRODUCER, "message.timeout.ms": int(self._timeout * 1000)}
        return Producer(clients.config(self.bootstrap, own))
