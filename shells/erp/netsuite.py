"""Oracle NetSuite: a supplier invoice posted as a vendor bill (a credit note as a vendor credit) through the
SuiteTalk REST record service, idempotently by external id.

What this client speaks, and where it comes from:
- Records: `PUT /services/rest/record/v1/vendorBill/eid:{externalId}` inserts or updates the record keyed by
  the external id (the upsert operation) and answers 204 No Content with the record's URL, internal id last, in
  `Location`; `GET .../vendorBill/eid:{externalId}` reads it back or answers 404. The same for `vendorCredit`.
  Field names from the NetSuite REST Record API OpenAPI document (uptick/pynetsuite `netsuite-oas.json`, schema
  `vendorBill`, `vendorBill-expenseElement`, `nsResource`, `nsError`) and the REST API Browser (vendorCredit);
  the upsert from "Using the Upsert Operation" and "Using External IDs" in the NetSuite Help Center.
- Auth: OAuth 2.0 client credentials (machine to machine): a JWT client assertion signed with the integration
  certificate's private key (header `kid` = certificate id, alg PS256 or ES256; claims `iss` = client id,
  `scope`, `aud` = the token URL, `iat`, `exp` at most an hour on) exchanged at
  `POST /services/rest/auth/oauth2/v1/token` for a bearer access token valid 60 minutes ("OAuth 2.0 Client
  Credentials Flow", "The Request Token Structure").
- Errors: RFC 9457 problem details with NetSuite's `o:errorDetails[].detail` / `o:errorCode` / `o:errorPath`
  ("Error Handling in REST Web Services"); the concurrency governance limit is answered 429.

Accounting: the invoice's lines post to the expense sublist on the GL account named by the target option
`expense_account`, and the tax amount as one more expense line on `tax_account`, so the bill's total is the
invoice's gross amount whichever tax engine the account runs (the REST record of a legacy-tax or SuiteTax
account differs, an expense line on a tax account does not).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from reconstream.models.invoices import DocumentType, Invoice

from .adapter import ErpAdapter, ErpDocument, ErpTarget, send, send_with_token
from .errors import Cause, ErpRejected, ErpUnavailable
from .exact_json import exact_json

RECORD_PATH = "/services/rest/record/v1"
TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"  # noqa: S105 - a URL path, not a secret
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
VENDOR_BILL = "vendorBill"
VENDOR_CREDIT = "vendorCredit"
RECORD_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=singular"

ASSERTION_LIFETIME_SECONDS = 300  # NetSuite allows up to 3600; a short one limits what a leaked assertion opens
TOKEN_REFRESH_MARGIN_SECONDS = 60  # fetch a new access token this long before the old one runs out
SCOPES = ("rest_webservices",)


def netsuite_json(document: Any) -> bytes:
    """NetSuite's amount fields are JSON numbers (`type: number` in the OAS): each Decimal written exactly."""
    return exact_json(document)


def record_type(invoice: Invoice) -> str:
    """A credit note is a vendor credit in NetSuite, its own transaction record, not a negative bill."""
    return VENDOR_CREDIT if invoice.document_type is DocumentType.CREDIT_NOTE else VENDOR_BILL


def record_url(invoice: Invoice) -> str:
    # The external id goes in the path: quote everything, so an AP id with '/' or '?' stays one segment.
    return f"{RECORD_PATH}/{record_type(invoice)}/eid:{quote(invoice.invoice_id, safe='')}"


def transaction_body(invoice: Invoice, accounts: GlAccounts, currency: Mapping[str, str]) -> dict[str, Any]:
    """The vendorBill / vendorCredit body: who, which subsidiary, the supplier's number, the dates and the
    expense lines whose amounts add up to the gross amount."""
    body: dict[str, Any] = {
        "externalId": invoice.invoice_id,
        "entity": {"id": invoice.vendor_id},
        "subsidiary": {"id": invoice.company_code},
        "tranId": invoice.supplier_invoice_number,
        "tranDate": invoice.invoice_date.isoformat(),
        "currency": dict(currency),
        "expense": {"items": expense_lines(invoice, accounts)},
    }
    # A vendor credit has no due date: it is applied to bills, not paid.
    if invoice.due_date is not None and record_type(invoice) == VENDOR_BILL:
        body["dueDate"] = invoice.due_date.isoformat()
    if invoice.po_number:
        body["memo"] = f"PO {invoice.po_number}"
    return body


