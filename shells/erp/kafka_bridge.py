"""ERP posting beside Kafka workers: the workers' `posting_requests` topic into the posting queue, and the
ERPs' verdicts out to the `invoice_status` input topic, keyed by company code as `recon produce` keys it, so
the worker holding that ledger applies them.

Requests are read committed and their offsets committed only after the queue has them on disk: a crash reads
some again, which the queue keeps once. A verdict is recorded as sent only after the producer flushed it: a
crash sends some again, which the engine drops by event id. Event time runs live here (it is the wall's),
so the engine's posting SLA timers do not race the ERP as in a replayed month (docs/erp.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from confluent_kafka import Consumer, Producer
from pydantic import ValidationError
from reconstream.models.events import Stream
from reconstream.models.outputs import OutputStream, PostingRequest

from ..kafka import clients
from ..kafka.sending import send
from ..kafka.topics import Topics
from ..sinks.posting import new_posting
from .queue import NewPosting, PostingQueue
from .service import PostingService

log = logging.getLogger(__name__)


class KafkaPostingBridge:
    def __init__(
        self, bootstrap: str, topics: Topics, queue: PostingQueue, service: PostingService, routes: Mapping[str, str]
    ) -> None:
        self.bootstrap, self.topics = bootstrap, topics
        self.queue, self.service, self.routes = queue, service, routes
        self.consumer = Consumer(
            clients.config(
                bootstrap,
                {
                    "group.id": f"{topics.prefix}-erp-posting",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",  # only what a worker's transaction committed
                },
            )
        )
        self.consumer.subscribe([topics.output(OutputStream.POSTING_REQUESTS.value)])
        self.producer = Producer(
            clients.config(bootstrap, {"enable.idempotence": True, "partitioner": "murmur2_random", "linger.ms": 5})
        )
        self.forwarded = queue.forwarded()

    def run(self, stop: threading.Event, idle_exit: float | None = None) -> None:
        """Until `stop` is set, or nothing came in, nothing is owed and every verdict went out for `idle_exit`,
        counted from when the group gave this bridge its partitions (a join is slow on a loaded cluster)."""
        idle_since = time.monotonic()
        while not stop.is_set():
            took = self.take_requests()
            sent = self.send_verdicts()
            owed = self.service.lanes and any(self.queue.open_work(n) for n in self.service.lanes)
            if took or sent or owed or not self.consumer.assignment():
                idle_since = time.monotonic()
            elif idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                return

    def take_requests(self) -> int:
        messages = self.consumer.consume(num_messages=500, timeout=0.2)
        rows: list[NewPosting] = []
        for message in messages:
            if message.error() is not None:
                log.warning("posting requests: %s", message.error())
                continue
            value = message.value() or b""
            try:
                rows.append(new_posting(PostingRequest.model_validate_json(value), value, self.routes))
            except ValidationError as exc:  # a worker's own output: a defect to see, never a reason to stop
                log.error(
                    "posting request at %s/%s/%s unreadable: %s",
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    exc,
                )
        if rows:
            self.queue.enqueue(rows, time.time())
            self.service.wake()
        if messages:
            self.consumer.commit(asynchronous=False)
        return len(rows)

    def send_verdicts(self) -> int:
        verdicts = self.queue.verdicts(self.forwarded)
        if not verdicts:
            return 0
        topic = self.topics.input(Stream.INVOICE_STATUS)
        for verdict in verdicts:
            send(self.producer, topic, verdict.company_code.encode(), verdict.event)
        remaining = self.producer.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} verdicts not acknowledged by the cluster within 30 s")
        self.forwarded = verdicts[-1].seq
        self.queue.set_forwarded(self.forwarded)
        return len(verdicts)

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(10)
