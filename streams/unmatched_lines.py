"""Bank lines in treasury's review queue, kept for a person to match by hand (streams/manual_matches.py).

A line waits from the moment the rules left it unmatched until a manual match applies it or the
bank-entry window passes; after that a match naming it is refused, like one naming a line never seen.
"""

from __future__ import annotations

from datetime import timedelta

from reconstream.models.payments import Settlement
from reconstream.tables.timers import TimerKind

from .context import Context


def await_match(entry: Settlement, at_us: int, ctx: Context) -> None:
    ctx.state.unmatched_lines[entry.entry_id] = entry
    window = ctx.settings.bank_entry_window
    if window is not None:
        ctx.state.timers.schedule(
            at_us + window // timedelta(microseconds=1), TimerKind.UNMATCHED_EXPIRY, entry.entry_id
        )


def take(entry_id: str, ctx: Context) -> Settlement | None:
    """The waiting line, no longer waiting (matched, or its window passed); None if it was not waiting."""
    entry = ctx.state.unmatched_lines.get(entry_id)
    if entry is not None:
        del ctx.state.unmatched_lines[entry_id]
        ctx.state.timers.cancel(TimerKind.UNMATCHED_EXPIRY, entry_id)
    return entry
