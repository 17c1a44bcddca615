"""Oracle ERP Cloud (Fusion Payables) adapter: an approved invoice becomes a Payables invoice through the
REST API for Oracle Fusion Cloud Financials, resource version 11.13.18.05.

The calls, as Oracle documents them (docs.oracle.com/en/cloud/saas/financials/<release>/farfa/):
- `GET  /fscmRestApi/resources/11.13.18.05/invoices?q=...&onlyData=true` ("Get all invoices"): the look-up,
  with the framework's `q` filter on InvoiceNumber, SupplierNumber and BusinessUnit.
- `POST /fscmRestApi/resources/11.13.18.05/invoices` ("Create an invoice"), the header with its child
  `invoiceLines`, content type `application/vnd.oracle.adf.resourceitem+json`: 201 with the invoice,
  whose `InvoiceId` is the document number.
- `POST /fscmRestApi/resources/11.13.18.05/invoices/action/validateInvoice` ("Validate an invoice"), content
  type `application/vnd.oracle.adf.action+json`, naming the invoice by InvoiceNumber, BusinessUnit and Supplier
  (the supplier's name, which Oracle returned on create): `{"result": "..."}`.

Auth is HTTP Basic (credentials `username`, `password`), or, when the credentials hold `client_id` and
`client_secret`, an OAuth client-credentials token from the identity domain (IDCS `/oauth2/v1/token`) sent as a
bearer token. Every request carries `REST-Framework-Version` (option `rest_framework_version`, default 4): from
version 4 on, Oracle answers errors as JSON (`title`, `status`, `o:errorDetails` [{`detail`, `o:errorCode`}]);
below it, as bare text. Both are read.

Mapping: Supplier = `vendor_id`, sent as `SupplierNumber` (Oracle's supplier number; `Supplier` is the supplier's
name, which we do not have); BusinessUnit = `company_code` (the business unit's name); InvoiceNumber = the
supplier's invoice number; InvoiceDate and AccountingDate = the invoice date. A credit note is InvoiceType
"Credit memo" with negative amounts, as Payables keeps credit memos. Amounts are JSON numbers, written from the
Decimal exactly. The fiscal year is the year of the AccountingDate Oracle answers with.

Oracle has no idempotency key for invoices: `post()` looks the invoice up before creating it, and Payables
itself refuses a second invoice with the same number for the supplier, so a retry after a lost answer ends as
the invoice already booked, never as a second one.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from reconstream.models.invoices import DocumentType, Invoice, InvoiceLine

from .adapter import ErpAdapter, ErpDocument, ErpTarget, send, send_with_token
from .errors import Cause, ErpRejected, ErpUnavailable
from .exact_json import exact_json

log = logging.getLogger(__name__)

RESOURCE_VERSION = "11.13.18.05"
DEFAULT_FRAMEWORK_VERSION = "4"  # the first framework version whose error bodies are JSON
RESOURCE_ITEM = "application/vnd.oracle.adf.resourceitem+json"
ACTION = "application/vnd.oracle.adf.action+json"
DEFAULT_TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a path, not a secret
MAX_DESCRIPTION = 240  # Description is VARCHAR2(240) on the header and the line
# What the look-up asks for: enough to recognise our own invoice and to answer with its document.
LOOKUP_FIELDS = (
    "InvoiceId",
    "InvoiceNumber",
    "SupplierNumber",
    "Supplier",
    "BusinessUnit",
    "InvoiceAmount",
    "InvoiceCurrency",
    "InvoiceDate",
    "AccountingDate",
    "ValidationStatus",
)
NEEDS_VALIDATION = frozenset({"Never validated", "Needs revalidation"})


class OracleAdapter(ErpAdapter):
    kind = "oracle"

    def __init__(self, target: ErpTarget, client: httpx.Client | None = None) -> None:
        super().__init__(target, client)
        version = target.options.get("resource_version", RESOURCE_VERSION)
        self.invoices_path = f"/fscmRestApi/resources/{version}/invoices"
        self.framework_version = target.options.get("rest_framework_version", DEFAULT_FRAMEWORK_VERSION)
        self._token_lock = threading.Lock()
        self._token: str | None = None

    # -- the two calls of the posting service ---------------------------------------------------------------
    def find_posted(self, invoice: Invoice, sent_after: datetime | None = None) -> ErpDocument | None:
        found = self._look_up(invoice)
        return None if found is None else self._document(found, invoice)

    def post(self, invoice: Invoice) -> ErpDocument:
        found = self._look_up(invoice)
        if found is None:
            found = self._create(invoice)
        if found.get("ValidationStatus", "Never validated") in NEEDS_VALIDATION:
            self._validate(found, invoice)
        return self._document(found, invoice)

    # -- look-up -------------------------------------------------------------------------------------------
    def _look_up(self, invoice: Invoice) -> dict[str, Any] | None:
        """The Payables invoice this one was booked as: same number, supplier and business unit, and the same
        signed amount and currency. One with the same number but other amounts is not ours: creating then meets
        Payables' own duplicate refusal, which AP has to see."""
        query = ";".join(
            f"{name}={quoted(value)}"
            for name, value in (
                ("InvoiceNumber", invoice.supplier_invoice_number),
                ("SupplierNumber", invoice.vendor_id),
                ("BusinessUnit", invoice.company_code),
            )
        )
        params = {"q": query, "onlyData": "true", "fields": ",".join(LOOKUP_FIELDS), "limit": "25"}
        response = self._call("GET", self.invoices_path, params=params)
        if response.status_code != 200:
            raise self._refusal(response)
        items = parse_json(response).get("items") or []
        return next((item for item in items if is_same_invoice(item, invoice)), None)

    # -- create and validate -------------------------------------------------------------------------------
    def _create(self, invoice: Invoice) -> dict[str, Any]:
        body = invoice_body(invoice, self.target.options)
        response = self._call(
            "POST", self.invoices_path, writes=True, content=exact_json(body), headers={"Content-Type": RESOURCE_ITEM}
        )
        if response.status_code in (200, 201):
            return parse_json(response)
        refusal = self._refusal(response)
        # A refusal may be Payables' duplicate check meeting our own invoice, committed by an attempt whose
        # answer was lost after the look-up: then it is booked, and that is the answer.
        found = self._look_up(invoice)
        if found is not None:
            return found
        raise refusal

    def _validate(self, created: Mapping[str, Any], invoice: Invoice) -> None:
        """Run Payables validation (tax, tolerances, holds) on the new invoice. The invoice is booked whatever
        this answers: an invoice left unvalidated is picked up by the scheduled Validate Payables Invoices
        process, so a failure here is logged, never turned into a second posting."""
        body = {
            "InvoiceNumber": created.get("InvoiceNumber", invoice.supplier_invoice_number),
            "BusinessUnit": created.get("BusinessUnit", invoice.company_code),
            "Supplier": created.get("Supplier") or invoice.vendor_id,
            "ProcessAction": "Validate",
        }
        try:
            response = self._call(
                "POST",
                f"{self.invoices_path}/action/validateInvoice",
                writes=True,
                content=exact_json(body),
                headers={"Content-Type": ACTION},
            )
        except ErpUnavailable as exc:
            log.warning("oracle invoice %s: validation not run (%s)", created.get("InvoiceId"), exc.cause.value)
            return
        if response.status_code != 200:
            log.warning(
                "oracle invoice %s: validation refused: %s", created.get("InvoiceId"), self._refusal(response).message
            )
            return
        log.info("oracle invoice %s: %s", created.get("InvoiceId"), parse_json(response).get("result", ""))

    def _document(self, item: Mapping[str, Any], invoice: Invoice) -> ErpDocument:
        invoice_id = item.get("InvoiceId")
        if invoice_id is None:
            raise ErpUnavailable(Cause.SERVER_ERROR, "oracle answered an invoice without InvoiceId")
        booked_on = item.get("AccountingDate") or item.get("InvoiceDate")
        fiscal_year = date.fromisoformat(str(booked_on)[:10]).year if booked_on else invoice.invoice_date.year
        return ErpDocument(self.target.name, str(invoice_id), fiscal_year)

    # -- HTTP with auth --------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, writes: bool = False, **kwargs: Any) -> httpx.Response:
        """One request with the framework version and credentials. A bearer token the API refuses (expired,
        revoked) is fetched again once; a 401 refuses nothing committed, so the request is safe to repeat."""
        headers = {"REST-Framework-Version": self.framework_version, **kwargs.pop("headers", {})}
        if not self._uses_token():
            auth = httpx.BasicAuth(
                self.target.credentials.get("username", ""), self.target.credentials.get("password", "")
            )
            return send(self.client, method, path, writes=writes, headers=headers, auth=auth, **kwargs)
        return send_with_token(self.client, method, path, self._bearer_token, writes=writes, headers=headers, **kwargs)

    def _uses_token(self) -> bool:
        return bool(self.target.credentials.get("client_id"))

    def _bearer_token(self, refused: str | None = None) -> str:
        """The shared token, fetched once for all threads; `refused` drops it unless another thread has
        already replaced it."""
        with self._token_lock:
            if self._token is None or self._token == refused:
                self._token = self._fetch_token()
            return self._token

    def _fetch_token(self) -> str:
        credentials = self.target.credentials
        form = {"grant_type": "client_credentials"}
        if scope := self.target.options.get("scope"):
            form["scope"] = scope
        response = send(
            self.client,
            "POST",
            self.target.options.get("token_url", DEFAULT_TOKEN_PATH),
            data=form,
            auth=httpx.BasicAuth(credentials.get("client_id", ""), credentials.get("client_secret", "")),
        )
        token = parse_json(response).get("access_token") if response.status_code == 200 else None
        if not isinstance(token, str) or not token:
            raise ErpUnavailable(Cause.AUTH, f"token request answered HTTP {response.status_code} without a token")
        return token

    # -- Oracle's error bodies -------------------------------------------------------------------------------
    def _refusal(self, response: httpx.Response) -> ErpRejected:
        message, code = error_message(response)
        return ErpRejected(message, status=response.status_code, code=code)


