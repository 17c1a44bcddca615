"""Pages of the case store: log in, work a queue (filter, search, page, export, bulk action) and a case
(assign, comment, snooze, resolve, reopen; its timeline). Forms post with a CSRF value tied to the session."""

from __future__ import annotations

import hmac
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from reconstream.matchers import cases as decide
from reconstream.models.cases import ROLE_QUEUES, CaseCommand, CaseStatus, ResolutionCode, may_act
from reconstream.models.exceptions import Category, Severity

from ..auth import Authenticator, AuthError, Principal, csrf_value
from .access import SESSION_COOKIE, PageReader, token_of
from .cases_api import (
    CaseFilter,
    actor_of,
    bulk_act,
    case_detail,
    case_view,
    csv_response,
    filter_params,
    now_utc,
    query_of,
    store_of,
    visible_case,
)

PAGE_SIZE = 50
SESSION_HOURS = 8


def money(amount: str | None) -> str:
    """'1234567.5' -> '1,234,567.5': thousands separated, the decimals exactly as kept."""
    if amount is None:
        return ""
    try:
        return format(Decimal(amount), ",")
    except InvalidOperation:
        return amount


def path_segment(value: str) -> str:
    """An id as one segment of a link's path: every reserved character escaped, "/" too.

    A UBL invoice's id is vendor/number with the supplier's number as written ("RE 2026#17", "../0008",
    "Q1%20"): unescaped, a browser cuts the link at "#" or "?" and resolves "..", and the server decodes
    "%20". The routes of ids that may hold "/" take it back decoded with their path converter."""
    return quote(value, safe="")


def cases_pages(templates: Jinja2Templates) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates.env.filters["money"] = money

    def render(request: Request, name: str, principal: Principal, context: dict[str, Any]) -> HTMLResponse:
        token = token_of(request) or ""
        common = {"principal": principal, "csrf": csrf_value(token), "auth_on": _auth_on(request)}
        return templates.TemplateResponse(request, name, {**common, **context})

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, error: str | None = None) -> HTMLResponse:
        return templates.TemplateResponse(request, "login.html", {"error": error, "auth_on": _auth_on(request)})

    @router.post("/login")
    def login(request: Request, token: Annotated[str, Form(max_length=8192)]) -> Response:
        authenticator: Authenticator = request.app.state.authenticator
        try:
            authenticator.authenticate(token.strip())
        except AuthError as exc:
            return templates.TemplateResponse(
                request, "login.html", {"error": str(exc), "auth_on": True}, status_code=401
            )
        response = RedirectResponse("/cases", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token.strip(),
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/cases", response_class=HTMLResponse)
    def queue(
        request: Request,
        principal: PageReader,
        found: Annotated[CaseFilter, Depends(filter_params)],
        page: int = 1,
    ) -> HTMLResponse:
        now = now_utc()
        page = max(1, page)
        result = store_of(request).find(query_of(found, principal, now, PAGE_SIZE, (page - 1) * PAGE_SIZE))
        rows = [case_view(case, principal, now) for case in result.cases]
        filters = {
            k: v
            for k, v in found.model_dump(mode="json").items()
            if v not in (None, False, "") and k != "include_snoozed"
        }
        if not found.include_snoozed:
            filters["include_snoozed"] = "false"
        context = {
            "rows": rows,
            "total": result.total,
            "page": page,
            "pages": max(1, -(-result.total // PAGE_SIZE)),
            "filters": found,
            "query": urlencode(filters),
            "queues": sorted(q.value for q in ROLE_QUEUES[principal.role]),
            "categories": [c.value for c in Category],
            "severities": [s.value for s in Severity],
            "statuses": [s.value for s in CaseStatus],
            "resolution_codes": _person_codes(),
            "as_of": now,
            "may_act": any(may_act(principal.role, q) for q in ROLE_QUEUES[principal.role]),
        }
        return render(request, "cases.html", principal, context)

    @router.get("/cases/export.csv")
    def export(
        request: Request,
        principal: PageReader,
        found: Annotated[CaseFilter, Depends(filter_params)],
    ) -> Response:
        return csv_response(store_of(request), found, principal)

    @router.get("/cases/{exception_id}", response_class=HTMLResponse)
    def case_page(request: Request, exception_id: str, principal: PageReader) -> HTMLResponse:
        store, now = store_of(request), now_utc()
        detail = case_detail(store, visible_case(store, exception_id, principal), principal, now)
        context = {
            "detail": detail,
            "as_of": now,
            "may_act": may_act(principal.role, detail.case.owner_queue),
            "resolution_codes": _person_codes(),
            "error": request.query_params.get("error"),
        }
        return render(request, "case.html", principal, context)

    @router.post("/cases/{exception_id}/act")
    async def act_form(request: Request, exception_id: str, principal: PageReader) -> Response:
        form = await request.form()
        _check_csrf(request, str(form.get("csrf", "")))
        store = store_of(request)
        visible_case(store, exception_id, principal)
        try:
            command = _command_of({k: str(v) for k, v in form.items()})
        except ValidationError as exc:
            return _back(exception_id, _first_error(exc))
        outcome = store.act(exception_id, command, actor_of(principal), now_utc())
        if isinstance(outcome, decide.Refusal):
            if outcome.code == decide.FORBIDDEN:
                raise HTTPException(403, outcome.message)
            return _back(exception_id, f"{outcome.field}: {outcome.message}")
        return _back(exception_id, None)

    @router.post("/cases/bulk")
    async def bulk_form(request: Request, principal: PageReader) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        _check_csrf(request, form.get("csrf", ""))
        filters = {k[2:]: v for k, v in form.items() if k.startswith("f_") and v}
        try:
            found = CaseFilter.model_validate(filters)
            command = _command_of(form)
        except ValidationError as exc:
            raise HTTPException(422, _first_error(exc)) from None
        result = bulk_act(store_of(request), found, command, principal, now_utc())
        return RedirectResponse(f"/cases?{urlencode({**filters, 'bulk_applied': result.applied})}", status_code=303)

    return router


def _auth_on(request: Request) -> bool:
    return bool(request.app.state.authenticator.configured)


def _check_csrf(request: Request, posted: str) -> None:
    token = token_of(request)
    if token is None:
        if _auth_on(request):
            raise HTTPException(401, "log in first")
        token = ""
    if not hmac.compare_digest(posted, csrf_value(token)):
        raise HTTPException(403, "the form is stale or from another site: reload the page")


def _command_of(form: dict[str, str]) -> CaseCommand:
    fields: dict[str, Any] = {"kind": form.get("kind", "")}
    for name in ("note", "assignee", "resolution_code"):
        if form.get(name, "").strip():
            fields[name] = form[name].strip()
    if form.get("snoozed_until", "").strip():
        fields["snoozed_until"] = _form_time(form["snoozed_until"].strip())
    if form.get("expected_version", "").strip():
        fields["expected_version"] = form["expected_version"]
    if form.get("invoice_ids", "").strip():
        fields["invoice_ids"] = re.split(r"[\s,;]+", form["invoice_ids"].strip())
    return CaseCommand.model_validate(fields)


def _form_time(value: str) -> str:
    """A datetime-local field has no zone: it is read as UTC, which the page says next to the field."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the command's validation names it
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


def _back(exception_id: str, error: str | None) -> Response:
    query = f"?{urlencode({'error': error})}" if error else ""
    return RedirectResponse(f"/cases/{path_segment(exception_id)}{query}", status_code=303)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'form'}: {first['msg']}"


def _person_codes() -> list[str]:
    return [code.value for code in ResolutionCode if code is not ResolutionCode.RESOLVED_BY_ENGINE]
