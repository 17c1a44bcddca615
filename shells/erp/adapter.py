"""The one shape every ERP adapter has: look an invoice up, post it. An adapter speaks one ERP's API and
nothing else: retries, limits, the breaker and the queue are the posting service's (shells/erp/service.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx
from reconstream.models.invoices import Invoice

from ..retrying import retry_after_seconds
from .errors import Cause, ErpUnavailable


@dataclass(frozen=True)
class ErpTarget:
    """One ERP instance: its kind, where it answers, and the credentials read from the environment or files
    the config names (never from the config itself). `options` holds what only one kind needs (a tenant)."""

    name: str
    kind: str
    base_url: str
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout_seconds: float = 10.0
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErpDocument:
    """What the ERP booked: its document number and fiscal year, the closed loop's answer to AP."""

    erp_system: str
    document_number: str
    fiscal_year: int


class ErpAdapter(ABC):
    kind: ClassVar[str]

    def __init__(self, target: ErpTarget, client: httpx.Client | None = None) -> None:
        self.target = target
        self.client = client or httpx.Client(
            base_url=target.base_url,
            timeout=target.timeout_seconds,
            headers={"User-Agent": "reconstream-erp-posting"},
        )

    @abstractmethod
    def find_posted(self, invoice: Invoice, sent_after: datetime | None = None) -> ErpDocument | None:
        """The document this invoice was already booked as, if the ERP has one: asked before a retry whose
        first attempt may have committed, so an invoice is never posted twice. `sent_after` is when the posting
        was first sent, no attempt older: an ERP looked up by key ignores it, one read as a log of answers
        (Infor's Acknowledges) reads no further back. Such an ERP also keeps its refusals: when one answers an
        attempt since `sent_after` and nothing was booked, ErpRejected is raised with the ERP's message."""

    @abstractmethod
    def post(self, invoice: Invoice) -> ErpDocument:
        """Book the invoice. Raises ErpRejected with the ERP's message when it refuses the document, and
        ErpUnavailable when there is no verdict."""

    def close(self) -> None:
        self.client.close()


def send(client: httpx.Client, method: str, url: str, *, writes: bool = False, **kwargs: Any) -> httpx.Response:
    """One HTTP exchange, with what no document can fix raised as ErpUnavailable: no answer, throttling,
    5xx and refused credentials. Other answers, success or a 4xx about the document, are returned for the
    adapter to read in its ERP's error shape. `writes` says the request may commit, so losing its answer
    leaves the outcome unknown."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ErpUnavailable(Cause.TIMEOUT, f"{method} {url}: no answer in time", maybe_committed=writes) from exc
    except httpx.TransportError as exc:
        raise ErpUnavailable(Cause.CONNECTION, f"{method} {url}: {type(exc).__name__}", maybe_committed=writes) from exc
    status = response.status_code
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        raise ErpUnavailable(Cause.THROTTLED, f"{method} {url}: HTTP 429", retry_after=retry_after)
    if status >= 500:
        raise ErpUnavailable(
            Cause.SERVER_ERROR,
            f"{method} {url}: HTTP {status}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status == 401:
        raise ErpUnavailable(Cause.AUTH, f"{method} {url}: HTTP 401, credentials refused")
    return response


def send_with_token(
    client: httpx.Client,
    method: str,
    url: str,
    token: Callable[[str | None], str],
    *,
    writes: bool = False,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """`send` with the bearer token an adapter's threads share: `token(None)` is the current one, and
    `token(refused)` one in place of a token the ERP refused (expired early, revoked). The call is sent once
    more, and only once: a 401 comes before the ERP does anything, so even a write cannot be doubled."""
    current = token(None)
    try:
        return send(client, method, url, writes=writes, headers=_bearer(headers, current), **kwargs)
    except ErpUnavailable as exc:
        if exc.cause is not Cause.AUTH:
            raise
    return send(client, method, url, writes=writes, headers=_bearer(headers, token(current)), **kwargs)


def _bearer(headers: Mapping[str, str] | None, token: str) -> dict[str, str]:
    return {**(headers or {}), "Authorization": f"Bearer {token}"}