def expense_lines(invoice: Invoice, accounts: GlAccounts) -> list[dict[str, Any]]:
    """One expense line per invoice line (or one for the net amount), and the tax on the tax account."""
    lines: list[dict[str, Any]] = [
        {"account": {"id": accounts.expense}, "amount": line.net_amount, "memo": line.description or None}
        for line in invoice.lines
    ] or [{"account": {"id": accounts.expense}, "amount": invoice.net_amount}]
    if invoice.tax_amount:
        lines.append({"account": {"id": accounts.tax}, "amount": invoice.tax_amount, "memo": "Tax"})
    return [{name: value for name, value in line.items() if value is not None} for line in lines]


@dataclass(frozen=True)
class GlAccounts:
    """The internal ids of the GL accounts the expense and tax lines post to (target options)."""

    expense: str
    tax: str


class NetSuiteAdapter(ErpAdapter):
    kind: ClassVar[str] = "netsuite"

    def __init__(self, target: ErpTarget, client: httpx.Client | None = None) -> None:
        super().__init__(target, client)
        credentials = target.credentials
        missing = [name for name in ("client_id", "certificate_id", "private_key") if not credentials.get(name)]
        if missing:
            raise ValueError(f"NetSuite target {target.name}: credentials lack {', '.join(missing)}")
        options = target.options
        if not options.get("expense_account") or not options.get("tax_account"):
            raise ValueError(f"NetSuite target {target.name}: options need expense_account and tax_account")
        self.accounts = GlAccounts(options["expense_account"], options["tax_account"])
        self._client_id = credentials["client_id"]
        self._certificate_id = credentials["certificate_id"]
        self._signing_key, self._algorithm = _signing_key(credentials["private_key"], options.get("jwt_algorithm"))
        self._token_url = target.base_url.rstrip("/") + TOKEN_PATH
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires_at = 0.0

    # -- the two operations ---------------------------------------------------------------------------------
    def find_posted(self, invoice: Invoice, sent_after: datetime | None = None) -> ErpDocument | None:
        response = self._call("GET", record_url(invoice), writes=False, headers={"Accept": "application/json"})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._rejection(response)
        try:
            record = response.json()
            internal_id = str(record["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ErpUnavailable(Cause.SERVER_ERROR, "NetSuite answered the record read without its id") from exc
        return ErpDocument(self.target.name, internal_id, _fiscal_year(record, invoice))

    def post(self, invoice: Invoice) -> ErpDocument:
        # An upsert on a bill already there would overwrite what AP or an approver changed in NetSuite since:
        # look first, and only write what is not there. The external id keeps a race of two writers to one record.
        existing = self.find_posted(invoice)
        if existing is not None:
            return existing
        body = transaction_body(invoice, self.accounts, self._currency(invoice.currency))
        response = self._call(
            "PUT",
            record_url(invoice),
            writes=True,
            content=netsuite_json(body),
            headers={
                "Content-Type": RECORD_MEDIA_TYPE,
                # A misspelt field is refused, not silently dropped (NetSuite's default is a warning).
                "X-NetSuite-PropertyNameValidation": "Error",
                "X-NetSuite-PropertyValueValidation": "Error",
            },
        )
        if response.status_code not in (200, 204):
            raise self._rejection(response)
        internal_id = _internal_id(response.headers.get("Location"))
        if internal_id is None:  # no Location: read the record the upsert wrote
            document = self.find_posted(invoice)
            if document is None:
                raise ErpUnavailable(
                    Cause.SERVER_ERROR, "NetSuite answered the upsert but has no record", maybe_committed=True
                )
            return document
        return ErpDocument(self.target.name, internal_id, invoice.invoice_date.year)

    # -- HTTP with the bearer token -------------------------------------------------------------------------
    def _call(self, method: str, url: str, *, writes: bool, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        """One record call with a valid access token; a token NetSuite refuses (expired early, revoked) is
        replaced once. A 401 means nothing was written, so the write may be sent again."""
        return send_with_token(self.client, method, url, self._access_token, writes=writes, headers=headers, **kwargs)

    def _access_token(self, refused: str | None = None) -> str:
        """The shared access token, fetched by one thread at a time; `refused` is the token NetSuite just
        turned down, dropped unless another thread already replaced it."""
        with self._token_lock:
            if refused is not None and self._token == refused:
                self._token = None
            if self._token is None or time.time() >= self._token_expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
                self._token, lifetime = self._fetch_token()
                self._token_expires_at = time.time() + lifetime
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self._client_assertion(),
        }
        response = send(self.client, "POST", TOKEN_PATH, data=form, headers={"Accept": "application/json"})
        if response.status_code != 200:
            # The OAuth error code only (RFC 6749 5.2): the assertion itself is a credential and is not repeated.
            raise ErpUnavailable(Cause.AUTH, f"NetSuite token endpoint refused the client: {_oauth_error(response)}")
        try:
            answer = response.json()
            return str(answer["access_token"]), float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise ErpUnavailable(Cause.AUTH, "NetSuite token endpoint answered without an access token") from exc

    def _client_assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self._client_id,
            "scope": list(SCOPES),
            "aud": self._token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        headers = {"kid": self._certificate_id, "typ": "JWT"}
        return jwt.encode(claims, self._signing_key, algorithm=self._algorithm, headers=headers)

    # -- reading NetSuite's answers -------------------------------------------------------------------------
    def _currency(self, code: str) -> dict[str, str]:
        """The currency reference: its internal id when the target maps it (option `currency.EUR`), else by
        name, which is the ISO code in accounts that keep NetSuite's default currency names."""
        internal_id = self.target.options.get(f"currency.{code}")
        return {"id": internal_id} if internal_id else {"refName": code}

    def _rejection(self, response: httpx.Response) -> ErpRejected:
        details, code = _error_details(response)
        return ErpRejected(details, response.status_code, code)


def _signing_key(pem: str, algorithm: str | None) -> tuple[Any, str]:
    """The certificate's private key and the JWT algorithm NetSuite accepts for it (PS256 for RSA, ES256 for
    EC P-256, or the one the target names)."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("NetSuite private_key is not an unencrypted PEM private key") from exc  # never the key
    if algorithm:
        return key, algorithm
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "PS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key, {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES256")
    raise ValueError("NetSuite private_key must be an RSA or EC key")


def _internal_id(location: str | None) -> str | None:
    """The record's internal id, the last segment of the upsert's Location (…/vendorBill/1234)."""
    if not location:
        return None
    last = location.rstrip("/").rsplit("/", 1)[-1]
    return last if last.isdigit() else None


def _fiscal_year(record: Mapping[str, Any], invoice: Invoice) -> int:
    tran_date = record.get("tranDate")
    if isinstance(tran_date, str) and len(tran_date) >= 4 and tran_date[:4].isdigit():
        return int(tran_date[:4])
    return invoice.invoice_date.year


def _error_details(response: httpx.Response) -> tuple[str, str | None]:
    """NetSuite's own words: every `o:errorDetails[].detail`, and the first `o:errorCode`."""
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}", None
    details = problem.get("o:errorDetails") if isinstance(problem, dict) else None
    if not isinstance(details, list) or not details:
        title = problem.get("title") if isinstance(problem, dict) else None
        return str(title or f"HTTP {response.status_code}"), None
    words = [str(item.get("detail", "")) for item in details if isinstance(item, dict)]
    codes = [item.get("o:errorCode") for item in details if isinstance(item, dict) and item.get("o:errorCode")]
    return "; ".join(word for word in words if word) or f"HTTP {response.status_code}", codes[0] if codes else None


def _oauth_error(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    error = answer.get("error") if isinstance(answer, dict) else None
    return f"HTTP {response.status_code} {error}" if isinstance(error, str) else f"HTTP {response.status_code}"
