"""A simulated Oracle ERP Cloud (Fusion Payables) REST API on loopback: the `invoices` resource of the REST API
for Oracle Fusion Cloud Financials, version 11.13.18.05, as its documentation describes it
(docs.oracle.com/en/cloud/saas/financials/<release>/farfa/, "Invoices"; community OpenAPI excerpt in
api-evangelist/oracle-fusion `openapi/oracle-fusion-invoices-api-openapi.yml`, whose field names were checked
against Oracle's pages and corrected where they differ: see tests/fixtures/erp/oracle/SOURCE.md).

Endpoints:
- `POST /fscmRestApi/resources/11.13.18.05/invoices`: create an invoice with its `invoiceLines` → 201 with the
  invoice (InvoiceId, Supplier resolved from SupplierNumber, AccountingDate defaulted from InvoiceDate,
  ValidationStatus "Never validated").
- `GET .../invoices` with `q` (query-by-example `Attr=value;...` in framework version 1, `Attr='value'` joined by
  `;` or `and` from version 2), `onlyData`, `fields`, `limit`, `offset`, `totalResults` →
  `{"items", "count", "hasMore", "limit", "offset"}`; `GET .../invoices/{InvoiceId}`.
- `POST .../invoices/action/validateInvoice` (content type `application/vnd.oracle.adf.action+json`, body
  InvoiceNumber, BusinessUnit, Supplier[, ProcessAction]) → `{"result": ...}`; a Line Variance hold when the lines
  do not add up to the invoice amount.
- `POST /oauth2/v1/token`: the identity domain's client-credentials grant, for bearer tokens.

Auth: HTTP Basic or a bearer token, 401 otherwise. Errors follow `REST-Framework-Version`: bare text below
version 4 (the default is 1), from 4 on `application/vnd.oracle.adf.error+json` with `title`, `status` and
`o:errorDetails` [{`detail`, `o:errorCode`}]. Payables' own checks: required attributes (ADF's JBO-27014
wording), unknown attributes, types and dates, business unit and supplier known, InvoiceType's sign (a credit
memo is negative, a standard invoice is not), inactive or held supplier and closed period (the `Rules`), and
the duplicate invoice number for a supplier in a business unit, which Payables refuses (it does not
deduplicate for the client: the second create is an error, not the first invoice).

The message texts are in Oracle's style; the exact catalogue wording and codes are not published in the REST
documentation, so they are approximations.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from urllib.parse import parse_qs

from .exact_json import exact_json
from .simulator import Faults, Reply, Request, Route, Rules, Simulator

API = "/fscmRestApi/resources/11.13.18.05"
INVOICES = f"{API}/invoices"
JSON_ERRORS_FROM = 4  # the framework version from which errors are JSON
RESOURCE_TYPES = ("application/json", "application/vnd.oracle.adf.resourceitem+json")
ACTION_TYPE = "application/vnd.oracle.adf.action+json"
INVOICE_TYPES = ("Standard", "Credit memo", "Debit memo", "Prepayment")
LINE_TYPES = ("Item", "Freight", "Miscellaneous", "Tax")
HEADER_REQUIRED = ("InvoiceNumber", "InvoiceCurrency", "InvoiceAmount", "InvoiceDate", "BusinessUnit")
# The create attributes the simulator knows, with their JSON kinds (Oracle's "Invoices" resource).
HEADER_ATTRIBUTES: dict[str, str] = {
    "InvoiceNumber": "string",
    "InvoiceCurrency": "string",
    "PaymentCurrency": "string",
    "InvoiceAmount": "number",
    "InvoiceDate": "date",
    "BusinessUnit": "string",
    "Supplier": "string",
    "SupplierNumber": "string",
    "SupplierSite": "string",
    "InvoiceGroup": "string",
    "InvoiceType": "string",
    "Description": "string",
    "AccountingDate": "date",
    "PaymentTerms": "string",
    "TermsDate": "date",
    "PayGroup": "string",
    "InvoiceSource": "string",
    "InvoiceReceivedDate": "date",
    "ControlAmount": "number",
    "LegalEntity": "string",
    "invoiceLines": "array",
}
LINE_ATTRIBUTES: dict[str, str] = {
    "LineNumber": "integer",
    "LineType": "string",
    "LineAmount": "number",
    "Description": "string",
    "Quantity": "number",
    "UnitPrice": "number",
    "UOM": "string",
    "AccountingDate": "date",
    "DistributionCombination": "string",
    "PurchaseOrderNumber": "string",
    "PurchaseOrderLineNumber": "number",
    "PurchaseOrderScheduleLineNumber": "number",
    "TaxClassification": "string",
}
QUERYABLE = (
    "InvoiceId",
    "InvoiceNumber",
    "SupplierNumber",
    "Supplier",
    "BusinessUnit",
    "InvoiceCurrency",
    "InvoiceType",
    "ValidationStatus",
)
_CONDITION = re.compile(r"\s*(?P<name>\w+)\s*=\s*(?P<value>'(?:[^']|'')*'|[^;]*?)\s*(?:;|\s+and\s+|$)", re.I)
FIRST_INVOICE_ID = 300100000000001  # Oracle's ids are large numbers of this shape (300100187048034)


class OracleError(Exception):
    """A refusal in Oracle's words: one or more details, each with its code."""

    def __init__(self, status: int, details: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(detail for detail, _ in details))
        self.status = status
        self.details = details


