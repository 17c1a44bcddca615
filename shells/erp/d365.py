"""Dynamics 365 Finance & Operations: a vendor invoice becomes a pending vendor invoice through the OData v4
data entities `VendorInvoiceHeaders` and `VendorInvoiceLines`, created together in one `$batch` change set.

Specs followed (MicrosoftDocs/dynamics-365-unified-operations-public, CC-BY-4.0, and microsoft/CDM, CC-BY-4.0):
- data-entities/entity-vendor-invoice-header-vendorinvoiceheader.md and entity-vendor-invoice-line-vendorinvoiceline.md:
  the entities, their public collections and fields; the CDM definitions VendorInvoiceHeaderEntity.cdm.json and
  VendorInvoiceLineEntity.cdm.json (schemaDocuments/core/operationsCommon/Entities/Finance/AccountsPayable/) for the
  full property lists. The lines are keyed to their header by `HeaderReference`, which the ERP's number sequence
  assigns: the lines are posted to `$1/VendorInvoiceLines`, the header's Content-ID, so one change set holds both.
- data-entities/odata.md: the `/data/` service root, `$batch` with one change set as one transaction, `$filter`
  with `eq`/`and` (a `*` in a literal is a wildcard there), `cross-company=true` with `dataAreaId eq '...'`.
- data-entities/service-protection-api-limits.md: throttling is 429 Too Many Requests with Retry-After.
- OData v4.0 part 1 §11.7 (batch: multipart/mixed, application/http parts, Content-ID, change set responses) and
  the OData v4 JSON error body `{"error": {"code", "message", "innererror": {"message", "type", "stacktrace"}}}`.
- Microsoft identity platform, OAuth 2.0 client credentials grant: POST the token URL with `grant_type`,
  `client_id`, `client_secret` and `scope=<resource>/.default`; errors as `error`, `error_description` (AADSTS...).

Dates are Edm.DateTimeOffset in F&O entities; a date-only field is sent and returned as noon UTC, so no time zone
moves it to another day. Money is Edm.Decimal, a JSON number written from the Decimal's own digits.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import orjson
from reconstream.models.invoices import DocumentType, Invoice, InvoiceLine

from .adapter import ErpAdapter, ErpDocument, ErpTarget, send, send_with_token
from .errors import Cause, ErpRejected, ErpUnavailable
from .exact_json import exact_json

HEADERS = "VendorInvoiceHeaders"
LINES = "VendorInvoiceLines"  # also the header's navigation property to its lines
GENERIC_ODATA_MESSAGE = "An error has occurred."  # F&O's outer message when the reason is in innererror

JsonScalar = str | int | Decimal | None
Entity = dict[str, JsonScalar]


# -- the entities ------------------------------------------------------------------------------------------------
def header_entity(invoice: Invoice) -> Entity:
    """The VendorInvoiceHeader of an invoice. HeaderReference is left out: the ERP's number sequence gives it."""
    sign = _sign(invoice)
    entity: Entity = {
        "dataAreaId": invoice.company_code,
        "InvoiceAccount": invoice.vendor_id,
        "VendorAccount": invoice.vendor_id,
        "InvoiceNumber": invoice.supplier_invoice_number,
        "InvoiceDate": date_time_offset(invoice.invoice_date),
        "Date": date_time_offset(invoice.invoice_date),  # the posting date ("Posting Date" in the entity)
        "Currency": invoice.currency,
        "ImportedAmount": sign * invoice.gross_amount,  # the invoice total as the vendor stated it
        "InvoiceDescription": f"AP {invoice.invoice_id}",
    }
    if invoice.due_date is not None:
        entity["DueDate"] = date_time_offset(invoice.due_date)
    if invoice.po_number:
        entity["PurchaseOrderNumber"] = invoice.po_number
    return entity


def line_entities(invoice: Invoice, procurement_category: str | None = None) -> list[Entity]:
    """The VendorInvoiceLines. A credit note is a pending invoice with negative quantities and amounts, the unit
    price staying positive, as F&O keeps it. An invoice without lines gets one line for its net amount."""
    lines = invoice.lines or (
        InvoiceLine(
            line_no=1,
            description=invoice.supplier_invoice_number,
            quantity=Decimal(1),
            unit_price=invoice.net_amount,
            net_amount=invoice.net_amount,
        ),
    )
    return [_line_entity(invoice, line, procurement_category) for line in lines]


