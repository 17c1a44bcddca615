"""The JSON API of the case store: queues with filters and search, a case with its timeline, actions one
at a time or in bulk, CSV export. Each role sees and acts on its own queues (models/cases.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from reconstream.matchers import cases as decide
from reconstream.models.base import iso
from reconstream.models.cases import ROLE_QUEUES, ActionKind, Actor, Case, CaseCommand, CaseStatus, may_see
from reconstream.models.exceptions import Category, OwnerQueue, Severity

from ..auth import Principal
from ..cases.store import CaseQuery, CaseStore
from .access import AnyReader, AuditReader, masked_for

EXPORT_LIMIT = 100_000  # rows in one CSV export
BULK_LIMIT = 5_000  # cases one bulk action may touch


class CaseView(BaseModel):
    exception_id: str
    category: Category
    owner_queue: OwnerQueue
    severity: Severity
    status: CaseStatus
    engine_status: str
    refs: list[str]
    reason: str
    amount: str | None = Field(description="decimal string in the currency's units")
    currency: str | None
    correlation_id: str | None
    company_code: str | None
    vendor_id: str | None
    vendor_name: str | None
    first_seen: datetime
    due_at: datetime
    overdue: bool = Field(description="open past its due time at `as_of`")
    snoozed: bool
    assignee: str | None
    snoozed_until: datetime | None
    resolution_code: str | None
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    version: int


class CaseList(BaseModel):
    as_of: datetime
    total: int
    limit: int
    offset: int
    items: list[CaseView]


class TimelineEntry(BaseModel):
    seq: int
    kind: ActionKind
    actor: str
    at: datetime
    note: str | None
    before: dict[str, Any]
    after: dict[str, Any]


class CaseDetail(BaseModel):
    case: CaseView
    timeline: list[TimelineEntry]


class CaseFilter(BaseModel):
    owner: OwnerQueue | None = None
    category: Category | None = None
    severity: Severity | None = None
    status: CaseStatus | None = None
    assignee: str | None = None
    company_code: str | None = Field(default=None, max_length=40)
    vendor: str | None = Field(default=None, max_length=200, description="a vendor id, or words of its name")
    older_than_hours: int | None = Field(default=None, ge=0)
    overdue: bool = False
    include_snoozed: bool = True
    search: str | None = Field(default=None, max_length=200)


class BulkAction(BaseModel):
    filter: CaseFilter
    command: CaseCommand


class BulkRefusal(BaseModel):
    exception_id: str
    code: str
    field: str
    message: str


class BulkResult(BaseModel):
    matched: int
    applied: int
    refused: list[BulkRefusal]


def filter_params(
    owner: OwnerQueue | Literal[""] | None = None,
    category: Category | Literal[""] | None = None,
    severity: Severity | Literal[""] | None = None,
    status: CaseStatus | Literal[""] | None = None,
    assignee: str | None = None,
    company_code: Annotated[str | None, Query(max_length=40)] = None,
    vendor: Annotated[str | None, Query(max_length=200)] = None,
    older_than_hours: Annotated[str | None, Query(pattern=r"^[0-9]{0,6}$", description="whole hours")] = None,
    overdue: bool = False,
    include_snoozed: bool = True,
    search: Annotated[str | None, Query(max_length=200)] = None,
) -> CaseFilter:
    """The filter of a query string; an empty field (a form's "any") filters nothing."""
    return CaseFilter(
        owner=owner or None,
        category=category or None,
        severity=severity or None,
        status=status or None,
        assignee=assignee or None,
        company_code=company_code or None,
        vendor=vendor or None,
        older_than_hours=int(older_than_hours) if older_than_hours else None,
        overdue=overdue,
        include_snoozed=include_snoozed,
        search=search or None,
    )


def query_of(found: CaseFilter, principal: Principal, now: datetime, limit: int, offset: int) -> CaseQuery:
    return CaseQuery(
        queues=frozenset(queue.value for queue in ROLE_QUEUES[principal.role]),
        owner=found.owner.value if found.owner else None,
        category=found.category.value if found.category else None,
        severity=found.severity.value if found.severity else None,
        status=found.status.value if found.status else None,
        assignee=found.assignee,
        company_code=found.company_code,
        vendor=found.vendor,
        first_seen_before=now - timedelta(hours=found.older_than_hours) if found.older_than_hours is not None else None,
        overdue_at=now if found.overdue else None,
        not_snoozed_at=None if found.include_snoozed else now,
        search=found.search,
        limit=limit,
        offset=offset,
    )


def case_view(case: Case, principal: Principal, now: datetime) -> CaseView:
    open_now = case.status is CaseStatus.OPEN
    return CaseView(
        exception_id=case.exception_id,
        category=case.category,
        owner_queue=case.owner_queue,
        severity=case.severity,
        status=case.status,
        engine_status=case.engine_status.value,
        refs=masked_for(principal, list(case.refs)),
        reason=masked_for(principal, case.reason),
        amount=str(case.amount) if case.amount is not None else None,
        currency=case.currency,
        correlation_id=case.correlation_id,
        company_code=case.company_code,
        vendor_id=case.vendor_id,
        vendor_name=masked_for(principal, case.vendor_name),
        first_seen=case.first_seen,
        due_at=case.due_at,
        overdue=open_now and case.due_at < now,
        snoozed=open_now and case.snoozed_until is not None and case.snoozed_until > now,
        assignee=case.assignee,
        snoozed_until=case.snoozed_until,
        resolution_code=case.resolution_code.value if case.resolution_code else None,
        resolution_note=masked_for(principal, case.resolution_note),
        resolved_by=case.resolved_by,
        resolved_at=case.resolved_at,
        version=case.version,
    )


def case_detail(store: CaseStore, case: Case, principal: Principal, now: datetime) -> CaseDetail:
    timeline = [
        TimelineEntry(
            seq=seq,
            kind=action.kind,
            actor=action.actor,
            at=action.at,
            note=masked_for(principal, action.note),
            before=masked_for(principal, action.before),
            after=masked_for(principal, action.after),
        )
        for seq, action in store.timeline(case.exception_id)
    ]
    return CaseDetail(case=case_view(case, principal, now), timeline=timeline)


def visible_case(store: CaseStore, exception_id: str, principal: Principal) -> Case:
    case = store.get(exception_id)
    if case is None:
        raise HTTPException(404, f"no case {exception_id!r}")
    if not may_see(principal.role, case.owner_queue):
        raise HTTPException(403, f"role {principal.role.value} may not see the {case.owner_queue.value} queue")
    return case


REFUSAL_STATUS = {decide.FORBIDDEN: 403, decide.CONFLICT: 409, decide.INVALID: 422, "not_found": 404}


def export_csv(views: list[CaseView]) -> bytes:
    columns = [
        "exception_id", "category", "owner_queue", "severity", "status", "first_seen", "due_at", "overdue",
        "amount", "currency", "company_code", "vendor_id", "vendor_name", "assignee", "reason", "refs",
        "correlation_id", "resolution_code", "resolved_by",
    ]  # fmt: skip
    rows = [
        {
            **{name: getattr(view, name) for name in columns},
            "category": view.category.value,
            "owner_queue": view.owner_queue.value,
            "severity": view.severity.value,
            "status": view.status.value,
            "first_seen": iso(view.first_seen),
            "due_at": iso(view.due_at),
            "refs": " ".join(view.refs),
        }
        for view in views
    ]
    frame = pl.DataFrame(rows, schema={name: pl.Boolean if name == "overdue" else pl.String for name in columns})
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def now_utc() -> datetime:
    return datetime.now(UTC)


def store_of(request: Request) -> CaseStore:
    store: CaseStore | None = request.app.state.case_store
    if store is None:
        raise HTTPException(503, "no case store is configured for this service")
    return store


def csv_response(store: CaseStore, found: CaseFilter, principal: Principal) -> Response:
    """The filtered view as a CSV download (up to EXPORT_LIMIT rows), IBANs masked as on the page."""
    now = now_utc()
    page = store.find(query_of(found, principal, now, EXPORT_LIMIT, 0))
    body = export_csv([case_view(case, principal, now) for case in page.cases])
    headers = {"Content-Disposition": 'attachment; filename="cases.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def cases_router() -> APIRouter:
    router = APIRouter(prefix="/api/cases", tags=["cases"])

    @router.get("", response_model=CaseList)
    def list_cases(
        request: Request,
        principal: AnyReader,
        found: Annotated[CaseFilter, Depends(filter_params)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> CaseList:
        """Cases of the queues the caller's role sees, oldest first, filtered and searched."""
        now = now_utc()
        page = store_of(request).find(query_of(found, principal, now, limit, offset))
        items = [case_view(case, principal, now) for case in page.cases]
        return CaseList(as_of=now, total=page.total, limit=limit, offset=offset, items=items)

    @router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    def export(
        request: Request,
        principal: AnyReader,
        found: Annotated[CaseFilter, Depends(filter_params)],
    ) -> Response:
        """The filtered view as CSV (up to 100,000 rows), IBANs masked as on the page."""
        return csv_response(store_of(request), found, principal)

    @router.get("/{exception_id}", response_model=CaseDetail)
    def get_case(request: Request, exception_id: str, principal: AnyReader) -> CaseDetail:
        """A case and its whole timeline: the engine's decisions and every person's action, oldest first."""
        store = store_of(request)
        return case_detail(store, visible_case(store, exception_id, principal), principal, now_utc())

    @router.post("/{exception_id}/actions", response_model=CaseDetail)
    def act(request: Request, exception_id: str, command: CaseCommand, principal: AnyReader) -> CaseDetail:
        """Assign, comment, snooze, resolve (with a reason code), reopen, or match an unmatched bank line by
        hand (`manually_matched` with `invoice_ids`: the next run of the engine applies it). `expected_version`
        guards against acting on a case someone changed meanwhile (409)."""
        store = store_of(request)
        visible_case(store, exception_id, principal)
        outcome = store.act(exception_id, command, actor_of(principal), now_utc())
        if isinstance(outcome, decide.Refusal):
            raise HTTPException(REFUSAL_STATUS.get(outcome.code, 422), f"{outcome.field}: {outcome.message}")
        return case_detail(store, outcome.case, principal, now_utc())

    @router.post("/bulk", response_model=BulkResult)
    def bulk(request: Request, action: BulkAction, principal: AnyReader) -> BulkResult:
        """One action on every case the filter finds in the caller's queues (at most 5,000), each on its own."""
        command = action.command.model_copy(update={"expected_version": None})
        return bulk_act(store_of(request), action.filter, command, principal, now_utc())

    return router


def actor_of(principal: Principal) -> Actor:
    return Actor(name=principal.name, role=principal.role)


def bulk_act(
    store: CaseStore, found: CaseFilter, command: CaseCommand, principal: Principal, now: datetime
) -> BulkResult:
    """`command` on every case `found` in the caller's queues (at most BULK_LIMIT), each in its own transaction."""
    if command.kind is ActionKind.MANUALLY_MATCHED:
        raise HTTPException(422, "kind: a manual match names the invoices of one bank line: act on its case")
    page = store.find(query_of(found, principal, now, BULK_LIMIT, 0))
    refused, applied = [], 0
    for case in page.cases:
        outcome = store.act(case.exception_id, command, actor_of(principal), now)
        if isinstance(outcome, decide.Refusal):
            refused.append(
                BulkRefusal(
                    exception_id=case.exception_id, code=outcome.code, field=outcome.field, message=outcome.message
                )
            )
        else:
            applied += 1
    return BulkResult(matched=page.total, applied=applied, refused=refused)


class AuditEntry(BaseModel):
    seq: int
    exception_id: str
    kind: ActionKind
    actor: str
    at: datetime
    note: str | None


class CaseAudit(BaseModel):
    verified: bool = Field(description="the timeline's hash chain holds from the first entry to the head")
    checked: int
    problem: str | None
    entries: list[AuditEntry] = Field(description="the newest entries, newest first")


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/api/audit", tags=["audit"])

    @router.get("/cases", response_model=CaseAudit)
    def case_audit(
        request: Request,
        principal: AuditReader,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> CaseAudit:
        """Every action on every case, engine's and people's, checked against its hash chain."""
        store = store_of(request)
        checked, problem = store.verify()
        entries = [
            AuditEntry(
                seq=seq,
                exception_id=action.exception_id,
                kind=action.kind,
                actor=action.actor,
                at=action.at,
                note=masked_for(principal, action.note),
            )
            for seq, action in store.latest_actions(limit)
        ]
        return CaseAudit(verified=problem is None, checked=checked, problem=problem, entries=entries)

    return router