class OracleSimulator(Simulator):
    kind = "oracle"

    def __init__(
        self,
        faults: Faults | None = None,
        rules: Rules | None = None,
        credentials: Mapping[str, str] | None = None,
        *,
        business_units: frozenset[str] | None = None,
        suppliers: Mapping[str, str] | None = None,
        supplier_sites: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        super().__init__(faults, rules, credentials)
        # None: every business unit / supplier number exists (a supplier named after its number).
        self.business_units = business_units
        self.suppliers = dict(suppliers) if suppliers is not None else None
        self.supplier_sites = dict(supplier_sites or {})
        self.invoices: dict[int, dict[str, Any]] = {}
        # Indexes kept where an invoice is committed, so a request costs the same however many invoices there are
        # (the keys never change after the create): (InvoiceNumber, SupplierNumber, BusinessUnit) -> InvoiceIds,
        # for the duplicate check and the adapter's look-up; (InvoiceNumber, BusinessUnit, Supplier) -> InvoiceIds,
        # for validateInvoice. Each list is in InvoiceId order.
        self._by_number: dict[tuple[str, str, str], list[int]] = {}
        self._by_supplier_name: dict[tuple[str, str, str], list[int]] = {}
        self._next_invoice_id = FIRST_INVOICE_ID
        self._local = threading.local()  # the framework version of the request this thread serves

    def api_routes(self) -> list[Route]:
        return [
            Route("POST", re.compile(re.escape(INVOICES)), self._guarded(self._create_invoice), writes=True),
            Route("GET", re.compile(re.escape(INVOICES)), self._guarded(self._query_invoices)),
            Route("GET", re.compile(re.escape(INVOICES) + r"/(?P<invoice_id>\d+)"), self._guarded(self._get_invoice)),
            Route(
                "POST",
                re.compile(re.escape(INVOICES) + "/action/validateInvoice"),
                self._guarded(self._validate_invoice),
                writes=True,
            ),
            Route("POST", re.compile("/oauth2/v1/token"), self._token),
        ]

    # -- Oracle's error shapes ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Any:
        self._local.version = framework_version(request.headers)
        return super().handle(request)

    def error_reply(self, status: int, message: str, code: str = "") -> Reply:
        return self._error(OracleError(status, [(message, code)]))

    def _error(self, error: OracleError) -> Reply:
        if getattr(self._local, "version", 1) < JSON_ERRORS_FROM:
            return Reply(error.status, str(error).encode(), {"Content-Type": "text/plain; charset=UTF-8"})
        document = {
            "type": "http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
            "title": REASONS.get(error.status, "Error"),
            "status": str(error.status),
            "o:errorDetails": [{"detail": detail, "o:errorCode": code} for detail, code in error.details],
        }
        return Reply(error.status, exact_json(document), {"Content-Type": "application/vnd.oracle.adf.error+json"})

    def document_number(self, fiscal_year: int, sequence: int) -> str:
        # InvoiceId is one sequence across years; create() calls this under the lock.
        number = self._next_invoice_id
        self._next_invoice_id += 1
        return str(number)

    def _guarded(self, handler: Callable[[Request, re.Match[str]], Reply]) -> Callable[[Request, re.Match[str]], Reply]:
        """Auth first, then the handler, with a refusal turned into Oracle's error body."""

        def guarded(request: Request, match: re.Match[str]) -> Reply:
            if not (self.basic_auth_ok(request) or self.bearer_ok(request)):
                self.stats["unauthorized"] += 1
                return Reply(401, b"", {"WWW-Authenticate": 'Basic realm="oracle-fusion"'})
            try:
                return handler(request, match)
            except OracleError as error:
                self.stats["refused"] += 1
                return self._error(error)

        return guarded

    # -- POST /invoices -------------------------------------------------------------------------------------
    def _create_invoice(self, request: Request, match: re.Match[str]) -> Reply:
        require_content_type(request, RESOURCE_TYPES)
        body = read_body(request)
        header = check_header(body)
        lines = [check_line(line, index) for index, line in enumerate(body.get("invoiceLines") or [], start=1)]
        amount: Decimal = header["InvoiceAmount"]
        invoice_type = header.get("InvoiceType", "Standard")
        check_sign(invoice_type, amount)
        business_unit = self._business_unit(header["BusinessUnit"])
        supplier_number, supplier_name = self._supplier(header)
        site = self._site(supplier_number, header.get("SupplierSite"))
        accounting_date: date = header.get("AccountingDate") or header["InvoiceDate"]
        if refusal := self._refusal_in_oracle_words(supplier_number, supplier_name, accounting_date):
            raise OracleError(400, [refusal])
        with self.lock:  # the duplicate check and the commit are one step, as the unique index makes them
            self._check_unique(header["InvoiceNumber"], supplier_number, supplier_name, business_unit)
            document = self.create(
                supplier=supplier_number,
                invoice_reference=header["InvoiceNumber"],
                company_code=business_unit,
                document_date=accounting_date,
                gross_amount=amount,
                currency=header["InvoiceCurrency"],
                body=json.loads(request.body, parse_float=str),  # amounts kept as their digits, never float
            )
            invoice_id = int(document.document_number)
            invoice = {
                "InvoiceId": invoice_id,
                "InvoiceNumber": header["InvoiceNumber"],
                "InvoiceCurrency": header["InvoiceCurrency"],
                "PaymentCurrency": header.get("PaymentCurrency", header["InvoiceCurrency"]),
                "InvoiceAmount": amount,
                "InvoiceDate": header["InvoiceDate"].isoformat(),
                "BusinessUnit": business_unit,
                "Supplier": supplier_name,
                "SupplierNumber": supplier_number,
                "SupplierSite": site,
                "InvoiceType": invoice_type,
                "Description": header.get("Description"),
                "AccountingDate": accounting_date.isoformat(),
                "ControlAmount": header.get("ControlAmount"),
                "ValidationStatus": "Never validated",
                "ApprovalStatus": "Required",
                "PaidStatus": "Unpaid",
                "CanceledFlag": False,
                "CreatedBy": self.credentials.get("username", "integration"),
                "CreationDate": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "invoiceLines": [serialisable_line(line) for line in lines],
                "holds": [],
            }
            self.invoices[invoice_id] = invoice
            self._by_number.setdefault(
                (invoice["InvoiceNumber"], invoice["SupplierNumber"], invoice["BusinessUnit"]), []
            ).append(invoice_id)
            self._by_supplier_name.setdefault(
                (invoice["InvoiceNumber"], invoice["BusinessUnit"], invoice["Supplier"]), []
            ).append(invoice_id)
        href = f"{INVOICES}/{invoice_id}"
        return Reply(
            201,
            exact_json(public_item(invoice, links=True)),
            {"Content-Type": "application/vnd.oracle.adf.resourceitem+json", "Location": href},
        )

    def _business_unit(self, name: str) -> str:
        if self.business_units is not None and name not in self.business_units:
            raise OracleError(400, [(f"The value {name} of the attribute BusinessUnit isn't valid.", "AP_INVALID_BU")])
        return name

    def _supplier(self, header: Mapping[str, Any]) -> tuple[str, str]:
        """The supplier's number and name, from either; Oracle resolves one from the other."""
        number, name = header.get("SupplierNumber"), header.get("Supplier")
        if number is None and name is None:
            raise OracleError(400, [("JBO-27014: Attribute Supplier in Invoice is required.", "27014")])
        directory = self.suppliers
        if directory is None:
            return cast(str, number or name), cast(str, name or number)
        if number is not None:
            if number not in directory:
                raise OracleError(
                    400, [(f"The value {number} of the attribute SupplierNumber isn't valid.", "AP_INVALID_SUPPLIER")]
                )
            return number, directory[number]
        by_name = {value: key for key, value in directory.items()}
        if name not in by_name:
            raise OracleError(
                400, [(f"The value {name} of the attribute Supplier isn't valid.", "AP_INVALID_SUPPLIER")]
            )
        return by_name[name], name

    def _site(self, supplier_number: str, site: str | None) -> str | None:
        sites = self.supplier_sites.get(supplier_number)
        if not sites:
            return site
        if site is None:
            if len(sites) == 1:  # one site: Payables defaults it
                return sites[0]
            raise OracleError(400, [("JBO-27014: Attribute SupplierSite in Invoice is required.", "27014")])
        if site not in sites:
            raise OracleError(
                400, [(f"The value {site} of the attribute SupplierSite isn't valid.", "AP_INVALID_SITE")]
            )
        return site

    def _refusal_in_oracle_words(self, number: str, name: str, accounting_date: date) -> tuple[str, str] | None:
        reason = self.refusal(number, accounting_date)
        if reason is None:
            return None
        if number in self.rules.blocked_suppliers:
            return (
                f"You can't create an invoice for supplier {name} because the supplier is inactive or on hold "
                "for new invoices.",
                "AP_SUPPLIER_ON_HOLD",
            )
        return (
            f"The accounting date {accounting_date.isoformat()} isn't in an open or future-enterable period.",
            "AP_PERIOD_NOT_OPEN",
        )

    def _check_unique(self, number: str, supplier_number: str, supplier_name: str, business_unit: str) -> None:
        if self._by_number.get((number, supplier_number, business_unit)):
            self.stats["duplicate_refused"] += 1
            raise OracleError(
                400,
                [
                    (
                        f"The invoice number {number} already exists for supplier {supplier_name}. "
                        "Enter a unique invoice number.",
                        "AP_DUPLICATE_INVOICE_NUMBER",
                    )
                ],
            )

    # -- GET /invoices, GET /invoices/{id} ------------------------------------------------------------------
    def _query_invoices(self, request: Request, match: re.Match[str]) -> Reply:
        conditions = parse_q(request.arg("q") or "", getattr(self._local, "version", 1))
        limit = int_arg(request, "limit", 25)
        offset = int_arg(request, "offset", 0)
        only_data = (request.arg("onlyData") or "").lower() == "true"
        fields = [name for name in (request.arg("fields") or "").split(",") if name]
        with self.lock:
            matching = [
                invoice
                for invoice in self._candidates(conditions)
                if all(str(invoice.get(name)) == value for name, value in conditions)
            ]
        page = matching[offset : offset + limit]
        collection: dict[str, Any] = {
            "items": [public_item(invoice, links=not only_data, fields=fields) for invoice in page],
            "count": len(page),
            "hasMore": offset + len(page) < len(matching),
            "limit": limit,
            "offset": offset,
        }
        if (request.arg("totalResults") or "").lower() == "true":
            collection["totalResults"] = len(matching)
        if not only_data:
            collection["links"] = [{"rel": "self", "href": INVOICES, "name": "invoices", "kind": "collection"}]
        return Reply(
            200, exact_json(collection), {"Content-Type": "application/vnd.oracle.adf.resourcecollection+json"}
        )

    def _candidates(self, conditions: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """The invoices a query's conditions can match, in InvoiceId order: from an index when the conditions name
        an InvoiceId or the whole (InvoiceNumber, SupplierNumber, BusinessUnit) key, every invoice otherwise. The
        caller still applies every condition to each. The caller holds the lock."""
        wanted = dict(conditions)  # a name given twice: any one of its values narrows, the filter checks the rest
        if "InvoiceId" in wanted:
            text = wanted["InvoiceId"]
            # Only ASCII digits can be an id's text (int() would take other digits, or fail on thousands of them).
            invoice = self.invoices.get(int(text)) if text.isascii() and text.isdigit() and len(text) < 40 else None
            return [] if invoice is None else [invoice]
        if all(name in wanted for name in ("InvoiceNumber", "SupplierNumber", "BusinessUnit")):
            key = (wanted["InvoiceNumber"], wanted["SupplierNumber"], wanted["BusinessUnit"])
            return [self.invoices[invoice_id] for invoice_id in self._by_number.get(key, ())]
        return sorted(self.invoices.values(), key=lambda item: item["InvoiceId"])

    def _get_invoice(self, request: Request, match: re.Match[str]) -> Reply:
        with self.lock:
            invoice = self.invoices.get(int(match["invoice_id"]))
        if invoice is None:
            raise OracleError(404, [(f"The requested resource invoices/{match['invoice_id']} doesn't exist.", "")])
        only_data = (request.arg("onlyData") or "").lower() == "true"
        return Reply(
            200,
            exact_json(public_item(invoice, links=not only_data)),
            {"Content-Type": "application/vnd.oracle.adf.resourceitem+json"},
        )

    # -- POST /invoices/action/validateInvoice --------------------------------------------------------------
    def _validate_invoice(self, request: Request, match: re.Match[str]) -> Reply:
        require_content_type(request, (ACTION_TYPE,))
        body = read_body(request)
        missing = [name for name in ("InvoiceNumber", "BusinessUnit", "Supplier") if not body.get(name)]
        if missing:
            raise OracleError(400, [(f"The action parameter {name} is required.", "27014") for name in missing])
        if body.get("ProcessAction", "Validate") != "Validate":
            raise OracleError(400, [("The value of the parameter ProcessAction isn't valid.", "AP_INVALID_ACTION")])
        with self.lock:
            key = (body["InvoiceNumber"], body["BusinessUnit"], body["Supplier"])
            # Only a text value can equal an invoice's (all three are text); another is not looked up (a list is
            # not even a dict key).
            found = self._by_supplier_name.get(key) if all(isinstance(part, str) for part in key) else None
            invoice = self.invoices[found[0]] if found else None
            if invoice is None:
                raise OracleError(
                    400,
                    [
                        (
                            f"The invoice {body['InvoiceNumber']} for supplier {body['Supplier']} in business unit "
                            f"{body['BusinessUnit']} doesn't exist.",
                            "AP_INVOICE_NOT_FOUND",
                        )
                    ],
                )
            invoice["holds"] = validation_holds(invoice)
            invoice["ValidationStatus"] = "Needs revalidation" if invoice["holds"] else "Validated"
            self.stats["validated"] += 1
        return Reply(
            200,
            exact_json({"result": "The current action Validate Invoice has completed successfully."}),
            {"Content-Type": "application/vnd.oracle.adf.actionresult+json"},
        )

    # -- POST /oauth2/v1/token (the identity domain) --------------------------------------------------------
    def _token(self, request: Request, match: re.Match[str]) -> Reply:
        form = parse_qs(request.body.decode(errors="replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return Reply.json(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type."})
        if not self._client_ok(request):
            self.stats["token_refused"] += 1
            return Reply.json(401, {"error": "invalid_client", "error_description": "Client authentication failed."})
        return Reply.json(200, {"access_token": self.issue_token(3600), "token_type": "Bearer", "expires_in": 3600})

    def _client_ok(self, request: Request) -> bool:
        """The OAuth client's id and secret, sent as HTTP Basic (client_secret_basic)."""
        client_id, secret = self.credentials.get("client_id", ""), self.credentials.get("client_secret", "")
        header = request.headers.get("authorization", "")
        if not client_id or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user, client_id) and hmac.compare_digest(password, secret)

    def expire_tokens(self) -> None:
        """Every bearer token issued runs out now (a test's way to reach the refresh)."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0


REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def framework_version(headers: Mapping[str, str]) -> int:
    try:
        return max(1, int(headers.get("rest-framework-version", "1")))
    except ValueError:
        return 1


def require_content_type(request: Request, accepted: tuple[str, ...]) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in accepted:
        raise OracleError(415, [(f"The media type {content_type or 'none'} isn't supported by this resource.", "")])


def read_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body, parse_float=Decimal)
    except ValueError as exc:
        raise OracleError(400, [(f"The request body isn't valid JSON: {exc}", "")]) from exc
    if not isinstance(body, dict):
        raise OracleError(400, [("The request body must be a JSON object.", "")])
    return body


def check_header(body: Mapping[str, Any]) -> dict[str, Any]:
    """The header attributes as values, or every fault in them, as Oracle lists them together."""
    errors: list[tuple[str, str]] = []
    values = check_attributes(body, HEADER_ATTRIBUTES, "Invoice", errors)
    for name in HEADER_REQUIRED:
        if body.get(name) in (None, ""):
            errors.append((f"JBO-27014: Attribute {name} in Invoice is required.", "27014"))
    if "InvoiceType" in values and values["InvoiceType"] not in INVOICE_TYPES:
        errors.append((f"The value {values['InvoiceType']} of the attribute InvoiceType isn't valid.", "AP_INV_TYPE"))
    currency = values.get("InvoiceCurrency")
    if isinstance(currency, str) and not re.fullmatch(r"[A-Z]{3}", currency):
        errors.append((f"The value {currency} of the attribute InvoiceCurrency isn't valid.", "AP_INVALID_CURRENCY"))
    if "invoiceLines" in values and not isinstance(values["invoiceLines"], list):
        errors.append(("The attribute invoiceLines must be an array.", ""))
    if errors:
        raise OracleError(400, errors)
    return values


def check_line(line: Any, index: int) -> dict[str, Any]:
    errors: list[tuple[str, str]] = []
    if not isinstance(line, dict):
        raise OracleError(400, [(f"Invoice line {index} must be a JSON object.", "")])
    values = check_attributes(line, LINE_ATTRIBUTES, "InvoiceLine", errors)
    if line.get("LineAmount") is None:
        errors.append(("JBO-27014: Attribute LineAmount in InvoiceLine is required.", "27014"))
    values.setdefault("LineNumber", index)
    values.setdefault("LineType", "Item")
    if values["LineType"] not in LINE_TYPES:
        errors.append((f"The value {values['LineType']} of the attribute LineType isn't valid.", "AP_LINE_TYPE"))
    quantity, price, amount = values.get("Quantity"), values.get("UnitPrice"), values.get("LineAmount")
    if quantity is not None and price is not None and amount is not None and quantity * price != amount:
        errors.append(
            (f"Line {values['LineNumber']}: the line amount must equal the quantity times the unit price.", "AP_QTY")
        )
    if errors:
        raise OracleError(400, errors)
    return values


def check_attributes(
    body: Mapping[str, Any], known: Mapping[str, str], entity: str, errors: list[tuple[str, str]]
) -> dict[str, Any]:
    """Each attribute read as its kind; an unknown one is refused, as the REST framework refuses it."""
    values: dict[str, Any] = {}
    for name, value in body.items():
        kind = known.get(name)
        if kind is None:
            errors.append((f"JBO-25058: Definition {name} of type Attribute isn't found in {entity}.", "25058"))
            continue
        if value is None:
            continue
        try:
            values[name] = convert(value, kind)
        except (TypeError, ValueError, InvalidOperation):
            errors.append((f"The value {value!r} of the attribute {name} isn't a valid {kind}.", "27008"))
    return values


def convert(value: Any, kind: str) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(kind)
        return value
    if kind in ("number", "integer"):
        # The framework takes a number or a numeric string ("130.80" in Oracle's own examples).
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise TypeError(kind)
        number = Decimal(value)
        if not number.is_finite() or (kind == "integer" and number != number.to_integral_value()):
            raise ValueError(kind)
        return int(number) if kind == "integer" else number
    if kind == "date":
        if not isinstance(value, str):
            raise TypeError(kind)
        return date.fromisoformat(value)
    if kind == "array":
        return value
    raise ValueError(kind)


def check_sign(invoice_type: str, amount: Decimal) -> None:
    """Payables keeps a credit memo negative and a standard invoice not negative."""
    if invoice_type == "Credit memo" and amount >= 0:
        raise OracleError(400, [("The invoice amount must be negative for a credit memo.", "AP_CM_AMOUNT")])
    if invoice_type == "Standard" and amount < 0:
        raise OracleError(
            400, [("The invoice amount must be zero or positive for a standard invoice.", "AP_STD_AMOUNT")]
        )


def validation_holds(invoice: Mapping[str, Any]) -> list[str]:
    """What Payables validation would hold this invoice for: only the Line Variance check is simulated."""
    lines_total = sum((Decimal(str(line["LineAmount"])) for line in invoice["invoiceLines"]), Decimal(0))
    return ["Line Variance"] if lines_total != invoice["InvoiceAmount"] else []


def parse_q(text: str, version: int) -> list[tuple[str, str]]:
    """`Attr=value;Attr=value` (version 1 query by example) or `Attr='value'` joined by `;` or `and`
    (version 2 on): equality on the attributes the simulator indexes."""
    conditions: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _CONDITION.match(text, position)
        if found is None or found.end() == position:
            raise OracleError(400, [(f"The query parameter q isn't valid: {text}", "")])
        name, value = found["name"], found["value"].strip()
        if name not in QUERYABLE:
            raise OracleError(400, [(f"The attribute {name} in the query parameter q isn't valid.", "")])
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1].replace("''", "'")
        elif version >= 2 and value:
            raise OracleError(400, [(f"The query parameter q isn't valid: text values must be quoted: {text}", "")])
        conditions.append((name, value))
        position = found.end()
    return conditions


def int_arg(request: Request, name: str, default: int) -> int:
    value = request.arg(name)
    if value is None:
        return default
    if not value.isdigit():
        raise OracleError(400, [(f"The value {value} of the query parameter {name} isn't valid.", "")])
    return int(value)


def serialisable_line(line: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in line.items()}


def public_item(invoice: Mapping[str, Any], *, links: bool, fields: list[str] | None = None) -> dict[str, Any]:
    """The invoice as the resource answers it: no internal state, only the asked fields, links unless
    onlyData."""
    item = {name: value for name, value in invoice.items() if name not in ("holds",)}
    if fields:
        item = {name: item.get(name) for name in fields}
    if links:
        href = f"{INVOICES}/{invoice['InvoiceId']}"
        item["links"] = [
            {"rel": "self", "href": href, "name": "invoices", "kind": "item"},
            {"rel": "child", "href": f"{href}/child/invoiceLines", "name": "invoiceLines", "kind": "collection"},
        ]
    return item