def _line_entity(invoice: Invoice, line: InvoiceLine, procurement_category: str | None) -> Entity:
    sign = _sign(invoice)
    entity: Entity = {
        "InvoiceLineNumber": line.line_no,
        "LineDescription": line.description,
        "InvoiceAccount": invoice.vendor_id,
        "VendorAccount": invoice.vendor_id,
        "Currency": invoice.currency,
        "ReceiveNow": sign * line.quantity,  # the line's quantity
        "UnitPrice": line.unit_price,
        "NetAmount": sign * line.net_amount,
    }
    if invoice.po_number and line.po_line_no is not None:
        entity["PurchaseOrder"] = invoice.po_number
        entity["PurchLineNumber"] = line.po_line_no
    elif procurement_category:
        # A line neither on a PO nor of an item needs a procurement category to be posted.
        entity["ProcurementCategoryName"] = procurement_category
    return entity


def _sign(invoice: Invoice) -> int:
    return -1 if invoice.document_type is DocumentType.CREDIT_NOTE else 1


def date_time_offset(day: date) -> str:
    return f"{day.isoformat()}T12:00:00Z"


def entity_json(entity: Mapping[str, JsonScalar]) -> bytes:
    """A flat entity as JSON, a Decimal written as a JSON number from its own digits (never through float)."""
    return exact_json(entity)


# -- the $batch request and its answer ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchRequest:
    content_type: str
    body: bytes


def vendor_invoice_batch(data_url: str, header: Entity, lines: Sequence[Entity]) -> BatchRequest:
    """One change set: the header (Content-ID 1), then each line posted to `$1/VendorInvoiceLines`, so the
    lines get the HeaderReference the ERP assigns and nothing is kept unless everything is."""
    batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    operations = [(f"{data_url}/{HEADERS}", header)] + [(f"$1/{LINES}", line) for line in lines]
    parts = [
        _changeset_part(changeset, content_id, url, entity)
        for content_id, (url, entity) in enumerate(operations, start=1)
    ]
    body = (
        f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n".encode()
        + b"".join(parts)
        + f"--{changeset}--\r\n--{batch}--\r\n".encode()
    )
    return BatchRequest(f"multipart/mixed; boundary={batch}", body)


def _changeset_part(changeset: str, content_id: int, url: str, entity: Entity) -> bytes:
    head = (
        f"--{changeset}\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        f"Content-ID: {content_id}\r\n\r\n"
        f"POST {url} HTTP/1.1\r\n"
        "Content-Type: application/json; odata.metadata=minimal\r\n"
        "Accept: application/json\r\n"
        "OData-Version: 4.0\r\n\r\n"
    )
    return head.encode() + entity_json(entity) + b"\r\n"


@dataclass(frozen=True)
class PartResponse:
    """One operation's answer inside a $batch answer."""

    status: int
    headers: Mapping[str, str]  # lower-cased names, the MIME part's and the HTTP message's
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body.strip() else None


def batch_responses(content_type: str, body: bytes) -> list[PartResponse]:
    """Every application/http answer of a multipart/mixed $batch answer, change sets opened in order."""
    boundary = _boundary(content_type)
    if boundary is None:
        raise ValueError(f"not a multipart answer: {content_type!r}")
    answers: list[PartResponse] = []
    for headers, payload in _mime_parts(body, boundary):
        part_type = headers.get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            answers.extend(batch_responses(part_type, payload))
        elif part_type.lower().startswith("application/http"):
            answers.append(_http_response(headers, payload))
    return answers


def _boundary(content_type: str) -> str | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
    return match.group(1) if match else None


def _mime_parts(body: bytes, boundary: str) -> Iterator[tuple[dict[str, str], bytes]]:
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?:\r?\n|$)")
    pieces = delimiter.split(body)
    # split() gives: preamble, then (closing marker, part) pairs; the part after the closing delimiter is epilogue.
    for index in range(1, len(pieces) - 1, 2):
        if pieces[index]:  # the closing delimiter: what follows is the epilogue
            break
        headers, payload = _split_head(pieces[index + 1])
        yield headers, payload


def _split_head(message: bytes) -> tuple[dict[str, str], bytes]:
    match = re.search(rb"\r?\n\r?\n", message)
    head, payload = (message[: match.start()], message[match.end() :]) if match else (message, b"")
    headers: dict[str, str] = {}
    for raw in re.split(rb"\r?\n", head):
        name, colon, value = raw.decode("latin-1").partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, payload


def _http_response(part_headers: Mapping[str, str], payload: bytes) -> PartResponse:
    match = re.match(rb"\s*HTTP/\d\.\d\s+(\d{3})[^\r\n]*\r?\n", payload)
    if match is None:
        raise ValueError("an application/http part without an HTTP status line")
    headers, body = _split_head(payload[match.end() :])
    return PartResponse(int(match.group(1)), {**part_headers, **headers}, body)