def invoice_body(invoice: Invoice, options: Mapping[str, str]) -> dict[str, Any]:
    """The `invoices` create payload: header and `invoiceLines`, signed negative for a credit memo."""
    credit = invoice.document_type is DocumentType.CREDIT_NOTE
    sign = Decimal(-1) if credit else Decimal(1)
    body: dict[str, Any] = {
        "InvoiceNumber": invoice.supplier_invoice_number,
        "InvoiceType": "Credit memo" if credit else "Standard",
        "InvoiceCurrency": invoice.currency,
        "InvoiceAmount": sign * invoice.gross_amount,
        "InvoiceDate": invoice.invoice_date.isoformat(),
        "AccountingDate": invoice.invoice_date.isoformat(),
        "BusinessUnit": invoice.company_code,
        "SupplierNumber": invoice.vendor_id,
        "Description": f"AP invoice {invoice.invoice_id}"[:MAX_DESCRIPTION],
    }
    if site := options.get("supplier_site"):
        body["SupplierSite"] = site
    body["invoiceLines"] = invoice_lines(invoice, sign, options.get("distribution_combination"))
    return body


def invoice_lines(invoice: Invoice, sign: Decimal, distribution: str | None) -> list[dict[str, Any]]:
    """Item lines at their net amounts, then the tax as one Tax line, so the lines add up to InvoiceAmount
    (Payables puts a Line Variance hold on an invoice whose lines do not)."""
    lines = [item_line(line, sign) for line in invoice.lines] or [
        {"LineNumber": 1, "LineType": "Item", "LineAmount": sign * invoice.net_amount}
    ]
    if distribution:
        for line in lines:
            line["DistributionCombination"] = distribution
    if invoice.tax_amount:
        lines.append(
            {
                "LineNumber": max(line["LineNumber"] for line in lines) + 1,
                "LineType": "Tax",
                "LineAmount": sign * invoice.tax_amount,
                "Description": "Tax",
            }
        )
    return lines


