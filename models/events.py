"""The event envelope of design.md, one typed event per stream, and the parser that names bad fields."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, TypeAdapter, ValidationError, model_validator

from .balances import Balance
from .base import ReceivedTime, Record, record_bytes
from .errors import FieldRefused
from .invoices import Invoice, InvoiceStatus, InvoiceStatusChange
from .master_data import GoodsReceipt, PurchaseOrder, Vendor
from .payments import BankAck, ManualMatch, PaymentBatch, Settlement


class Stream(StrEnum):
    """Input streams, in the order they win a tie on event time (master data before what uses it)."""

    VENDORS = "vendors"
    PURCHASE_ORDERS = "purchase_orders"
    GOODS_RECEIPTS = "goods_receipts"
    INVOICES = "invoices"
    INVOICE_STATUS = "invoice_status"
    PAYMENT_BATCHES = "payment_batches"
    BANK_ACKS = "bank_acks"
    SETTLEMENTS = "settlements"
    BALANCES = "balances"  # after the entries of the same moment: a closing balance counts what was booked
    MANUAL_MATCHES = "manual_matches"  # people's decisions come after what the banks and the AP said


STREAM_ORDER: dict[str, int] = {stream.value: rank for rank, stream in enumerate(Stream)}


# Version 2 names accounts of any scheme and carries what banks say about a payment; version 3 adds the
# manual match a person makes on a case; version 4 the posting service's "no verdict from the ERP" status
# (docs/events.md). Events of every earlier version still read.
SCHEMA_VERSION = 4


_ID_LIMIT = 200


class Envelope(Record):
    event_id: str = Field(min_length=1, max_length=_ID_LIMIT)
    correlation_id: str | None = None
    batch_correlation_id: str | None = None
    schema_version: int = Field(default=1, ge=1, le=SCHEMA_VERSION)
    source_system: str = Field(min_length=1)
    event_time: ReceivedTime
    ingest_time: ReceivedTime | None = None


class VendorUpserted(Envelope):
    event_type: Literal["vendor.upserted"]
    payload: Vendor


class PurchaseOrderCreated(Envelope):
    event_type: Literal["purchase_order.created"]
    payload: PurchaseOrder


class GoodsReceiptPosted(Envelope):
    event_type: Literal["goods_receipt.posted"]
    payload: GoodsReceipt


class InvoiceCaptured(Envelope):
    event_type: Literal["invoice.captured"]
    payload: Invoice


class InvoiceStatusChanged(Envelope):
    event_type: Literal["invoice.status_changed"]
    payload: InvoiceStatusChange

    @model_validator(mode="after")
    def _version_4(self) -> InvoiceStatusChanged:
        if self.payload.status is InvoiceStatus.POSTING_TIMED_OUT and self.schema_version < 4:
            raise ValueError("schema_version: a posting_timed_out status is a version 4 event")
        return self


class PaymentBatchReleased(Envelope):
    event_type: Literal["payment_batch.released"]
    payload: PaymentBatch


class BankAckReceived(Envelope):
    event_type: Literal["bank_ack.received"]
    payload: BankAck


class SettlementBooked(Envelope):
    event_type: Literal["settlement.booked"]
    payload: Settlement


class BalanceReported(Envelope):
    event_type: Literal["balance.reported"]
    payload: Balance


class SettlementMatchedManually(Envelope):
    event_type: Literal["settlement.matched_manually"]
    payload: ManualMatch

    @model_validator(mode="after")
    def _version_3(self) -> SettlementMatchedManually:
        if self.schema_version < 3:
            raise ValueError("schema_version: a manual match is a version 3 event")
        return self


EVENT_CLASSES: dict[Stream, type[Envelope]] = {
    Stream.VENDORS: VendorUpserted,
    Stream.PURCHASE_ORDERS: PurchaseOrderCreated,
    Stream.GOODS_RECEIPTS: GoodsReceiptPosted,
    Stream.INVOICES: InvoiceCaptured,
    Stream.INVOICE_STATUS: InvoiceStatusChanged,
    Stream.PAYMENT_BATCHES: PaymentBatchReleased,
    Stream.BANK_ACKS: BankAckReceived,
    Stream.SETTLEMENTS: SettlementBooked,
    Stream.BALANCES: BalanceReported,
    Stream.MANUAL_MATCHES: SettlementMatchedManually,
}
EVENT_TYPE_OF: dict[Stream, str] = {
    stream: cls.model_fields["event_type"].annotation.__args__[0]  # type: ignore[union-attr]
    for stream, cls in EVENT_CLASSES.items()
}

Event = Annotated[
    VendorUpserted
    | PurchaseOrderCreated
    | GoodsReceiptPosted
    | InvoiceCaptured
    | InvoiceStatusChanged
    | PaymentBatchReleased
    | BankAckReceived
    | SettlementBooked
    | BalanceReported
    | SettlementMatchedManually,
    Field(discriminator="event_type"),
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class EventError(FieldRefused):
    """Why an input is refused: the category it goes to, the field at fault and a readable reason."""

    def __init__(self, category: str, field: str, reason: str, event_id: str | None = None) -> None:
        # A reason may quote the value refused: bounded, so a megabyte in a field stays out of every output.
        super().__init__(_bounded(field, 200), _bounded(reason, 1000))
        self.category = category
        self.event_id = event_id


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 40]}... ({len(text):,} characters)"


_LEADING_FIELD = re.compile(r"^([a-z_][a-z0-9_\[\]\.]*): (.+)$", re.DOTALL)

MALFORMED = "malformed_event"
SCHEMA_VIOLATION = "schema_violation"


def decode(raw: bytes) -> dict[str, Any]:
    """Bytes to a JSON object, or an EventError(malformed_event)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventError(MALFORMED, "<json>", f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise EventError(MALFORMED, "<json>", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def named_id(obj: dict[str, Any]) -> str | None:
    """The event id a refusal names: only one that could be an id (its bounds as the envelope's), so that a
    hostile one is not copied into every output that names it."""
    event_id = obj.get("event_id")
    return event_id if isinstance(event_id, str) and 0 < len(event_id) <= _ID_LIMIT else None


def validate(obj: dict[str, Any], stream: Stream | None = None) -> Event:
    """A decoded object to a typed event, or an EventError(schema_violation) naming the first bad field."""
    event_id = named_id(obj)
    if stream is not None and obj.get("event_type") != EVENT_TYPE_OF[stream]:
        raise EventError(
            SCHEMA_VIOLATION,
            "event_type",
            f"expected {EVENT_TYPE_OF[stream]!r} on stream {stream.value}, got {obj.get('event_type')!r}",
            event_id,
        )
    try:
        return _EVENT_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise _schema_error(exc, event_id) from None


def _schema_error(exc: ValidationError, event_id: str | None) -> EventError:
    first = exc.errors(include_url=False)[0]
    # The discriminated union puts the event type first in the location; the field path is the rest.
    loc = [str(part) for part in first["loc"]]
    if loc and "." in loc[0]:
        loc = loc[1:]
    message = first["msg"].removeprefix("Value error, ")
    # Cross-field checks run on the whole record and name their field at the start of the message.
    named = _LEADING_FIELD.match(message)
    if named and first["type"] == "value_error":
        loc.append(named.group(1))
        message = named.group(2)
    field = ".".join(loc) or "<event>"
    more = exc.error_count() - 1
    suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return EventError(SCHEMA_VIOLATION, field, f"{message}{suffix}", event_id)


# A control character (other than tab, line feed, carriage return) in any string: in an id it makes a
# look-alike of the real one, in a text it hides what a person reads. JSON can carry one only escaped
# (\u0000-\u001f, \u007f, \b, \f); the bytes are searched first, cheaply, and only a hit is decoded.
_MAYBE_CONTROL = re.compile(rb"\\(?:u00(?:[01][0-9a-fA-F]|7[fF])|[bf])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_character(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a control character, or None."""
    if isinstance(value, str):
        return path if _CONTROL.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and _CONTROL.search(key):
            return f"{path}.{key}".lstrip(".")
        found = _control_character(item, f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def _refuse_control_characters(raw: bytes) -> None:
    obj = decode(raw)
    field = _control_character(obj)
    if field is not None:
        event_id = named_id(obj) if field != "event_id" else None
        raise EventError(SCHEMA_VIOLATION, field, "holds a control character (U+0000 to U+001F or U+007F)", event_id)


def parse(raw: bytes, stream: Stream | None = None) -> Event:
    """Bytes to a typed event, or an EventError naming the field.

    The good path validates the JSON in one pass (pydantic-core parses it, ~15 % faster than decoding
    first); only a refused input is decoded again, to name its event_id and field exactly.
    """
    if _MAYBE_CONTROL.search(raw):
        _refuse_control_characters(raw)
    try:
        event = _EVENT_ADAPTER.validate_json(raw)
    except ValidationError:
        return validate(decode(raw), stream)
    if stream is not None and event.event_type != EVENT_TYPE_OF[stream]:
        return validate(decode(raw), stream)  # names the mismatch the same way the slow path does
    return event


_DELIVERY = {"ingest_time", "source_system"}


def content_digest(event: Event) -> int:
    """What an event says, as 64 bits: everything but who delivered it and when (a redelivery, or a bank
    file imported again under another name, says the same thing). Never 1, which stands for "remembered
    without a digest"."""
    body = record_bytes(event, exclude=_DELIVERY)
    return int.from_bytes(hashlib.blake2b(body, digest_size=8).digest(), "big") | 2


def event_json_schemas() -> dict[str, dict[str, Any]]:
    return {EVENT_TYPE_OF[stream]: cls.model_json_schema() for stream, cls in EVENT_CLASSES.items()}
