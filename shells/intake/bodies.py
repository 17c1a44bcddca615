"""A request body to the events it carries, each validated by the project's own parser or refused by field.

JSON bodies: one canonical event, a JSON array of them, or JSONL (one per line). UBL bodies: one UBL 2.1
Invoice or CreditNote (PEPPOL BIS 3), converted by the same converter as `recon ingest`, so an e-invoice
pushed here and the same file dropped in `bank/` become the same event with the same id.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from reconstream.models.base import iso
from reconstream.models.errors import ReconError
from reconstream.models.events import (
    EVENT_TYPE_OF,
    MALFORMED,
    SCHEMA_VIOLATION,
    EventError,
    Stream,
    content_digest,
    decode,
    named_id,
    parse,
)

from ..formats.canonical import IngestOptions
from ..formats.ingest import ingest_file
from .settings import Platform
from .writer import Accepted

log = logging.getLogger(__name__)

_STREAM_OF_TYPE = {event_type: stream for stream, event_type in EVENT_TYPE_OF.items()}
# An item of a body: a decoded JSON value, or why its line could not be decoded.
Item = Any


class BodyRefused(ReconError, ValueError):
    """The body as a whole cannot be read: answered with `status`, naming the field and reason."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Checked:
    """One event of a body: the line to store (with its stream and content digest), or why it is refused."""

    index: int
    event_id: str | None
    stream: Stream | None = None
    line: bytes = b""
    digest: str = ""
    error: EventError | None = None

    def to_store(self) -> Accepted | None:
        """What the writer takes, when the event is valid."""
        if self.error is not None or self.stream is None or self.event_id is None:
            return None
        return Accepted(self.stream, self.event_id, self.line)


def json_items(body: bytes, max_events: int) -> list[Item]:
    """The events of a JSON body: an object, an array of objects, or JSONL."""
    stripped = body.strip()
    if not stripped:
        raise BodyRefused(422, "<body>", "empty body: send a JSON event, a JSON array of events or JSONL")
    try:
        whole = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        # Not one JSON document: read as JSONL, so one bad line is refused alone and the others still go in.
        lines = [line for line in stripped.splitlines() if line.strip()]
        _bounded(len(lines), max_events)
        return [_jsonl_item(line) for line in lines]
    items = whole if isinstance(whole, list) else [whole]
    _bounded(len(items), max_events)
    return items


def _bounded(count: int, max_events: int) -> None:
    if count > max_events:
        raise BodyRefused(413, "<body>", f"{count} events in one body, more than the {max_events} allowed")
    if count == 0:
        raise BodyRefused(422, "<body>", "no event in the body")


def _jsonl_item(line: bytes) -> Item:
    try:
        return decode(line)
    except EventError as error:
        return error


def ubl_items(body: bytes, platform: str, options: IngestOptions) -> list[Item]:
    """The invoice.captured event of a UBL document, or the converter's error naming the element.

    The converter reads files (its XML parsing is the hardened one of safexml.py), so the body is written to a
    private temporary folder first, under a name that tells the platform and the content.
    """
    digest = hashlib.sha256(body).hexdigest()[:16]
    with tempfile.TemporaryDirectory(prefix="recon-intake-") as folder:
        path = Path(folder) / f"{platform}-{digest}.xml"
        path.write_bytes(body)
        results = list(ingest_file(path, "ubl", options))
    items: list[Item] = []
    for result in results:
        if result.event is not None:
            items.append(result.event)
        elif result.error is not None:
            error = result.error
            items.append(EventError(error.category, error.field, error.reason))
    return items or [EventError(MALFORMED, "<xml>", "the document converted to no invoice")]


def check(index: int, item: Item, platform: Platform, received_at: datetime, stamp: bool) -> Checked:
    """One item to a line to store, or a refusal naming the field; never raises for what a body holds."""
    try:
        return _checked(index, item, platform, received_at, stamp)
    except Exception as exc:  # a bug met by one event refuses that event, as ingest_file does for a file
        log.exception("intake: unexpected error checking event %d from %s", index, platform.name)
        return Checked(index, None, error=EventError(MALFORMED, "<event>", f"unexpected {type(exc).__name__}"))


def _checked(index: int, item: Item, platform: Platform, received_at: datetime, stamp: bool) -> Checked:
    """What is stored is exactly what was parsed: the line is serialized once, then parsed."""
    if isinstance(item, EventError):
        return Checked(index, item.event_id, error=item)
    if not isinstance(item, dict):
        reason = f"expected a JSON object, got {type(item).__name__}"
        return Checked(index, None, error=EventError(MALFORMED, "<json>", reason))
    event_id = named_id(item)
    stream = _stream_of(item, platform, event_id)
    if isinstance(stream, EventError):
        return Checked(index, event_id, error=stream)
    if stamp and item.get("ingest_time") is None:
        item = {**item, "ingest_time": iso(received_at)}  # when we saw it: what the engine's skew check needs
    line = orjson.dumps(item)
    try:
        event = parse(line, stream)
    except EventError as error:
        return Checked(index, event_id, error=error)
    return Checked(index, event.event_id, stream, line, f"{content_digest(event):016x}")


def _stream_of(item: dict[str, Any], platform: Platform, event_id: str | None) -> Stream | EventError:
    event_type = item.get("event_type")
    stream = _STREAM_OF_TYPE.get(event_type) if isinstance(event_type, str) else None
    allowed = ", ".join(EVENT_TYPE_OF[stream] for stream in platform.streams)
    if stream is None:
        reason = f"expected one of {allowed}, got {_shown(event_type)}"
        return EventError(SCHEMA_VIOLATION, "event_type", reason, event_id)
    if stream not in platform.streams:
        reason = f"platform {platform.name!r} may not send {event_type!r} (it may send {allowed})"
        return EventError(SCHEMA_VIOLATION, "event_type", reason, event_id)
    return stream


def _shown(value: Any) -> str:
    """A refused value as an answer may quote it: short, else only its type (a hostile body stays out)."""
    if value is None:
        return "none"
    return repr(value) if isinstance(value, str) and len(value) <= 60 else type(value).__name__
