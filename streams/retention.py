"""Paid invoices leave the state a retention window after they were paid: the largest table stays bounded.

Until then a paid invoice is what a later copy of it is found against (duplicate detection), what a
returned payment reopens, and what the pages show. After it, a copy of the invoice captured again is no
longer recognised as a duplicate, and a status event for it is dead-lettered as naming an unknown
invoice: the window is set longer than both (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime

from reconstream.matchers import duplicates
from reconstream.models.base import to_micros
from reconstream.tables.index import unfile
from reconstream.tables.records import InvoiceStage
from reconstream.tables.timers import TimerKind

from . import invoices
from .context import Context


def paid(invoice_id: str, at: datetime, ctx: Context) -> None:
    """An invoice was paid in full at `at`: it retires a window later, unless a return reopens it."""
    retention = ctx.settings.paid_invoice_retention
    if retention is not None:
        ctx.state.timers.schedule(to_micros(at + retention), TimerKind.RETIRE, invoice_id)


def retire(invoice_id: str, ctx: Context) -> None:
    state = ctx.state.invoices.get(invoice_id)
    if state is None or state.stage is not InvoiceStage.PAID:
        return  # reopened by a return since (it retires after its next payment), or gone
    invoice = state.invoice
    # Unfiled under the keys of the vendor as it is now; keys a change of the vendor left behind are
    # skipped at lookup like any that names an invoice no longer in the state.
    keys = duplicates.duplicate_keys(invoice, invoices.supplier_identity(invoice.vendor_id, ctx))
    unfile(ctx.state.invoice_index, keys, invoice_id)
    del ctx.state.invoices[invoice_id]
