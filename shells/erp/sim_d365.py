"""A Dynamics 365 Finance & Operations environment on loopback: the Entra ID token endpoint, the OData v4
`$batch` endpoint creating pending vendor invoices (VendorInvoiceHeaders with their VendorInvoiceLines in one
change set, all or nothing), and the `$filter` queries of both entities.

Specs followed (the same as shells/erp/d365.py; MicrosoftDocs/dynamics-365-unified-operations-public and
microsoft/CDM, both CC-BY-4.0):
- Token endpoint `/{tenant}/oauth2/v2.0/token`, client credentials grant: the success body (`token_type`,
  `expires_in`, `ext_expires_in`, `access_token`) and the error body (`error`, `error_description`, `error_codes`,
  `timestamp`, `trace_id`, `correlation_id`) with the AADSTS codes Entra gives for an unknown tenant (90002), an
  unsupported grant (70003), an unknown app (700016), a wrong secret (7000215, HTTP 401) and a scope without
  `/.default` (1002012).
- OData: a bearer token on every call (401 without a body when missing or expired); `$batch` per OData v4.0
  part 1 §11.7 (multipart/mixed, change sets, Content-ID, `$n` references, a failed change set answered by the
  failing request's response alone and nothing kept); `$filter` with eq/ne/and/or/parentheses, F&O's `*`
  wildcard and case-insensitive comparison; `cross-company=true` (data-entities/odata.md); `$select`, `$top`.
- Errors in the OData v4 body F&O writes: `{"error": {"code": "", "message", "innererror": {"message", "type",
  "stacktrace"}}}`. Payload errors carry ODataLib's messages (unknown property, a literal not of the property's
  EDM type); the entity's validation says "Write validation failed for table row of type '...'. Infolog: Error:
  ..." with "An error has occurred." outside, as F&O does.
- Service protection (data-entities/service-protection-api-limits.md): 429 with Retry-After and the documented
  messages for the number of requests and the number of concurrent requests.

The entity validation implemented: the EDM type of each property given, the required fields (InvoiceNumber and
InvoiceAccount on the header, Currency on a line), the vendor account existing (when the simulator is told the
vendors), a vendor on hold (Rules.blocked_suppliers), a posting date in a closed period (Rules.closed_before), a
line in the header's currency, and a duplicate invoice number per vendor and legal entity, an AP parameter in F&O
that is on here unless `reject_duplicate_invoice_numbers=False`. Nothing is deduplicated on the client's behalf.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.message import Message
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from .exact_json import exact_json
from .simulator import Faults, Reply, Request, Route, Rules, Simulator

NAMESPACE = "Microsoft.Dynamics.DataEntities"
WRITE_EXCEPTION = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"
ODATA_EXCEPTION = "Microsoft.OData.ODataException"
GENERIC_MESSAGE = "An error has occurred."

STRING, DECIMAL, INT64, DATETIME = "Edm.String", "Edm.Decimal", "Edm.Int64", "Edm.DateTimeOffset"

# The properties this simulator implements, with their EDM types: a subset of the entities' (the names are in the
# CDM definitions and the entity articles); a property outside it is answered as an unknown property would be.
HEADER_PROPERTIES: dict[str, str] = {
    "dataAreaId": STRING,
    "HeaderReference": STRING,
    "InvoiceNumber": STRING,
    "InvoiceAccount": STRING,
    "VendorAccount": STRING,
    "VendorName": STRING,
    "InvoiceDate": DATETIME,
    "Date": DATETIME,
    "DueDate": DATETIME,
    "Currency": STRING,
    "ImportedAmount": DECIMAL,
    "PurchaseOrderNumber": STRING,
    "InvoiceDescription": STRING,
    "DocumentNumber": STRING,
    "TermsOfPayment": STRING,
    "MethodOfPayment": STRING,
    "PaymentId": STRING,
    "SalesTaxGroup": STRING,
    "Comment": STRING,
    "DimensionDisplayValue": STRING,
}
LINE_PROPERTIES: dict[str, str] = {
    "dataAreaId": STRING,
    "HeaderReference": STRING,
    "InvoiceLineNumber": DECIMAL,
    "LineDescription": STRING,
    "InvoiceAccount": STRING,
    "VendorAccount": STRING,
    "Currency": STRING,
    "ItemNumber": STRING,
    "ProcurementCategoryName": STRING,
    "ReceiveNow": DECIMAL,
    "UnitPrice": DECIMAL,
    "NetAmount": DECIMAL,
    "Unit": STRING,
    "PurchaseOrder": STRING,
    "PurchLineNumber": INT64,
    "SalesTaxGroup": STRING,
    "ItemSalesTax": STRING,
    "MainAccountDisplayValue": STRING,
    "DimensionDisplayValue": STRING,
}
# Field labels as the infolog names them.
LABELS = {"InvoiceNumber": "Invoice", "InvoiceAccount": "Invoice account", "Currency": "Currency"}


@dataclass(frozen=True)
class EntitySet:
    name: str  # the public collection
    entity_type: str  # the public entity
    table: str  # the AOT data entity, as the infolog names it
    properties: Mapping[str, str]
    required: tuple[str, ...]


HEADER_SET = EntitySet(
    "VendorInvoiceHeaders", "VendorInvoiceHeader", "VendorInvoiceHeaderEntity", HEADER_PROPERTIES,
    ("InvoiceNumber", "InvoiceAccount"),
)  # fmt: skip
LINE_SET = EntitySet(
    "VendorInvoiceLines", "VendorInvoiceLine", "VendorInvoiceLineEntity", LINE_PROPERTIES, ("Currency",)
)
ENTITY_SETS = {HEADER_SET.name: HEADER_SET, LINE_SET.name: LINE_SET}


class ODataError(Exception):
    """A request the service refuses, with the status and the OData error body's parts."""

    def __init__(self, status: int, message: str, inner: str | None = None, kind: str = ODATA_EXCEPTION) -> None:
        super().__init__(inner or message)
        self.status, self.message, self.inner, self.kind = status, message, inner or message, kind
        self.content_id: str | None = None  # the change set request it answers


