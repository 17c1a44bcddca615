"""The engine's web service: Prometheus metrics, a JSON API (OpenAPI at /openapi.json, docs at /docs, served
without a CDN), server-rendered pages for treasury, invoices and the case queues where people work
exceptions. It never changes a run; people's actions change the case store only."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from reconstream.models.base import iso
from reconstream.models.cases import ROLE_QUEUES, may_see
from reconstream.models.exceptions import Category, ExceptionStatus, OwnerQueue
from swagger_ui_bundle import swagger_ui_path

from ..auth import Authenticator
from ..cases.store import CaseStore
from .access import (
    AnyReader,
    InvoicePageReader,
    InvoiceReader,
    LoginRequired,
    MetricsReader,
    PageReader,
    TreasuryPageReader,
    TreasuryReader,
    masked_for,
)
from .case_metrics import CaseQueueMetrics
from .cases_api import audit_router, cases_router
from .cases_pages import cases_pages, path_segment
from .headers import CSP, SecuredApp, docs_policy, inline_sources, page_policy
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


def create_app(
    folder: RunFolder,
    registry: CollectorRegistry | None = None,
    case_store: CaseStore | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals.update(age_text=age_text, iso=iso, owner_titles=OWNER_TITLES)
    templates.env.filters["segment"] = path_segment
    # Every page extends base.html, whose <style> block is static: its hash is the only style allowed.
    base_page, _, _ = templates.env.loader.get_source(templates.env, "base.html")  # type: ignore[union-attr]
    app = SecuredApp(
        page_policy(inline_sources(base_page, "style")),
        title="reconstream",
        summary="Reconciliation outputs and the cases people work: cash positions, exception cases, invoice "
        "timelines, the audit of every action, metrics.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
    )
    app.state.case_store = case_store
    app.state.authenticator = authenticator or Authenticator()
    metrics_registry = registry if registry is not None else CollectorRegistry()
    # The cases' gauges in a registry of their own: a run's registry may serve several apps (tests, a
    # restarted server), and a collector can be registered in one registry once.
    case_registry = CollectorRegistry()
    if case_store is not None:
        case_registry.register(CaseQueueMetrics(case_store))

    @app.exception_handler(LoginRequired)
    def to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    # -- health, docs -----------------------------------------------------------------------------------
    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def ready() -> Response:
        """Ready to serve: the case store (when configured) answers with its newest schema."""
        problem = case_store.ready() if case_store is not None else None
        body = {"status": "ok" if problem is None else "unavailable", "case_store": problem or "ok"}
        if case_store is None:
            body["case_store"] = "not configured"
        return JSONResponse(body, status_code=200 if problem is None else 503)

    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")
    # Swagger UI from the swagger-ui-bundle package, served here: the page needs no CDN. The page is the same
    # on every call, so its inline start-up script is hashed once.
    docs_page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="reconstream API",
        swagger_js_url="/docs-static/swagger-ui-bundle.js",
        swagger_css_url="/docs-static/swagger-ui.css",
        swagger_favicon_url="/docs-static/favicon-32x32.png",
    ).body
    docs_headers = {CSP: docs_policy(inline_sources(bytes(docs_page).decode(), "script"))}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page, headers=docs_headers)

    # -- metrics and the JSON API -------------------------------------------------------------------
    @app.get("/metrics", tags=["metrics"], response_class=Response, summary="Prometheus text exposition")
    def metrics(principal: MetricsReader) -> Response:
        body = generate_latest(metrics_registry) + generate_latest(case_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/cash-positions", tags=["treasury"], response_model=CashPositions)
    def cash_positions(principal: TreasuryReader) -> dict[str, Any]:
        """Booked balance, outgoing payments in flight and projected balance per account and currency."""
        return folder.cash_positions()

    @app.get("/api/payments/in-flight", tags=["treasury"], response_model=list[InFlightPayment])
    def payments_in_flight(principal: TreasuryReader) -> list[dict[str, Any]]:
        """Instructions sent to the bank and neither paid nor rejected yet, oldest first."""
        return folder.in_flight_payments()

    @app.get("/api/exceptions", tags=["exceptions"], response_model=ExceptionList)
    def exceptions(
        principal: AnyReader,
        owner: OwnerQueue | None = None,
        category: Category | None = None,
        status: ExceptionStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The latest record of each exception of the caller's queues, oldest first, as the run wrote them;
        filter by owner queue, category and status. The worked cases are under /api/cases."""
        if owner is not None and not may_see(principal.role, owner):
            raise HTTPException(403, f"role {principal.role.value} may not see the {owner.value} queue")
        visible = {queue.value for queue in ROLE_QUEUES[principal.role]}
        found = [
            record
            for record in folder.exceptions(
                owner.value if owner else None, category.value if category else None, status.value if status else None
            )
            if record["owner_queue"] in visible
        ]
        items = masked_for(principal, found[offset : offset + limit])
        return {"as_of": folder.as_of, "total": len(found), "items": items}

    @app.get("/api/invoices/{invoice_id:path}", tags=["invoices"], response_model=InvoiceTimeline)
    def invoice(invoice_id: str, principal: InvoiceReader) -> dict[str, Any]:
        """An invoice's whole life: status updates, exceptions and matches, with all that shares its correlation id."""
        return masked_for(principal, _timeline_or_404(folder, invoice_id))

    app.include_router(cases_router())
    app.include_router(audit_router())
    app.include_router(cases_pages(templates))

    # -- pages ----------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request, principal: PageReader) -> HTMLResponse:
        visible = [owner for owner in OWNER_TITLES if may_see(principal.role, OwnerQueue(owner))]
        return templates.TemplateResponse(
            request,
            "index.html",
            {"counts": folder.counts(), "as_of": folder.as_of, "owners": visible, "principal": principal},
        )

    @app.get("/treasury", response_class=HTMLResponse, include_in_schema=False)
    def treasury(request: Request, principal: TreasuryPageReader) -> HTMLResponse:
        cash = folder.cash_positions()
        as_of = folder.as_of
        positions = sorted(cash["positions"], key=lambda p: (p["account"], p["currency"]))
        payments = [
            {**payment, "age": age_seconds(as_of, payment["sent_at"])} for payment in folder.in_flight_payments()
        ]
        context = {"cash": cash, "positions": positions, "totals": currency_totals(positions), "payments": payments}
        return templates.TemplateResponse(request, "treasury.html", {**context, "as_of": as_of})

    @app.get("/queues/{owner}", response_class=HTMLResponse, include_in_schema=False)
    def queue(request: Request, owner: str, principal: PageReader) -> Response:
        if owner not in OWNER_TITLES:
            raise HTTPException(404, f"no owner queue {owner!r}; one of {', '.join(OWNER_TITLES)}")
        if not may_see(principal.role, OwnerQueue(owner)):
            raise HTTPException(403, f"role {principal.role.value} may not see the {owner} queue")
        if case_store is not None:  # the queue is worked as cases: the run's files are only what it raised
            return RedirectResponse(f"/cases?owner={owner}&status=open", status_code=303)
        as_of = folder.as_of
        rows = [
            {
                **masked_for(principal, record),
                "age": age_seconds(as_of, record["first_seen"]),
                "invoices": folder.known_invoices(record.get("refs") or []),
            }
            for record in folder.exceptions(owner=owner, status=ExceptionStatus.OPEN.value)
        ]
        return templates.TemplateResponse(request, "queue.html", {"owner": owner, "rows": rows, "as_of": as_of})

    @app.get("/invoices/{invoice_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def invoice_page(request: Request, invoice_id: str, principal: InvoicePageReader) -> HTMLResponse:
        context = masked_for(principal, _timeline_or_404(folder, invoice_id))
        return templates.TemplateResponse(request, "invoice.html", {**context, "principal": principal})

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
