"""The functional core's entry point: one event in, its outputs out. Both shells call only this."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from reconstream.models.base import from_micros, to_micros
from reconstream.models.events import Event, EventError
from reconstream.models.exceptions import Category, raise_exception
from reconstream.models.ids import stable_id
from reconstream.models.outputs import CashPosition, DeadLetter
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

    def process(self, event: Event, source: str = "") -> list[Output]:
        """Apply one valid event. An event id seen before changes nothing and emits nothing."""
        if event.event_id in self.state.seen_events:
            return []
        if event.event_type not in PEOPLES_DECISIONS:
            self._advance(to_micros(event.event_time))
        try:
            HANDLERS[event.event_type](event, self.ctx)
        except OrphanEvent as orphan:
            error = EventError(Category.SCHEMA_VIOLATION.value, orphan.field, orphan.reason, event.event_id)
            raw = event.model_dump_json().encode()
            self._dead_letter(error, source, _stream_of(event), raw, to_micros(event.event_time))
        self.state.seen_events.add(event.event_id, self.watermark_us)
        return self.ctx.drain()

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
            "dead_letters",
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
        at = from_micros(at_us) if at_us else self.watermark
        exception = raise_exception(
            Category(error.category),
            refs,
            f"{stream} input refused at {error.field}: {error.reason}",
            at,
            policy=self.ctx.settings.severity,
        )
        if exception.exception_id not in self.state.exceptions:
            self.state.exceptions[exception.exception_id] = exception
            self.ctx.emit("exceptions", exception)


def _micros(window: timedelta | None) -> int | None:
    return None if window is None else window // timedelta(microseconds=1)


def _stream_of(event: Event) -> str:
    return event.event_type.split(".", 1)[0]