# -- the ERP's words ---------------------------------------------------------------------------------------------
def erp_message(document: Any, fallback: str) -> tuple[str, str | None]:
    """The reason in an OData error body, and its code. F&O often answers "An error has occurred." and puts
    "Write validation failed for table row of type '...'. Infolog: Error: ...; Error: ..." in innererror: the
    infolog entries are what AP needs to read."""
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return fallback, None
    code = error.get("code") or None
    texts = [text for text in _error_texts(error) if text and text.strip() != GENERIC_ODATA_MESSAGE]
    if not texts:
        return str(error.get("message") or fallback), code
    return _infolog(texts[0]), code


def _error_texts(error: Mapping[str, Any]) -> list[str]:
    """innererror first (the specific reason), nested internalexception next, the outer message last."""
    texts: list[str] = []
    inner = error.get("innererror")
    while isinstance(inner, dict):
        texts.append(str(inner.get("message") or ""))
        inner = inner.get("internalexception")
    texts.append(str(error.get("message") or ""))
    return texts


def _infolog(text: str) -> str:
    _, marker, infolog = text.partition("Infolog:")
    if not marker:
        return text.strip()
    entries: list[str] = []
    for entry in re.split(r";\s*(?=(?:Error|Warning|Info):)", infolog):
        cleaned = re.sub(r"^\s*(?:Error|Warning|Info):\s*", "", entry).strip().rstrip(";").strip()
        if cleaned and cleaned not in entries:
            entries.append(cleaned)
    return "; ".join(entries) or text.strip()


def odata_literal(value: str) -> str:
    """A string literal for $filter: single quotes doubled (OData ABNF)."""
    return "'" + value.replace("'", "''") + "'"


# -- the adapter -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()


