"""Invoice streams: validation before posting, and the closed loop with the ERP."""

from __future__ import annotations

from datetime import datetime

from reconstream.matchers import duplicates, three_way, vendors
from reconstream.matchers.findings import Finding
from reconstream.models.base import first_difference, to_micros
from reconstream.models.events import InvoiceCaptured, InvoiceStatusChanged
from reconstream.models.exceptions import Category
from reconstream.models.invoices import Invoice, InvoiceStatus
from reconstream.models.outputs import ApStatus
from reconstream.tables.index import file_under, filed_under
from reconstream.tables.records import InvoiceStage, InvoiceState
from reconstream.tables.timers import TimerKind

from . import payment_index, settlements
from .context import Context
from .errors import OrphanEvent


def validate_invoice(invoice: Invoice, duplicate_keys: list[str], ctx: Context) -> list[Finding]:
    """Every check that must pass before an invoice may be posted; each failure is its own finding."""
    state = ctx.state
    findings: list[Finding | None] = [vendors.check_vendor(invoice, state.vendors.get(invoice.vendor_id))]
    if invoice.po_number is not None:
        findings.append(
            three_way.three_way_match(
                invoice,
                state.purchase_orders.get(invoice.po_number),
                state.received_goods.get(invoice.po_number),
                ctx.settings.amount_tolerance,
            )
        )
    findings.append(earlier_copy(invoice, duplicate_keys, ctx))
    return [finding for finding in findings if finding is not None]


def supplier_identity(vendor_id: str, ctx: Context) -> duplicates.SupplierIdentity:
    vendor = ctx.state.vendors.get(vendor_id)
    return duplicates.SupplierIdentity.of(vendor) if vendor is not None else duplicates.SupplierIdentity(vendor_id)


def earlier_copy(invoice: Invoice, keys: list[str], ctx: Context) -> Finding | None:
    """Both duplicate tiers over the invoices the blocking keys select: never a scan of all invoices."""
    candidates: dict[str, Invoice] = {}
    for key in keys:
        for invoice_id in filed_under(ctx.state.invoice_index, key):
            earlier = None if invoice_id in candidates else ctx.state.invoices.get(invoice_id)
            if earlier is not None:
                candidates[invoice_id] = earlier.invoice
    if not candidates:
        return None
    vendor_ids = {invoice.vendor_id, *(candidate.vendor_id for candidate in candidates.values())}
    identities = {vendor_id: supplier_identity(vendor_id, ctx) for vendor_id in vendor_ids}
    decision = duplicates.check_duplicate(invoice, candidates.values(), identities, ctx.settings.duplicate_policy)
    return decision.finding() if decision is not None else None


def on_invoice(event: InvoiceCaptured, ctx: Context) -> None:
    invoice = event.payload
    known = ctx.state.invoices.get(invoice.invoice_id)
    if known is not None:
        # The AP id is the document's idempotency key: the same capture again changes nothing, and a capture
        # that says something else is refused with both versions named, never silently ignored.
        if known.invoice != invoice:
            field, before, after = first_difference(known.invoice, invoice)
            raise OrphanEvent(
                f"payload.{field}",
                f"invoice {invoice.invoice_id!r} was captured before with {field} {before}; this capture says "
                f"{after}: refused, the first version stands (a change is a new invoice id or a credit note)",
            )
        return
    keys = duplicates.duplicate_keys(invoice, supplier_identity(invoice.vendor_id, ctx))
    findings = validate_invoice(invoice, keys, ctx)
    for finding in findings:
        ctx.raise_finding(finding, event.event_time, event.correlation_id)
    stage = InvoiceStage.ON_HOLD if findings else InvoiceStage.VALIDATED
    ctx.state.invoices[invoice.invoice_id] = InvoiceState(
        invoice=invoice, correlation_id=event.correlation_id, stage=stage, captured_at=event.event_time
    )
    file_under(ctx.state.invoice_index, keys, invoice.invoice_id)
    payment_index.add_unposted(invoice, ctx)  # a bank line may pay it before the ERP posts it
    ctx.status_update(
        invoice.invoice_id,
        event.correlation_id,
        ApStatus.ON_HOLD if findings else ApStatus.VALIDATED,
        event.event_time,
        detail="; ".join(f"{f.category}: {f.reason}" for f in findings) or None,
    )


