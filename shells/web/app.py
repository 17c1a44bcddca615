"""The engine's small web service: Prometheus metrics, a JSON API (OpenAPI at /openapi.json, docs at /docs)
and server-rendered pages for treasury and for each owner queue. Read-only: it never changes a run."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from reconstream.models.base import iso
from reconstream.models.exceptions import Category, ExceptionStatus, OwnerQueue

from .schemas import CashPositions, ExceptionList, InFlightPayment, InvoiceTimeline
from .source import RunFolder, parse_time

TEMPLATES = Path(__file__).resolve().parent / "templates"
OWNER_TITLES = {
    OwnerQueue.AP.value: "Accounts payable",
    OwnerQueue.VENDOR_MASTER.value: "Vendor master data",
    OwnerQueue.TREASURY.value: "Treasury",
    OwnerQueue.INTEGRATION.value: "Integration",
}


def age_text(seconds: float | None) -> str:
    """'3d 4h', '5h 12m', '40m': what a queue owner reads at a glance."""
    if seconds is None:
        return "-"
    minutes = int(max(0.0, seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def age_seconds(as_of: datetime | None, since: str | None) -> float | None:
    start = parse_time(since)
    return (as_of - start).total_seconds() if as_of is not None and start is not None else None


def currency_totals(positions: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Per currency: the sums of the accounts, exact (Decimal), shown as decimal strings."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for position in positions:
        for field in ("booked_balance", "in_flight_outgoing", "projected_balance"):
            totals[position["currency"]][field] += Decimal(position.get(field, "0"))
    return [{"currency": currency, **{k: str(v) for k, v in sums.items()}} for currency, sums in sorted(totals.items())]


def create_app(folder: RunFolder, registry: CollectorRegistry | None = None) -> FastAPI:
    app = FastAPI(
        title="reconstream",
        summary="Reconciliation outputs: cash positions, exception queues, invoice timelines, metrics.",
        version="0.1.0",
    )
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals.update(age_text=age_text, iso=iso, owner_titles=OWNER_TITLES)
    metrics_registry = registry if registry is not None else CollectorRegistry()

    # -- metrics and the JSON API -------------------------------------------------------------------
    @app.get("/metrics", tags=["metrics"], response_class=Response, summary="Prometheus text exposition")
    def metrics() -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/cash-positions", tags=["treasury"], response_model=CashPositions)
    def cash_positions() -> dict[str, Any]:
        """Booked balance, outgoing payments in flight and projected balance per account and currency."""
        return folder.cash_positions()

    @app.get("/api/payments/in-flight", tags=["treasury"], response_model=list[InFlightPayment])
    def payments_in_flight() -> list[dict[str, Any]]:
        """Instructions sent to the bank and neither paid nor rejected yet, oldest first."""
        return folder.in_flight_payments()

    @app.get("/api/exceptions", tags=["exceptions"], response_model=ExceptionList)
    def exceptions(
        owner: OwnerQueue | None = None,
        category: Category | None = None,
        status: ExceptionStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The latest record of each exception, oldest first; filter by owner queue, category and status."""
        found = folder.exceptions(
            owner.value if owner else None, category.value if category else None, status.value if status else None
        )
        return {"as_of": folder.as_of, "total": len(found), "items": found[offset : offset + limit]}

    @app.get("/api/invoices/{invoice_id}", tags=["invoices"], response_model=InvoiceTimeline)
    def invoice(invoice_id: str) -> dict[str, Any]:
        """An invoice's whole life: status updates, exceptions and matches, with all that shares its correlation id."""
        return _timeline_or_404(folder, invoice_id)

    # -- pages ----------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "index.html", {"counts": folder.counts(), "as_of": folder.as_of, "owners": list(OWNER_TITLES)}
        )

    @app.get("/treasury", response_class=HTMLResponse, include_in_schema=False)
    def treasury(request: Request) -> HTMLResponse:
        cash = folder.cash_positions()
        as_of = folder.as_of
        positions = sorted(cash["positions"], key=lambda p: (p["account"], p["currency"]))
        payments = [
            {**payment, "age": age_seconds(as_of, payment["sent_at"])} for payment in folder.in_flight_payments()
        ]
        context = {"cash": cash, "positions": positions, "totals": currency_totals(positions), "payments": payments}
        return templates.TemplateResponse(request, "treasury.html", {**context, "as_of": as_of})

    @app.get("/queues/{owner}", response_class=HTMLResponse, include_in_schema=False)
    def queue(request: Request, owner: str) -> HTMLResponse:
        if owner not in OWNER_TITLES:
            raise HTTPException(404, f"no owner queue {owner!r}; one of {', '.join(OWNER_TITLES)}")
        as_of = folder.as_of
        rows = [
            {
                **record,
                "age": age_seconds(as_of, record["first_seen"]),
                "invoices": folder.known_invoices(record.get("refs") or []),
            }
            for record in folder.exceptions(owner=owner, status=ExceptionStatus.OPEN.value)
        ]
        return templates.TemplateResponse(request, "queue.html", {"owner": owner, "rows": rows, "as_of": as_of})

    @app.get("/invoices/{invoice_id}", response_class=HTMLResponse, include_in_schema=False)
    def invoice_page(request: Request, invoice_id: str) -> HTMLResponse:
        return templates.TemplateResponse(request, "invoice.html", _timeline_or_404(folder, invoice_id))

    return app


def _timeline_or_404(folder: RunFolder, invoice_id: str) -> dict[str, Any]:
    found = folder.timeline(invoice_id)
    if found is None:
        raise HTTPException(404, f"no invoice {invoice_id!r} in this run's outputs")
    correlation_ids, status, items = found
    return {
        "invoice_id": invoice_id,
        "correlation_ids": correlation_ids,
        "status": status,
        "timeline": [{"kind": item.kind, "at": item.at, "record": item.record} for item in items],
    }
