"""Access to the web service: the principal of a request, the roles each endpoint admits, masking.

The API takes a token in `Authorization: Bearer ...` only; pages take the session cookie the login page
sets (HttpOnly, SameSite=Strict; their forms also post a CSRF value). Without configured authentication
every request is the local operator: the service then listens on loopback only (`recon serve` refuses
otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from reconstream.models.cases import FULL_ACCOUNT_ROLES, Role
from reconstream.models.errors import ReconError
from reconstream.models.masking import mask_accounts

from ..auth import LOCAL_OPERATOR, Authenticator, AuthError, Principal

SESSION_COOKIE = "recon_session"

# Who reads what besides the case queues (each role's own queues: models/cases.py ROLE_QUEUES).
TREASURY_READERS = frozenset({Role.TREASURY_ANALYST, Role.AUDITOR, Role.ADMIN})
INVOICE_READERS = frozenset({Role.AP_CLERK, Role.TREASURY_ANALYST, Role.VENDOR_MASTER, Role.AUDITOR, Role.ADMIN})
METRICS_READERS = frozenset({Role.INTEGRATION_ENGINEER, Role.TREASURY_ANALYST, Role.AUDITOR, Role.ADMIN})
AUDIT_READERS = frozenset({Role.AUDITOR, Role.ADMIN})
EVERYONE = frozenset(Role)


class LoginRequired(ReconError):
    """A page asked for without a valid session: the handler sends the browser to the login form."""


# Declared so the OpenAPI document says how to authenticate; not auto-erroring, so the 401 is ours.
bearer_scheme = HTTPBearer(auto_error=False, description="an API key or an OIDC access token (JWT)")


def token_of(request: Request) -> str | None:
    """The page session's token: the cookie the login form set, or a bearer header."""
    return _bearer(request) or request.cookies.get(SESSION_COOKIE) or None


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _principal(request: Request, token: str | None) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    if not authenticator.configured:
        return LOCAL_OPERATOR
    if token is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    try:
        return authenticator.authenticate(token)
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None


def principal_of(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Principal:
    """The API's caller, by the bearer header only: a cookie never authorises an API call (no CSRF there)."""
    return _principal(request, credentials.credentials if credentials is not None else None)


def page_principal_of(request: Request) -> Principal:
    """A page's reader, by the session cookie (or a bearer header); without one, the login form."""
    try:
        return _principal(request, token_of(request))
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRequired from None
        raise


def admitting(roles: frozenset[Role], page: bool = False) -> Callable[..., Principal]:
    """A dependency that lets in the roles given and refuses the others with 403."""

    def api(principal: Annotated[Principal, Depends(principal_of)]) -> Principal:
        return _admitted(principal)

    def page_view(principal: Annotated[Principal, Depends(page_principal_of)]) -> Principal:
        return _admitted(principal)

    def _admitted(principal: Principal) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role.value} may not use this")
        return principal

    return page_view if page else api


def masked_for(principal: Principal, value: Any) -> Any:
    """`value` with every IBAN in its text masked, unless the role needs whole account numbers."""
    if principal.role in FULL_ACCOUNT_ROLES:
        return value
    return _mask(value)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_accounts(value)
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(item) for item in value]
    return value


# The principal of a request, as a parameter type: `principal: TreasuryReader` admits treasury's readers.
AnyReader = Annotated[Principal, Depends(admitting(EVERYONE))]
TreasuryReader = Annotated[Principal, Depends(admitting(TREASURY_READERS))]
InvoiceReader = Annotated[Principal, Depends(admitting(INVOICE_READERS))]
MetricsReader = Annotated[Principal, Depends(admitting(METRICS_READERS))]
AuditReader = Annotated[Principal, Depends(admitting(AUDIT_READERS))]
PageReader = Annotated[Principal, Depends(admitting(EVERYONE, page=True))]
TreasuryPageReader = Annotated[Principal, Depends(admitting(TREASURY_READERS, page=True))]
InvoicePageReader = Annotated[Principal, Depends(admitting(INVOICE_READERS, page=True))]