def write_validation(entity_set: EntitySet, *infolog: str) -> ODataError:
    """An entity's validateWrite refusing the row, worded as F&O's OData stack words it."""
    entries = "; ".join(f"Error: {entry}" for entry in infolog)
    return ODataError(
        400,
        GENERIC_MESSAGE,
        f"Write validation failed for table row of type '{entity_set.table}'. Infolog: {entries}",
        WRITE_EXCEPTION,
    )


@dataclass
class Operation:
    """One request of a change set."""

    content_id: str | None
    method: str
    url: str
    content_type: str
    body: bytes


@dataclass
class _Pending:
    """An entity validated and waiting for the change set to commit."""

    operation: Operation
    entity_set: EntitySet
    entity: dict[str, Any]
    received: dict[str, Any]
    parent: _Pending | None = None
    lines: list[_Pending] = field(default_factory=list)


class D365Simulator(Simulator):
    kind: ClassVar[str] = "d365"

    def __init__(
        self,
        faults: Faults | None = None,
        rules: Rules | None = None,
        credentials: Mapping[str, str] | None = None,
        *,
        resource: str | None = None,
        vendors: Iterable[str] | None = None,
        reject_duplicate_invoice_numbers: bool = True,
        default_company: str = "DAT",
        token_lifetime_seconds: int = 3599,
    ) -> None:
        super().__init__(faults, rules, credentials)
        self.resource = resource.rstrip("/") if resource else None  # None: any `<resource>/.default`
        self.vendors = frozenset(vendors) if vendors is not None else None  # None: every account exists
        self.reject_duplicate_invoice_numbers = reject_duplicate_invoice_numbers
        self.default_company = default_company  # the company a query without cross-company=true sees
        self.token_lifetime_seconds = token_lifetime_seconds
        self.headers: dict[tuple[str, str], dict[str, Any]] = {}  # (dataAreaId, HeaderReference) -> entity
        self.lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # Indexes of the headers, kept where one is committed (its key fields never change after), so the duplicate
        # check and the adapter's look-ups cost the same however many headers there are. Keys are casefolded, as
        # F&O compares strings; each list is in the order committed (the order of `headers`).
        self._by_invoice_number: dict[tuple[str, str, str], list[dict[str, Any]]] = {}  # dataAreaId, account, no.
        self._by_header_reference: dict[str, list[dict[str, Any]]] = {}
        self._header_sequence = 0

    # -- routes ---------------------------------------------------------------------------------------------------
    def api_routes(self) -> list[Route]:
        return [
            Route("POST", re.compile(r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token"), self._token),
            Route("POST", re.compile(r"/data/\$batch"), self._batch, writes=True),
            Route("GET", re.compile(r"/data/(?P<entity_set>VendorInvoiceHeaders|VendorInvoiceLines)"), self._query),
        ]

    def error_reply(self, status: int, message: str, code: str = "") -> Reply:
        return self._odata_error(ODataError(status, message))

    def throttled_reply(self) -> Reply:
        limit = self.faults.concurrency_limit
        if limit is not None and self.in_flight > limit:
            message = f"Number of concurrent requests exceeded the limit of {limit}."
        else:
            message = "Number of requests exeeded the limit of 6000 over the time window of 300 seconds."  # sic
        reply = self._odata_error(ODataError(429, message))
        return Reply(429, reply.body, {**reply.headers, "Retry-After": f"{self.faults.retry_after_seconds:g}"})

    def document_number(self, fiscal_year: int, sequence: int) -> str:
        # The "Invoice header" number sequence runs across years and legal entities here, so a reference is
        # unique whatever the year (the entity key is dataAreaId + HeaderReference).
        self._header_sequence += 1
        return f"APINV-{self._header_sequence:06d}"

    def expire_tokens(self) -> None:
        """Every token issued so far expires now: the next OData call is answered 401."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    # -- Entra ID token endpoint ----------------------------------------------------------------------------------
    def _token(self, request: Request, match: re.Match[str]) -> Reply:
        form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        tenant, client_id = match["tenant"], form.get("client_id", "")
        known_tenant = self.credentials.get("tenant_id")
        if known_tenant and tenant != known_tenant:
            return _entra_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            grant = form.get("grant_type", "")
            description = f"The app requested an unsupported grant type '{grant}'."
            return _entra_error(400, "unsupported_grant_type", 70003, description)
        if not hmac.compare_digest(client_id, self.credentials.get("client_id", "")):
            return _entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen "
                "if the application has not been installed by the administrator of the tenant or consented to by "
                "any user in the tenant. You may have sent your authentication request to the wrong tenant.",
            )
        if not hmac.compare_digest(form.get("client_secret", ""), self.credentials.get("client_secret", "")):
            return _entra_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        return self._token_for_scope(form.get("scope", ""), tenant)

    def _token_for_scope(self, scope: str, tenant: str) -> Reply:
        if not scope.endswith("/.default"):
            return _entra_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
                "with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource = scope.removesuffix("/.default").rstrip("/")
        if self.resource is not None and resource != self.resource:
            return _entra_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named {tenant}. This can "
                "happen if the application has not been installed by the administrator of the tenant or consented "
                "to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            )
        lifetime = self.token_lifetime_seconds
        token = self.issue_token(lifetime)
        document = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        return Reply.json(200, document, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # -- OData: $batch -------------------------------------------------------------------------------------------
    def _batch(self, request: Request, match: re.Match[str]) -> Reply:
        if not self.bearer_ok(request):
            return _unauthorized()
        content_type = request.headers.get("content-type", "")
        try:
            units = _batch_units(content_type, request.body)
        except ODataError as error:
            return self._odata_error(error)
        root = _service_root(request)
        boundary = f"batchresponse_{uuid.uuid4()}"
        answers = [self._unit(unit, changeset, root) for changeset, unit in units]
        body = b"".join(f"--{boundary}\r\n".encode() + answer for answer in answers) + f"--{boundary}--\r\n".encode()
        return Reply(200, body, {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"})

    def _unit(self, operations: list[Operation], changeset: bool, root: str) -> bytes:
        """A change set: every operation validated, then all committed together, or the failing answer alone."""
        try:
            pending = self._validated(operations)
            with self.lock:  # the duplicate check and the commit are one step, as one database transaction
                self._check_duplicates(pending)
                answers = [self._commit(item, root) for item in pending]
        except ODataError as error:
            return _http_part(error.status, self._odata_error(error), error.content_id)
        if not changeset:
            return answers[0]
        boundary = f"changesetresponse_{uuid.uuid4()}"
        inner = b"".join(f"--{boundary}\r\n".encode() + answer for answer in answers)
        head = f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n".encode()
        return head + inner + f"--{boundary}--\r\n".encode()

    def _validated(self, operations: list[Operation]) -> list[_Pending]:
        by_content_id: dict[str, _Pending] = {}
        pending: list[_Pending] = []
        for operation in operations:
            with _answering(operation):
                item = self._operation(operation, by_content_id)
            pending.append(item)
            if operation.content_id:
                by_content_id[operation.content_id] = item
        for item in pending:
            with _answering(item.operation):
                _require(item)
                if item.entity_set is HEADER_SET:
                    self._validate_header(item)
                elif item.parent is not None:
                    _validate_line(item, item.parent)
        return pending

    def _operation(self, operation: Operation, created: Mapping[str, _Pending]) -> _Pending:
        if operation.method != "POST":
            raise ODataError(501, f"The simulator implements POST in a change set, not {operation.method}.")
        entity_set, parent = self._target(operation.url, created)
        received = _entity_body(operation, entity_set)
        entity = dict(received)
        if parent is not None:  # a line posted to $n/VendorInvoiceLines belongs to the header created as $n
            entity["dataAreaId"] = parent.entity["dataAreaId"]
            entity["HeaderReference"] = None  # given when the header gets its number, at commit
        item = _Pending(operation, entity_set, entity, received, parent)
        if parent is not None:
            parent.lines.append(item)
        elif entity_set is LINE_SET:
            self._attach_to_existing_header(item)
        else:
            entity.setdefault("dataAreaId", self.default_company)
        return item

    def _target(self, url: str, created: Mapping[str, _Pending]) -> tuple[EntitySet, _Pending | None]:
        path = unquote(urlsplit(url).path)
        reference = re.fullmatch(r"\$(?P<id>[^/]+)/(?P<navigation>\w+)", path)
        if reference is not None:
            parent = created.get(reference["id"])
            if parent is None:
                raise ODataError(400, f"The Content-ID '{reference['id']}' does not refer to an earlier request.")
            if parent.entity_set is not HEADER_SET or reference["navigation"] != LINE_SET.name:
                raise ODataError(
                    400,
                    f"Could not find a property named '{reference['navigation']}' on type "
                    f"'{NAMESPACE}.{parent.entity_set.entity_type}'.",
                )
            return LINE_SET, parent
        name = path.removeprefix("/data/").removeprefix("data/").strip("/")
        entity_set = ENTITY_SETS.get(name)
        if entity_set is None:
            raise ODataError(404, f"No HTTP resource was found that matches the request URI '{url}'.")
        return entity_set, None

    def _attach_to_existing_header(self, item: _Pending) -> None:
        key = (
            str(item.entity.get("dataAreaId") or self.default_company),
            str(item.entity.get("HeaderReference") or ""),
        )
        item.entity["dataAreaId"] = key[0]
        with self.lock:
            known = key in self.headers
        if not known:
            raise write_validation(
                LINE_SET,
                f"The value '{key[1]}' in field 'Invoice header' is not found in the related table "
                "'Vendor invoice header'.",
            )

    def _validate_header(self, header: _Pending) -> None:
        """validateField/validateWrite of the header: the vendor relation first, then the business rules."""
        entity = header.entity
        account = str(entity["InvoiceAccount"])
        if self.vendors is not None and account not in self.vendors:
            raise write_validation(
                HEADER_SET,
                f"The value '{account}' in field 'Invoice account' is not found in the related table 'Vendors'.",
            )
        posting_date = _entity_date(entity.get("Date")) or _entity_date(entity.get("InvoiceDate")) or _today()
        if self.refusal(account, posting_date) is not None:
            if account in self.rules.blocked_suppliers:
                raise write_validation(HEADER_SET, f"Vendor {account} is on hold for all transactions.")
            raise write_validation(HEADER_SET, f"Period for {_us_date(posting_date)} isn't open.")

    def _check_duplicates(self, pending: list[_Pending]) -> None:
        """The AP parameter refusing an invoice number a vendor already used in the legal entity."""
        if not self.reject_duplicate_invoice_numbers:
            return
        for item in pending:
            if item.entity_set is not HEADER_SET:
                continue
            key = _invoice_number_key(item.entity)
            existing = self._by_invoice_number[key][0] if key in self._by_invoice_number else None
            if existing is not None:
                used = _entity_date(existing.get("InvoiceDate")) or _today()
                error = write_validation(
                    HEADER_SET, f"Invoice {item.entity['InvoiceNumber']} already used as of {_us_date(used)}."
                )
                error.content_id = item.operation.content_id
                raise error

    def _commit(self, item: _Pending, root: str) -> bytes:
        entity_set, entity = item.entity_set, item.entity
        if entity_set is HEADER_SET:
            self._commit_header(item)
        else:
            if item.parent is not None:
                entity["HeaderReference"] = item.parent.entity["HeaderReference"]
            self.lines.setdefault((entity["dataAreaId"], entity["HeaderReference"]), []).append(entity)
        stored = _stored(entity_set, entity)
        key = _entity_key(entity_set, entity)
        location = f"{root}/data/{entity_set.name}({key})"
        body = {"@odata.context": f"{root}/data/$metadata#{entity_set.name}/$entity", "@odata.etag": _etag(), **stored}
        return _http_part(
            201,
            Reply(201, _json(body), {"Content-Type": "application/json; odata.metadata=minimal; charset=utf-8"}),
            item.operation.content_id,
            {"Location": location, "OData-EntityId": location},
        )

    def _commit_header(self, header: _Pending) -> None:
        entity = header.entity
        posting_date = _entity_date(entity.get("Date")) or _entity_date(entity.get("InvoiceDate")) or _today()
        entity["Date"] = posting_date
        gross = entity.get("ImportedAmount")
        if gross is None:
            gross = sum((Decimal(line.entity.get("NetAmount") or 0) for line in header.lines), Decimal(0))
        document = self.create(
            supplier=str(entity["InvoiceAccount"]),
            invoice_reference=str(entity["InvoiceNumber"]),
            company_code=str(entity["dataAreaId"]),
            document_date=posting_date,
            gross_amount=gross,
            currency=str(entity.get("Currency") or ""),
            body={"header": header.received, "lines": [line.received for line in header.lines]},
        )
        entity["HeaderReference"] = document.document_number
        self.headers[(entity["dataAreaId"], document.document_number)] = entity
        key = _invoice_number_key(entity)
        if key is not None:
            self._by_invoice_number.setdefault(key, []).append(entity)
        self._by_header_reference.setdefault(document.document_number.casefold(), []).append(entity)

    # -- OData: queries --------------------------------------------------------------------------------------------
    def _query(self, request: Request, match: re.Match[str]) -> Reply:
        if not self.bearer_ok(request):
            return _unauthorized()
        entity_set = ENTITY_SETS[match["entity_set"]]
        filter_text = request.arg("$filter") or ""
        try:
            predicate = parse_filter(filter_text, entity_set)
            selected = _select(request.arg("$select"), entity_set)
            top = _top(request.arg("$top"))
        except ODataError as error:
            return self._odata_error(error)
        cross_company = (request.arg("cross-company") or "").lower() == "true"
        with self.lock:
            rows = [
                row
                for row in self._candidates(entity_set, filter_text)
                if cross_company or _same(row["dataAreaId"], self.default_company)
            ]
            rows = [row for row in rows if predicate(row)][:top]
            values = [{"@odata.etag": _etag(), **_projected(_stored(entity_set, row), selected)} for row in rows]
        root = _service_root(request)
        document = {"@odata.context": f"{root}/data/$metadata#{entity_set.name}", "value": values}
        headers = {"Content-Type": "application/json; odata.metadata=minimal", "OData-Version": "4.0"}
        return Reply(200, _json(document), headers)

    def _candidates(self, entity_set: EntitySet, filter_text: str) -> list[dict[str, Any]]:
        """The rows a (well-formed) `$filter` can match, in the order stored: from an index when the filter is
        equality terms joined by `and` that name a header's whole (dataAreaId, InvoiceAccount, InvoiceNumber) key
        or its HeaderReference, every row otherwise (a wildcard, `or`, `ne`, parentheses, other properties). The
        caller still applies the whole filter to each. The caller holds the lock."""
        if entity_set is HEADER_SET:
            terms = _equality_terms(filter_text)
            if terms is not None:
                if all(name in terms for name in ("dataAreaId", "InvoiceAccount", "InvoiceNumber")):
                    key = (terms["dataAreaId"], terms["InvoiceAccount"], terms["InvoiceNumber"])
                    return list(self._by_invoice_number.get(key, ()))
                if "HeaderReference" in terms:
                    return list(self._by_header_reference.get(terms["HeaderReference"], ()))
        return self._rows(entity_set)

    def _rows(self, entity_set: EntitySet) -> list[dict[str, Any]]:
        if entity_set is HEADER_SET:
            return list(self.headers.values())
        return [line for lines in self.lines.values() for line in lines]

    def _odata_error(self, error: ODataError) -> Reply:
        document = {
            "error": {
                "code": "",
                "message": error.message,
                "innererror": {"message": error.inner, "type": error.kind, "stacktrace": ""},
            }
        }
        return Reply(error.status, _json(document), {"Content-Type": "application/json; odata.metadata=minimal"})


@contextlib.contextmanager
def _answering(operation: Operation) -> Iterator[None]:
    """An error raised inside is the answer to this operation: it carries its Content-ID."""
    try:
        yield
    except ODataError as error:
        error.content_id = error.content_id or operation.content_id
        raise


# -- $batch: reading the request -------------------------------------------------------------------------------------
def _batch_units(content_type: str, body: bytes) -> list[tuple[bool, list[Operation]]]:
    """The batch's units in order: (True, operations) for a change set, (False, [operation]) for a lone request."""
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type.lower():
        raise ODataError(400, "The content type of the $batch request must be multipart/mixed with a boundary.")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise ODataError(400, "The $batch request body is not a multipart/mixed message.")
    units: list[tuple[bool, list[Operation]]] = []
    for part in _subparts(message):
        if part.get_content_type() == "multipart/mixed":
            operations = [_operation_of(inner) for inner in _subparts(part)]
            if not operations:
                raise ODataError(400, "A change set must contain at least one request.")
            units.append((True, operations))
        else:
            units.append((False, [_operation_of(part)]))
    if not units:
        raise ODataError(400, "The $batch request contains no request.")
    return units


def _subparts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def _operation_of(part: Message) -> Operation:
    if part.get_content_type() != "application/http":
        raise ODataError(400, f"A $batch part must be application/http, not '{part.get_content_type()}'.")
    raw = part.get_payload(decode=True)
    payload = raw.lstrip() if isinstance(raw, bytes) else b""
    blank = re.search(rb"\r?\n\r?\n", payload)
    head, body = (payload[: blank.start()], payload[blank.end() :]) if blank else (payload, b"")
    lines = re.split(rb"\r?\n", head)
    request_line = re.fullmatch(rb"(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.[01]", lines[0])
    if request_line is None:
        raise ODataError(400, "A $batch part does not start with an HTTP request line.")
    headers = {}
    for raw_header in lines[1:]:
        name, _, value = raw_header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    content_id = part.get("Content-ID") or headers.get("content-id")
    return Operation(
        str(content_id).strip() if content_id else None,
        request_line[1].decode(),
        request_line[2].decode(),
        headers.get("content-type", ""),
        body.rstrip(b"\r\n"),
    )


def _entity_body(operation: Operation, entity_set: EntitySet) -> dict[str, Any]:
    if not operation.content_type.lower().startswith("application/json"):
        raise ODataError(415, f"The content type '{operation.content_type}' is not supported; use application/json.")
    try:
        # The stdlib parser, for its parse_float hook: an Edm.Decimal keeps its digits, never passing through float.
        document = json.loads(operation.body, parse_float=Decimal) if operation.body else None
    except ValueError as exc:
        raise ODataError(400, f"Invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ODataError(400, "The request body must be a JSON object for an entity.")
    strings_for_numbers = "ieee754compatible=true" in operation.content_type.lower().replace(" ", "")
    entity: dict[str, Any] = {}
    for name, value in document.items():
        if name.startswith("@") or "@odata." in name:
            continue
        edm = entity_set.properties.get(name)
        if edm is None:
            raise ODataError(
                400,
                f"The property '{name}' does not exist on type '{NAMESPACE}.{entity_set.entity_type}'. Make sure to "
                "only use property names that are defined by the type or mark the type as open type.",
            )
        entity[name] = _typed(value, edm, strings_for_numbers)
    return entity


def _typed(value: Any, edm: str, strings_for_numbers: bool) -> Any:
    """A JSON value read as its EDM type, or ODataLib's refusal."""
    if value is None:
        return None
    if edm == STRING and isinstance(value, str):
        return value
    if edm == DECIMAL:
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return Decimal(value)
        if isinstance(value, str) and strings_for_numbers:
            return _decimal_literal(value, edm)
    if edm == INT64:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and strings_for_numbers and re.fullmatch(r"-?\d+", value):
            return int(value)
    if edm == DATETIME and isinstance(value, str):
        return _date_time_offset(value, edm)
    raise _not_convertible(value, edm)


def _decimal_literal(value: str, edm: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise _not_convertible(value, edm) from exc
    if not amount.is_finite():
        raise _not_convertible(value, edm)
    return amount


def _date_time_offset(value: str, edm: str) -> date:
    """Edm.DateTimeOffset needs a time and an offset; F&O keeps only the date of a date field."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)", value):
        raise _not_convertible(value, edm)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).date()
    except ValueError as exc:
        raise _not_convertible(value, edm) from exc


def _not_convertible(value: Any, edm: str) -> ODataError:
    literal = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return ODataError(400, f"Cannot convert the literal '{literal}' to the expected type '{edm}'.")


def _validate_line(line: _Pending, header: _Pending) -> None:
    currency = header.entity.get("Currency")
    if currency and line.entity.get("Currency") != currency:
        raise write_validation(
            LINE_SET,
            f"The currency {line.entity.get('Currency')} of the line differs from the invoice's currency {currency}.",
        )


def _require(item: _Pending) -> None:
    missing = [name for name in item.entity_set.required if item.entity.get(name) in (None, "")]
    if missing:
        raise write_validation(
            item.entity_set, *(f"Field '{LABELS.get(name, name)}' must be filled in." for name in missing)
        )


# -- $batch: writing the answer --------------------------------------------------------------------------------------
def _http_part(status: int, reply: Reply, content_id: str | None, extra: Mapping[str, str] | None = None) -> bytes:
    reasons = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 415: "Unsupported Media Type",
               501: "Not Implemented"}  # fmt: skip
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    lines = [f"HTTP/1.1 {status} {reasons.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in {**reply.headers, **(extra or {})}.items()]
    return (head + "\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode() + reply.body + b"\r\n"


def _stored(entity_set: EntitySet, entity: Mapping[str, Any]) -> dict[str, Any]:
    """The entity as the service returns it: every implemented property, dates as noon UTC."""
    return {name: _wire(entity_set.properties[name], entity.get(name)) for name in entity_set.properties}


def _wire(edm: str, value: Any) -> Any:
    if value is None:
        return None
    if edm == DATETIME and isinstance(value, date):
        return f"{value.isoformat()}T12:00:00Z"
    return value


def _entity_key(entity_set: EntitySet, entity: Mapping[str, Any]) -> str:
    key = f"dataAreaId='{entity['dataAreaId']}',HeaderReference='{entity['HeaderReference']}'"
    if entity_set is LINE_SET:
        key += f",InvoiceLineNumber={entity.get('InvoiceLineNumber')}"
    return key


def _json(document: Any) -> bytes:
    return exact_json(document)


def _etag() -> str:
    return f'W/"{secrets.token_hex(8)}"'


def _service_root(request: Request) -> str:
    return f"http://{request.headers.get('host', '127.0.0.1')}"


def _unauthorized() -> Reply:
    # F&O answers an absent or expired token with 401 and no body.
    return Reply(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _entra_error(status: int, error: str, code: int, description: str) -> Reply:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    document = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}",  # noqa: E501
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return Reply.json(status, document, {"Cache-Control": "no-store"})


# -- $filter ---------------------------------------------------------------------------------------------------------
Predicate = Callable[[Mapping[str, Any]], bool]
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][\w.]*))"
)


def parse_filter(text: str, entity_set: EntitySet) -> Predicate:
    """`$filter` as F&O reads it for these entities: eq/ne on properties, and/or, parentheses; strings compared
    without case, `*` in a string literal a wildcard (data-entities/odata.md)."""
    if not text.strip():
        return lambda row: True
    tokens = _tokens(text)
    predicate, position = _or_expression(tokens, 0, entity_set, text)
    if position != len(tokens):
        raise ODataError(400, f"Syntax error at position {tokens[position][2]} in '{text}'.")
    return predicate


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise ODataError(400, f"Syntax error at position {position} in '{text}'.")
        tokens.append((match.lastgroup, match[match.lastgroup], match.start(match.lastgroup)))
        position = match.end()
    return tokens


def _or_expression(
    tokens: list[tuple[str, str, int]], at: int, entity_set: EntitySet, text: str
) -> tuple[Predicate, int]:
    left, at = _and_expression(tokens, at, entity_set, text)
    while at < len(tokens) and tokens[at][:2] == ("word", "or"):
        right, at = _and_expression(tokens, at + 1, entity_set, text)
        left = (lambda a, b: lambda row: a(row) or b(row))(left, right)
    return left, at


def _and_expression(
    tokens: list[tuple[str, str, int]], at: int, entity_set: EntitySet, text: str
) -> tuple[Predicate, int]:
    left, at = _comparison(tokens, at, entity_set, text)
    while at < len(tokens) and tokens[at][:2] == ("word", "and"):
        right, at = _comparison(tokens, at + 1, entity_set, text)
        left = (lambda a, b: lambda row: a(row) and b(row))(left, right)
    return left, at


def _comparison(tokens: list[tuple[str, str, int]], at: int, entity_set: EntitySet, text: str) -> tuple[Predicate, int]:
    if at < len(tokens) and tokens[at][0] == "open":
        inner, at = _or_expression(tokens, at + 1, entity_set, text)
        if at >= len(tokens) or tokens[at][0] != "close":
            raise ODataError(400, f"')' or operator expected at position {len(text)} in '{text}'.")
        return inner, at + 1
    if at + 3 > len(tokens):
        raise ODataError(400, f"Syntax error at position {len(text)} in '{text}'.")
    (kind, name, position), (_, operator, _), (value_kind, literal, _) = tokens[at : at + 3]
    if kind != "word" or operator not in ("eq", "ne") or value_kind not in ("string", "number"):
        raise ODataError(400, f"Syntax error at position {position} in '{text}'.")
    if name not in entity_set.properties:
        raise ODataError(
            400, f"Could not find a property named '{name}' on type '{NAMESPACE}.{entity_set.entity_type}'."
        )
    matches = _matcher(name, literal, value_kind)
    return (matches if operator == "eq" else (lambda row: not matches(row))), at + 3


def _matcher(name: str, literal: str, kind: str) -> Predicate:
    if kind == "number":
        wanted = Decimal(literal)
        return lambda row: row.get(name) is not None and Decimal(str(row[name])) == wanted
    value = literal[1:-1].replace("''", "'")
    if "*" in value:
        pattern = re.compile(".*".join(re.escape(piece) for piece in value.casefold().split("*")), re.DOTALL)
        return lambda row: isinstance(row.get(name), str) and pattern.fullmatch(row[name].casefold()) is not None
    return lambda row: _same(row.get(name), value)


def _select(text: str | None, entity_set: EntitySet) -> list[str] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in entity_set.properties:
            raise ODataError(
                400, f"Could not find a property named '{name}' on type '{NAMESPACE}.{entity_set.entity_type}'."
            )
    return names


def _top(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise ODataError(400, f"Invalid value '{text}' for $top query option found.")
    return int(text)


def _projected(entity: dict[str, Any], selected: list[str] | None) -> dict[str, Any]:
    return entity if selected is None else {name: entity.get(name) for name in selected}


# -- small helpers ---------------------------------------------------------------------------------------------------
def _same(left: Any, right: Any) -> bool:
    # F&O's SQL collation compares strings without case.
    return isinstance(left, str) and isinstance(right, str) and left.casefold() == right.casefold()


def _invoice_number_key(entity: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """What the duplicate check compares, as it compares it (text without case); None when a part is not text,
    which equals nothing."""
    company, account, number = (entity.get(name) for name in ("dataAreaId", "InvoiceAccount", "InvoiceNumber"))
    if isinstance(company, str) and isinstance(account, str) and isinstance(number, str):
        return (company.casefold(), account.casefold(), number.casefold())
    return None


def _equality_terms(text: str) -> dict[str, str] | None:
    """A `$filter` that is only `Property eq 'text'` terms joined by `and`, no wildcard, as {property: the text
    casefolded}; None for any other filter. Called on a filter parse_filter read."""
    tokens = _tokens(text)
    if len(tokens) % 4 != 3:
        return None
    terms: dict[str, str] = {}
    for at in range(0, len(tokens), 4):
        (kind, name, _), (_, operator, _), (value_kind, literal, _) = tokens[at : at + 3]
        if kind != "word" or operator != "eq" or value_kind != "string":
            return None
        if at + 3 < len(tokens) and tokens[at + 3][:2] != ("word", "and"):
            return None
        value = literal[1:-1].replace("''", "'")
        if "*" in value:
            return None
        terms[name] = value.casefold()
    return terms


def _entity_date(value: Any) -> date | None:
    return value if isinstance(value, date) else None


def _us_date(day: date) -> str:
    # The infolog formats a date in the user's locale: en-us here.
    return f"{day.month}/{day.day}/{day.year}"


def _today() -> date:
    return datetime.fromtimestamp(time.time(), UTC).date()
