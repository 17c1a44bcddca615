"""The AP intake over HTTP: AP platforms push signed canonical events or UBL e-invoices; accepted ones are
stored durably on the input streams before the answer, refused ones are answered by field and never stored.

    POST /intake/v1/events   a JSON event, a JSON array of events, or JSONL
    POST /intake/v1/ubl      one UBL 2.1 Invoice or CreditNote (PEPPOL BIS 3)

Both need `Recon-Platform: <name>` and `Recon-Signature: t=<unix s>,v1=<HMAC>` (auth.py). Answers: 202 every
event stored (or stored before: a retry), 207 some stored and some refused, 422 none stored, each event's
outcome in `results`; 401 an unproven sender, 413 a body over the bound, 503 the store failed (nothing was
acknowledged: send again). A retried body is safe: ids stored before answer "duplicate" and are not written
again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from reconstream.models.events import SCHEMA_VIOLATION, EventError
from starlette.concurrency import run_in_threadpool

from ..formats.canonical import IngestOptions
from .auth import PLATFORM_HEADER, SIGNATURE_HEADER, refusal
from .bodies import BodyRefused, Checked, Item, check, json_items, ubl_items
from .index import AcceptedIds, Remembered
from .settings import IntakeSettings, Platform
from .writer import Accepted, FileIntakeWriter, IntakeWriter

log = logging.getLogger(__name__)

EVENTS_PATH = "/intake/v1/events"
UBL_PATH = "/intake/v1/ubl"
ACCEPTED, DUPLICATE, REFUSED = "accepted", "duplicate", "refused"
OUTCOMES = (ACCEPTED, DUPLICATE, REFUSED)


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class Intake:
    """What both endpoints share: the platforms and their secrets, the writer, the index of stored ids, and the
    one lock that makes "not stored before, so store it" a single step across concurrent requests."""

    def __init__(
        self,
        settings: IntakeSettings,
        writer: IntakeWriter,
        secrets: Mapping[str, bytes],
        ingest_options: IngestOptions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.platforms = {platform.name: platform for platform in settings.platforms}
        self._secrets = dict(secrets)
        self._options = ingest_options
        self._clock = clock
        self._ids = AcceptedIds(settings.index, settings.id_retention, clock)
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        settings: IntakeSettings,
        writer: IntakeWriter | None = None,
        ingest_options: IngestOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Intake:
        """Reads every platform's secret now, so a missing one stops the start (SecretError names its source).

        Without a writer: the Kafka writer when `kafka_bootstrap` is set (the `[kafka]` security settings must
        be in force already, clients.use), else the file writer."""
        secrets = settings.secrets()
        built = writer is None
        writer = writer or default_writer(settings)
        try:
            return cls(settings, writer, secrets, ingest_options or IngestOptions(), clock)
        except BaseException:
            if built:
                writer.close()  # a Kafka writer holds a producer and its routes file open
            raise

    def close(self) -> None:
        with self._lock:
            self._ids.close()
            self.writer.close()

    # -- the steps of a request ------------------------------------------------------------------------------
    def authenticate(self, headers: Mapping[str, str], body: bytes) -> Platform | str:
        """The platform that signed the body, or why the request is refused."""
        name = headers.get(PLATFORM_HEADER)
        signed = headers.get(SIGNATURE_HEADER)
        why = refusal(self._secrets, name, signed, body, self._clock(), self.settings.tolerance_seconds)
        if why is not None or name is None:  # refusal() refuses a missing name: the second test narrows the type
            return why or f"no {PLATFORM_HEADER} header"
        return self.platforms[name]

    def receive_json(self, platform: Platform, body: bytes) -> Answer:
        return self.receive(platform, json_items(body, self.settings.max_events))

    def receive_ubl(self, platform: Platform, body: bytes) -> Answer:
        return self.receive(platform, ubl_items(body, platform.name, self._options))

    def receive(self, platform: Platform, items: Sequence[Item]) -> Answer:
        received_at = datetime.fromtimestamp(self._clock(), UTC)
        stamp = self.settings.stamp_ingest_time
        checked = [check(index, item, platform, received_at, stamp) for index, item in enumerate(items)]
        try:
            with self._lock:
                outcomes = self._store(platform, checked)
        except (OSError, sqlite3.Error) as exc:
            log.error("intake: could not store %d event(s) from %s: %s", len(checked), platform.name, exc)
            reason = "the events could not be stored; none was acknowledged, send them again"
            return Answer(503, {"error": "unavailable", "reason": reason})
        return _answer(checked, outcomes)

    def _store(self, platform: Platform, checked: list[Checked]) -> dict[int, str | EventError]:
        """Each valid event's outcome by index: stored now, stored before, or refused (its id said other things)."""
        valid = [(item, stored) for item in checked if (stored := item.to_store()) is not None]
        known = self._ids.digests(stored.event_id for _, stored in valid)
        outcomes: dict[int, str | EventError] = {}
        fresh: list[Accepted] = []
        for item, stored in valid:
            before = known.get(stored.event_id)
            if before is None:
                known[stored.event_id] = item.digest  # a second copy in the same body is then a duplicate
                fresh.append(stored)
                outcomes[item.index] = ACCEPTED
            elif before == item.digest:
                outcomes[item.index] = DUPLICATE
            else:
                outcomes[item.index] = _conflict(stored.event_id, before, item.digest)
        if fresh:
            # Stored first, remembered after: a crash in between lets a retry store the event again (the engine
            # skips the copy by its id), whereas the other order would answer the retry "duplicate" and lose it.
            self.writer.append(fresh)
            digests = {stored.event_id: known[stored.event_id] for stored in fresh}
            self._ids.remember(
                [Remembered(s.event_id, digests[s.event_id], s.stream.value, platform.name) for s in fresh]
            )
        return outcomes

    # -- HTTP ------------------------------------------------------------------------------------------------
    def router(self) -> APIRouter:
        """The two endpoints, to include in any FastAPI app (they carry their own authentication)."""
        router = APIRouter(tags=["intake"])
        request_body = {
            "description": "signed with Recon-Platform and Recon-Signature headers",
            "required": True,
        }

        @router.post(
            EVENTS_PATH,
            status_code=202,
            summary="Push canonical events (JSON object, JSON array or JSONL)",
            openapi_extra={"requestBody": {**request_body, "content": {"application/json": {}}}},
        )
        async def push_events(request: Request) -> Response:
            return await self._serve(request, self.receive_json)

        @router.post(
            UBL_PATH,
            status_code=202,
            summary="Push one UBL 2.1 Invoice or CreditNote (PEPPOL BIS 3)",
            openapi_extra={"requestBody": {**request_body, "content": {"application/xml": {}}}},
        )
        async def push_ubl(request: Request) -> Response:
            return await self._serve(request, self.receive_ubl)

        return router

    async def _serve(self, request: Request, receive: Callable[[Platform, bytes], Answer]) -> Response:
        limit = self.settings.max_body_bytes
        body = await read_bounded(request, limit)
        if body is None:
            return _problem(413, "payload_too_large", "<body>", f"larger than the {limit} bytes allowed")
        sender = self.authenticate(request.headers, body)
        if isinstance(sender, str):
            claimed = (request.headers.get(PLATFORM_HEADER) or "")[:64]
            log.warning("intake: refused a request claiming platform %r: %s", claimed, sender)
            return _problem(401, "unauthorized", "<signature>", sender, {"WWW-Authenticate": SIGNATURE_HEADER})
        try:
            answer = await run_in_threadpool(receive, sender, body)
        except BodyRefused as exc:
            return _problem(exc.status, "refused", exc.field, exc.reason)
        return JSONResponse(answer.body, status_code=answer.status)