def on_invoice_status(event: InvoiceStatusChanged, ctx: Context) -> None:
    change = event.payload
    state = ctx.state.invoices.get(change.invoice_id)
    if state is None:
        raise OrphanEvent("payload.invoice_id", f"no invoice {change.invoice_id!r} has been captured")
    at = event.event_time
    timers = ctx.state.timers
    if change.status is InvoiceStatus.APPROVED:
        clean = state.stage is InvoiceStage.VALIDATED
        state = state.model_copy(update={"stage": InvoiceStage.APPROVED, "approved_at": at})
        timers.schedule(to_micros(at + ctx.settings.posting_sla), TimerKind.POSTING, change.invoice_id)
        ctx.status_update(change.invoice_id, state.correlation_id, ApStatus.APPROVED, at)
        if clean:  # an invoice on hold waits for its exceptions to be worked, not for the ERP
            ctx.request_posting(state.invoice, state.correlation_id, at)
    elif change.status is InvoiceStatus.POSTED:
        state = state.model_copy(
            update={
                "stage": InvoiceStage.BOOKED,
                "posted_at": at,
                "erp_system": change.erp_system,
                "erp_document_number": change.erp_document_number,
                "fiscal_year": change.fiscal_year,
            }
        )
        timers.cancel(TimerKind.POSTING, change.invoice_id)
        payment_index.remove_unposted(state.invoice, ctx)
        payment_index.add_invoice(state, ctx)  # booked: payable, so a bank line may pay it
        ctx.resolve(Category.ERP_TIMEOUT, change.invoice_id, at, f"posted as {change.erp_document_number}")
        ctx.resolve(Category.ERP_POSTING_FAILED, change.invoice_id, at, f"posted as {change.erp_document_number}")
        ctx.status_update(
            change.invoice_id,
            state.correlation_id,
            ApStatus.BOOKED,
            at,
            erp_document_number=change.erp_document_number,
            fiscal_year=change.fiscal_year,
        )
    elif change.status is InvoiceStatus.POSTING_FAILED:
        state = state.model_copy(update={"stage": InvoiceStage.POSTING_FAILED})
        timers.cancel(TimerKind.POSTING, change.invoice_id)
        reason = f"{change.erp_system or 'ERP'} refused the posting: {change.error or 'no reason given'}"
        _erp_finding(Category.ERP_POSTING_FAILED, state, reason, at, ctx)
        ctx.status_update(change.invoice_id, state.correlation_id, ApStatus.POSTING_FAILED, at, detail=change.error)
    elif change.status is InvoiceStatus.POSTING_TIMED_OUT:
        # No verdict: the ERP may hold the document. The invoice stays approved (a bank line naming it is still
        # held for its posting) and integration checks the ERP; a posted status later resolves this.
        timers.cancel(TimerKind.POSTING, change.invoice_id)
        reason = f"{change.erp_system or 'the ERP'} gave no verdict on the posting: {change.error or 'no reason given'}"
        _erp_finding(Category.ERP_TIMEOUT, state, reason, at, ctx)
    else:
        state = state.model_copy(update={"stage": InvoiceStage.REJECTED})
        timers.cancel(TimerKind.POSTING, change.invoice_id)
        ctx.status_update(change.invoice_id, state.correlation_id, ApStatus.REJECTED, at, detail=change.error)
    ctx.state.invoices[change.invoice_id] = state
    if change.status is InvoiceStatus.POSTED:
        settlements.release(change.invoice_id, at, state.correlation_id, ctx)


def _erp_finding(category: Category, state: InvoiceState, reason: str, at: datetime, ctx: Context) -> None:
    """An ERP outcome on the invoice as an exception for integration, for the invoice's gross amount."""
    invoice = state.invoice
    finding = Finding(category, (invoice.invoice_id,), reason, invoice.gross_amount, invoice.currency)
    ctx.raise_finding(finding, at, state.correlation_id)