class D365Adapter(ErpAdapter):
    """Posts invoices as pending vendor invoices of a Dynamics 365 Finance & Operations environment.

    target.base_url is the environment (https://<env>.operations.dynamics.com); target.options: `token_url`
    (https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token, required), `resource` (the scope's resource,
    default base_url) and `procurement_category` (for lines neither on a PO nor of an item); target.credentials:
    `client_id`, `client_secret` of the Entra app registered in F&O."""

    kind: ClassVar[str] = "d365"

    def __init__(self, target: ErpTarget, client: httpx.Client | None = None) -> None:
        super().__init__(target, client)
        missing = [name for name in ("client_id", "client_secret") if not target.credentials.get(name)]
        if missing or not target.options.get("token_url"):
            needs = [f"credentials[{name!r}]" for name in missing] + (
                [] if target.options.get("token_url") else ["options['token_url']"]
            )
            raise ValueError(f"{target.name}: a d365 target needs {', '.join(needs)}")
        self.token_url = target.options["token_url"]
        resource = (target.options.get("resource") or target.base_url).rstrip("/")
        self.scope = f"{resource}/.default"
        self.data_url = f"{target.base_url.rstrip('/')}/data"
        self._auth_lock = threading.Lock()
        self._token: _Token | None = None

    # -- what the posting service calls --
    def post(self, invoice: Invoice) -> ErpDocument:
        header = header_entity(invoice)
        lines = line_entities(invoice, self.target.options.get("procurement_category"))
        batch = vendor_invoice_batch(self.data_url, header, lines)
        response = self._odata(
            "POST",
            f"{self.data_url}/$batch",
            writes=True,
            content=batch.body,
            headers={"Content-Type": batch.content_type, "Accept": "multipart/mixed"},
        )
        if response.status_code != 200:
            raise self._rejected(response.status_code, _json_or_none(response))
        return self._created(invoice, response)

    def find_posted(self, invoice: Invoice, sent_after: datetime | None = None) -> ErpDocument | None:
        """The pending (or posted) vendor invoice of this vendor, legal entity and supplier invoice number."""
        condition = " and ".join(
            (
                f"InvoiceNumber eq {odata_literal(invoice.supplier_invoice_number)}",
                f"InvoiceAccount eq {odata_literal(invoice.vendor_id)}",
                f"dataAreaId eq {odata_literal(invoice.company_code)}",
            )
        )
        select = "dataAreaId,HeaderReference,InvoiceNumber,InvoiceAccount,Date"
        # Built by hand: a space must go as %20 ('+' is not a space to an OData URL parser).
        query = f"$filter={quote(condition, safe=chr(39))}&cross-company=true&$select={select}"
        response = self._odata("GET", f"{self.data_url}/{HEADERS}?{query}")
        document = _json_or_none(response)
        if response.status_code != 200 or not isinstance(document, dict):
            message, _ = erp_message(document, f"HTTP {response.status_code}")
            # Not a verdict on the document: the look-up itself failed, so no retry may go ahead blind.
            raise ErpUnavailable(Cause.SERVER_ERROR, f"look-up of {HEADERS} failed: {message}")
        for entity in document.get("value") or ():
            if _same_invoice(entity, invoice):
                return self._document(entity, invoice)
        return None

    # -- the answers --
    def _created(self, invoice: Invoice, response: httpx.Response) -> ErpDocument:
        try:
            answers = batch_responses(response.headers.get("Content-Type", ""), response.content)
        except ValueError as exc:
            # A 200 we cannot read: the change set may well be committed, so the look-up must decide.
            raise ErpUnavailable(Cause.SERVER_ERROR, f"$batch answer unreadable: {exc}", maybe_committed=True) from exc
        failed = next((answer for answer in answers if answer.status >= 400), None)
        if failed is not None:
            raise self._failed_operation(failed)
        header = next((answer for answer in answers if answer.headers.get("content-id") == "1"), None)
        entity = header.json() if header is not None else None
        if not isinstance(entity, dict) or not entity.get("HeaderReference"):
            raise ErpUnavailable(Cause.SERVER_ERROR, "$batch answer without the created header", maybe_committed=True)
        return self._document(entity, invoice)

    def _failed_operation(self, answer: PartResponse) -> ErpUnavailable | ErpRejected:
        """A failed change set committed nothing: a 4xx is the ERP refusing the document, the rest no verdict."""
        if answer.status == 429:
            return ErpUnavailable(Cause.THROTTLED, "$batch operation: HTTP 429")
        if answer.status == 401:
            return ErpUnavailable(Cause.AUTH, "$batch operation: HTTP 401, credentials refused")
        if answer.status >= 500:
            return ErpUnavailable(Cause.SERVER_ERROR, f"$batch operation: HTTP {answer.status}")
        try:
            document = answer.json()
        except orjson.JSONDecodeError:
            document = None
        return self._rejected(answer.status, document)

    def _rejected(self, status: int, document: Any) -> ErpRejected:
        message, code = erp_message(document, f"HTTP {status} without an OData error body")
        return ErpRejected(message, status=status, code=code)

    def _document(self, entity: Mapping[str, Any], invoice: Invoice) -> ErpDocument:
        return ErpDocument(
            erp_system=self.target.name,
            document_number=str(entity["HeaderReference"]),
            fiscal_year=_year(entity.get("Date")) or invoice.invoice_date.year,
        )

    # -- auth: Entra ID client credentials, one token shared by every thread --
    def _odata(self, method: str, url: str, *, writes: bool = False, **kwargs: Any) -> httpx.Response:
        headers = {"Accept": "application/json", "OData-Version": "4.0", "OData-MaxVersion": "4.0"}
        headers.update(kwargs.pop("headers", {}))
        return send_with_token(self.client, method, url, self._token_for, writes=writes, headers=headers, **kwargs)

    def _token_for(self, refused: str | None) -> str:
        return self._bearer() if refused is None else self._renew(refused)

    def _bearer(self) -> str:
        with self._auth_lock:
            if self._token is None or self._token.expires_at <= time.monotonic():
                self._token = self._fetch_token()
            return self._token.value

    def _renew(self, refused: str) -> str:
        with self._auth_lock:
            # Another thread may have renewed it already: use theirs rather than asking Entra again.
            if self._token is None or self._token.value == refused:
                self._token = self._fetch_token()
            return self._token.value

    def _fetch_token(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.target.credentials["client_id"],
            "client_secret": self.target.credentials["client_secret"],
            "scope": self.scope,
        }
        response = send(self.client, "POST", self.token_url, data=form, headers={"Accept": "application/json"})
        document = _json_or_none(response)
        if response.status_code != 200 or not isinstance(document, dict) or not document.get("access_token"):
            raise ErpUnavailable(Cause.AUTH, f"token request refused: {_entra_error(response.status_code, document)}")
        lifetime = float(document.get("expires_in") or 0)
        # Renew a little early, so a token does not expire between being read here and reaching F&O.
        margin = min(60.0, lifetime / 10)
        return _Token(str(document["access_token"]), time.monotonic() + lifetime - margin)


def _entra_error(status: int, document: Any) -> str:
    """Entra's error code and AADSTS number, never its description: that can quote the app's identifiers."""
    if not isinstance(document, dict):
        return f"HTTP {status}"
    codes = document.get("error_codes") or []
    number = f" (AADSTS{codes[0]})" if codes else ""
    return f"HTTP {status} {document.get('error') or 'no access_token'}{number}"


def _same_invoice(entity: Mapping[str, Any], invoice: Invoice) -> bool:
    """F&O compares strings without case and reads `*` in a literal as a wildcard: keep only a true match."""

    def same(name: str, value: str) -> bool:
        return str(entity.get(name) or "").casefold() == value.casefold()

    return (
        same("InvoiceNumber", invoice.supplier_invoice_number)
        and same("InvoiceAccount", invoice.vendor_id)
        and same("dataAreaId", invoice.company_code)
        and bool(entity.get("HeaderReference"))
    )


def _year(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).year
    except ValueError:
        return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None
