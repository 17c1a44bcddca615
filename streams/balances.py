"""Balance stream: the bank's own figures (camt.052/053, MT940/942, BAI2) set and check the cash positions."""

from __future__ import annotations

from reconstream.models.events import BalanceReported

from . import cash
from .context import Context


def on_balance(event: BalanceReported, ctx: Context) -> None:
    cash.report(ctx, event.payload, event.event_time, event.correlation_id)