def default_writer(settings: IntakeSettings) -> IntakeWriter:
    """Where accepted events go: the input topics when `kafka_bootstrap` is set, else input_dir's files."""
    if settings.kafka_bootstrap is None:
        return FileIntakeWriter(settings.input_dir)
    from ..kafka.topics import Topics  # confluent_kafka only for an intake that produces
    from .kafka_writer import KafkaIntakeWriter

    topics = Topics.from_env(settings.topic_prefix)
    return KafkaIntakeWriter(settings.kafka_bootstrap, topics, settings.routes, settings.partitions)


async def read_bounded(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed `limit` bytes (before reading it when it says so)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _conflict(event_id: str, before: str, now: str) -> EventError:
    reason = (
        f"{event_id!r} was accepted before with other content (version {before}); this version ({now}) is "
        "refused, the one accepted stands (a change is a new event id)"
    )
    return EventError(SCHEMA_VIOLATION, "event_id", reason, event_id)


def _answer(checked: list[Checked], outcomes: Mapping[int, str | EventError]) -> Answer:
    results = [_result(item, outcomes.get(item.index)) for item in checked]
    counts = {status: sum(result["status"] == status for result in results) for status in OUTCOMES}
    refused = counts[REFUSED]
    status = 202 if refused == 0 else 422 if refused == len(results) else 207
    return Answer(status, {**counts, "results": results})


def _result(item: Checked, outcome: str | EventError | None) -> dict[str, Any]:
    error = item.error if item.error is not None else outcome if isinstance(outcome, EventError) else None
    result: dict[str, Any] = {"index": item.index, "event_id": item.event_id}
    if error is not None:
        return {**result, "status": REFUSED, "category": error.category, "field": error.field, "reason": error.reason}
    return {**result, "status": outcome, "stream": item.stream.value if item.stream else None}


def _problem(status: int, error: str, field: str, reason: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": error, "field": field, "reason": reason}, status_code=status, headers=headers)


def intake_app(intake: Intake) -> FastAPI:
    """The intake alone, as a service of its own (it writes a run's input, the web service only reads outputs),
    with a /healthz; it closes the intake when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        intake.close()

    app = FastAPI(title="reconstream AP intake", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(intake.router())

    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
