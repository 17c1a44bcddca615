"""The ERP's verdict as the event the engine reads: `invoice.status_changed`, posted with the document number
and fiscal year, posting_failed with the ERP's message, or posting_timed_out when no verdict came.

Its event time is the approval's plus the time the posting service took: the posting latency as measured,
on the engine's clock. A run that is behind the wall clock (a backlog, a replayed month) would otherwise jump
its clock forward to the wall's and fire every timer in between. It carries no ingest_time for the same reason:
the engine's skew check compares the two, and this event is dated on the engine's clock, not the wall's.

The id is fixed by posting and verdict, so an event delivered twice changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import orjson
from reconstream.models.base import iso
from reconstream.models.events import SCHEMA_VERSION
from reconstream.models.ids import stable_id
from reconstream.models.invoices import InvoiceStatus
from reconstream.models.outputs import PostingRequest

from .adapter import ErpDocument

SOURCE_SYSTEM = "erp-posting"


def outcome_event(
    request: PostingRequest,
    status: InvoiceStatus,
    erp: str,
    took_seconds: float,
    document: ErpDocument | None = None,
    error: str | None = None,
) -> bytes:
    payload: dict[str, object] = {"invoice_id": request.invoice_id, "status": status.value, "erp_system": erp}
    if document is not None:
        payload["erp_document_number"] = document.document_number
        payload["fiscal_year"] = document.fiscal_year
        payload["posting_date"] = request.invoice.invoice_date.isoformat()
    if error is not None:
        payload["error"] = error
    event = {
        "event_id": stable_id("erp", request.posting_id, status.value),
        "event_type": "invoice.status_changed",
        "schema_version": SCHEMA_VERSION,
        "source_system": f"{SOURCE_SYSTEM}:{erp}",
        "correlation_id": request.correlation_id,
        "event_time": iso(request.approved_at + timedelta(seconds=max(0.0, took_seconds))),
        "payload": payload,
    }
    if request.correlation_id is None:
        del event["correlation_id"]
    return orjson.dumps(event)
