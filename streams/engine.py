"""The functional core's entry point: one event in, its outputs out. Both shells call only this."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from reconstream.models.base import from_micros, iso, record_bytes, to_micros
from reconstream.models.events import Event, EventError, content_digest
from reconstream.models.exceptions import Category, raise_exception
from reconstream.models.ids import stable_id
from reconstream.models.outputs import CashPosition, DeadLetter, OutputStream
from reconstream.tables.seen import SAME_AS_ANY
from reconstream.tables.state import EngineState

from . import cash
from .balances import on_balance
from .bank_acks import on_bank_ack
from .context import Context, Output, Settings
from .errors import OrphanEvent
from .invoices import on_invoice, on_invoice_status
from .manual_matches import on_manual_match
from .master_data import on_goods_receipt, on_purchase_order, on_vendor
from .payments import on_payment_batch
from .settlements import on_settlement
from .timers import on_timer

HANDLERS: dict[str, Callable[[Any, Context], None]] = {
    "vendor.upserted": on_vendor,
    "purchase_order.created": on_purchase_order,
    "goods_receipt.posted": on_goods_receipt,
    "invoice.captured": on_invoice,
    "invoice.status_changed": on_invoice_status,
    "payment_batch.released": on_payment_batch,
    "bank_ack.received": on_bank_ack,
    "settlement.booked": on_settlement,
    "balance.reported": on_balance,
    "settlement.matched_manually": on_manual_match,
}

# Made by people on cases, timed when they were made: applied at the engine's event time, never moving it.
PEOPLES_DECISIONS = frozenset({"settlement.matched_manually"})

_RAW_LIMIT = 4096  # a dead letter keeps enough of the input to fix it, not a whole runaway line
WATERMARK_KEY = "watermark_us"


class Engine:
    def __init__(self, state: EngineState, settings: Settings | None = None) -> None:
        self.state = state
        self.ctx = Context(state, settings or Settings())
        state.seen_events.window_us = _micros(self.ctx.settings.event_id_window)
        state.seen_entries.window_us = _micros(self.ctx.settings.bank_entry_window)

    @property
    def watermark_us(self) -> int:
        return int(self.state.meta.get(WATERMARK_KEY) or 0)

    @property
    def watermark(self) -> datetime:
        return from_micros(self.watermark_us)

    def has_approved(self, invoice_id: str) -> bool:
        """Whether the invoice's approval has been applied: a verdict of its posting may be, from then on."""
        state = self.state.invoices.get(invoice_id)
        return state is not None and state.approved_at is not None

    def process(self, event: Event, source: str = "") -> list[Output]:
        """Apply one valid event. An event id seen before changes nothing and emits nothing."""
        digest = content_digest(event)
        first = self.state.seen_events.digest_of(event.event_id)
        if first is not None:
            return self._seen_again(event, first, digest, source)
        if (untimely := self._untimely(event)) is not None:
            self._refuse(event, source, untimely)
            return self.ctx.drain()
        self.state.begin()
        try:
            self._apply(event, source, digest)
        except Exception as failure:  # any failure of a rule sets its event aside; none stops the stream
            self.state.rollback()
            self.ctx.outbox.clear()
            self._quarantine(event, source, failure)
        else:
            self.state.end()
        return self.ctx.drain()

    def _apply(self, event: Event, source: str, digest: int) -> None:
        if event.event_type not in PEOPLES_DECISIONS:
            self._advance(to_micros(event.event_time))
        try:
            HANDLERS[event.event_type](event, self.ctx)
        except OrphanEvent as orphan:
            error = EventError(Category.SCHEMA_VIOLATION.value, orphan.field, orphan.reason, event.event_id)
            self._refuse(event, source, error, to_micros(event.event_time))
        self.state.seen_events.add(event.event_id, self.watermark_us, digest)

    def _seen_again(self, event: Event, first: Any, digest: int, source: str) -> list[Output]:
        """The same id again: nothing when it is the same event (a redelivery, a file read twice); refused when
        its content differs, since one of the two versions was never applied and someone must say which."""
        if not isinstance(first, int) or first in (SAME_AS_ANY, digest):
            return []
        reason = (
            f"{event.event_id!r} was applied before with other content (version {first:016x}); this version "
            f"({digest:016x}) is refused, the one applied stands"
        )
        self._refuse(event, source, EventError(Category.SCHEMA_VIOLATION.value, "event_id", reason, event.event_id))
        return self.ctx.drain()

    def _untimely(self, event: Event) -> EventError | None:
        """An event dated ahead of its own ingest time by more than a clock's error: a wrong clock or a typo,
        which applied would move event time and fire every timer due before it (docs/events.md)."""
        if event.ingest_time is None or event.event_type in PEOPLES_DECISIONS:
            return None
        ahead = event.event_time - event.ingest_time
        if ahead <= self.ctx.settings.clock_skew:
            return None
        reason = (
            f"{iso(event.event_time)} is {ahead} after its ingest_time {iso(event.ingest_time)}, more than the "
            f"clock skew allowed ({self.ctx.settings.clock_skew}; [windows] clock_skew): refused, event time unmoved"
        )
        return EventError(Category.SCHEMA_VIOLATION.value, "event_time", reason, event.event_id)

    def _refuse(self, event: Event, source: str, error: EventError, at_us: int = 0) -> None:
        """A valid event dead-lettered; dated at `at_us`, else at the engine's time, else at its own."""
        at_us = at_us or self.watermark_us or to_micros(event.event_time)
        self._dead_letter(error, source, _stream_of(event), record_bytes(event), at_us)

    def _quarantine(self, event: Event, source: str, failure: Exception) -> None:
        """An event a rule could not apply: its dead letter says why, and the state is as if it never came.

        Not remembered as applied either: the same event again (once the cause is fixed) is tried again,
        and a resume reads on past the dead letter instead of failing on it forever.
        """
        reason = f"could not be applied, and was set aside with nothing changed: {_described(failure)}"
        self._refuse(event, source, EventError(Category.SCHEMA_VIOLATION.value, "payload", reason, event.event_id))

    def cash_positions(self) -> list[CashPosition]:
        """Every account's position, in account order: the bank's balance, movements since, in flight."""
        return [cash.position(state) for _, state in self.state.accounts.items()]

    def advance_to(self, event_time_us: int) -> list[Output]:
        """Move event time forward and fire every timer it passes. Time never goes back."""
        self._advance(event_time_us)
        return self.ctx.drain()

    def _advance(self, event_time_us: int) -> None:
        if event_time_us > self.watermark_us:
            self.state.meta[WATERMARK_KEY] = event_time_us
            for timer in self.state.timers.pop_due(event_time_us):
                on_timer(timer, self.ctx)
            self.state.seen_events.advance(event_time_us)
            self.state.seen_entries.advance(event_time_us)

    def reject(self, error: EventError, source: str, stream: str, raw: bytes, at_us: int = 0) -> list[Output]:
        """Input that cannot be applied: a dead letter with its reason, and an exception for its owner.

        `at_us` is the input's own event time where it could be read (else the watermark stands in).
        """
        self._dead_letter(error, source, stream, raw, at_us)
        return self.ctx.drain()

    def _dead_letter(self, error: EventError, source: str, stream: str, raw: bytes, at_us: int = 0) -> None:
        dead_letter_id = stable_id("dl", source, error.event_id or "")
        text = raw[:_RAW_LIMIT].decode("utf-8", errors="replace")
        self.ctx.emit(
            OutputStream.DEAD_LETTERS,
            DeadLetter(
                dead_letter_id=dead_letter_id,
                source=source,
                stream=stream,
                category=error.category,
                field=error.field,
                reason=error.reason,
                event_id=error.event_id,
                raw=text,
            ),
        )
        refs = (source, *([error.event_id] if error.event_id else []))
        at_us = at_us or self.watermark_us
        at = from_micros(at_us) if at_us else _now()
        exception = raise_exception(
            Category(error.category),
            refs,
            f"{stream} input refused at {error.field}: {error.reason}",
            at,
            policy=self.ctx.settings.severity,
        )
        if exception.exception_id not in self.state.exceptions:
            self.state.exceptions[exception.exception_id] = exception
            self.ctx.emit(OutputStream.EXCEPTIONS, exception)


def _described(failure: Exception) -> str:
    if isinstance(failure, ArithmeticError):
        # decimal's own messages name only its signal classes ("[<class 'decimal.InvalidOperation'>]")
        return f"{type(failure).__name__}: a computed amount needs more digits than exact arithmetic keeps (28)"
    return f"{type(failure).__name__}: {failure}"


def _now() -> datetime:
    # Only when nothing has given the engine a time yet (every input so far refused): the refusal is
    # dated when it was seen, never at the epoch.
    return datetime.now(UTC).replace(microsecond=0)


def _micros(window: timedelta | None) -> int | None:
    return None if window is None else window // timedelta(microseconds=1)


def _stream_of(event: Event) -> str:
    return event.event_type.split(".", 1)[0]