def item_line(line: InvoiceLine, sign: Decimal) -> dict[str, Any]:
    body: dict[str, Any] = {"LineNumber": line.line_no, "LineType": "Item", "LineAmount": sign * line.net_amount}
    if line.description:
        body["Description"] = line.description[:MAX_DESCRIPTION]
    # Quantity and price only when they make the amount: Payables checks them against it.
    if line.quantity * line.unit_price == line.net_amount:
        body["Quantity"] = sign * line.quantity
        body["UnitPrice"] = line.unit_price
    return body


def is_same_invoice(item: Mapping[str, Any], invoice: Invoice) -> bool:
    sign = -1 if invoice.document_type is DocumentType.CREDIT_NOTE else 1
    try:
        amount = Decimal(str(item.get("InvoiceAmount")))
    except ArithmeticError:
        return False
    return (
        str(item.get("InvoiceNumber")) == invoice.supplier_invoice_number
        and str(item.get("SupplierNumber")) == invoice.vendor_id
        and str(item.get("BusinessUnit")) == invoice.company_code
        and item.get("InvoiceCurrency") == invoice.currency
        and amount == sign * invoice.gross_amount
    )


def quoted(value: str) -> str:
    """A `q` literal: single quotes, an embedded quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def parse_json(response: httpx.Response) -> dict[str, Any]:
    """A JSON object body, with numbers as Decimal so no amount passes through float."""
    try:
        document = json.loads(response.content or b"{}", parse_float=Decimal)
    except ValueError as exc:
        raise ErpUnavailable(Cause.SERVER_ERROR, f"HTTP {response.status_code}: body is not JSON") from exc
    if not isinstance(document, dict):
        raise ErpUnavailable(Cause.SERVER_ERROR, f"HTTP {response.status_code}: body is not a JSON object")
    return document


def error_message(response: httpx.Response) -> tuple[str, str | None]:
    """Oracle's words and code from an error body: JSON from framework version 4 on (`o:errorDetails`), bare
    text before it."""
    content_type = response.headers.get("Content-Type", "")
    text = response.text.strip()
    if "json" not in content_type:
        return text or f"HTTP {response.status_code}", None
    try:
        document = json.loads(text)
    except ValueError:
        return text or f"HTTP {response.status_code}", None
    if not isinstance(document, dict):
        return text, None
    details = [d for d in document.get("o:errorDetails") or [] if isinstance(d, dict) and d.get("detail")]
    if details:
        code = details[0].get("o:errorCode")
        return "; ".join(str(d["detail"]) for d in details), None if code is None else str(code)
    message = document.get("detail") or document.get("title") or f"HTTP {response.status_code}"
    code = document.get("o:errorCode")
    return str(message), None if code is None else str(code)
