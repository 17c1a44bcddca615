"""SAP S/4HANA adapter: supplier invoices posted through the OData v2 service API_SUPPLIERINVOICE_PROCESS_SRV
(SAP API Business Hub "Supplier Invoice", communication scenario SAP_COM_0057).

The shape follows the service's metadata (EDMX, entity types A_SupplierInvoiceType,
A_SuplrInvcItemPurOrdRefType, A_SupplierInvoiceItemGLAcctType, A_SupplierInvoiceTaxType) and its OpenAPI
description (the `-create` schemas say which properties a create needs):

- create: POST .../A_SupplierInvoice, one deep insert of the header with its items (`to_SuplrInvcItemPurOrdRef`
  for lines that reference a purchase order item, `to_SupplierInvoiceItemGLAcct` for the others) and its tax
  (`to_SupplierInvoiceTax`); 201 answers `d.SupplierInvoice` and `d.FiscalYear`.
- a credit note is a credit memo: `SupplierInvoiceIsCreditMemo = "X"`, amounts positive, G/L items on the credit
  side (`DebitCreditCode = "H"`), as SAP invoice verification books one.
- auth: Basic on every request; a write needs the CSRF token from `GET <service root>` with
  `X-CSRF-Token: Fetch` and the session cookie the token is bound to. SAP refuses a missing or expired token
  with 403 and `x-csrf-token: Required`; the token is fetched again once.
- errors: the OData v2 body `{"error": {"code", "message": {"lang", "value"}, "innererror": {"errordetails"}}}`.
- no idempotency key: `find_posted` looks the document up by the supplier's reference, invoicing party and
  company code with `$filter`.

Target options: `gl_account` (the expense account of lines without a PO reference, required), `tax_code` (the
tax code of a rate not in `tax_codes`, default V1), `tax_codes` (`rate=code` pairs, default `0=V0`),
`purchase_order_unit` (the order unit sent with PO quantities, default EA), `sap_client` (the `sap-client`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from reconstream.models.invoices import DocumentType, Invoice

from .adapter import ErpAdapter, ErpDocument, ErpTarget, send
from .errors import Cause, ErpError, ErpRejected, ErpUnavailable

SERVICE_ROOT = "/sap/opu/odata/sap/API_SUPPLIERINVOICE_PROCESS_SRV"
INVOICES = f"{SERVICE_ROOT}/A_SupplierInvoice"
CREDIT_MEMO = "X"  # SupplierInvoiceIsCreditMemo: a single-character flag, blank for an invoice
DEBIT, CREDIT = "S", "H"  # DebitCreditCode: Soll / Haben
ITEM_TEXT_LENGTH = 50  # SupplierInvoiceItemText MaxLength in the metadata
DOCUMENT_REFUSALS = frozenset({400, 409, 412, 422})  # answers about the document itself
LOOKUP_LIMIT = 20  # documents one reference of one supplier can have: reversed ones and their repost
_GATEWAY_WRAPPER = "/IWBEP/CX_MGW_BUSI_EXCEPTION"  # the detail SAP Gateway adds to every business error


@dataclass(frozen=True)
class PostingSettings:
    """What SAP needs that an AP invoice does not carry: the account and tax codes it posts with."""

    gl_account: str
    default_tax_code: str
    tax_codes: Mapping[str, str]  # tax rate as text ("19", "7.5") -> SAP tax code
    purchase_order_unit: str
    sap_client: str | None

    @classmethod
    def from_options(cls, target: ErpTarget) -> PostingSettings:
        options = target.options
        gl_account = options.get("gl_account", "").strip()
        if not gl_account:
            # Found at start-up rather than at the first invoice without a PO: no invoice could fix it.
            raise ValueError(f"ERP target {target.name}: options.gl_account (the expense G/L account) is required")
        return cls(
            gl_account=gl_account,
            default_tax_code=options.get("tax_code", "V1"),
            tax_codes=_tax_code_table(options.get("tax_codes", "0=V0")),
            purchase_order_unit=options.get("purchase_order_unit", "EA"),
            sap_client=options.get("sap_client") or None,
        )

    def tax_code(self, rate: Decimal) -> str:
        return self.tax_codes.get(_rate_key(rate), self.default_tax_code)


@dataclass(frozen=True)
class _CsrfSession:
    """A CSRF token and the session cookie it is bound to: SAP checks the two together."""

    token: str
    cookie: str


class SapAdapter(ErpAdapter):
    kind = "sap"

    def __init__(self, target: ErpTarget, client: httpx.Client | None = None) -> None:
        super().__init__(target, client)
        self.settings = PostingSettings.from_options(target)
        self._auth = httpx.BasicAuth(target.credentials.get("username", ""), target.credentials.get("password", ""))
        # One session for every thread: fetched once, renewed once by whichever thread first sees it refused.
        self._session_lock = threading.Lock()
        self._session: _CsrfSession | None = None

    # -- the two operations --------------------------------------------------------------------------------
    def find_posted(self, invoice: Invoice, sent_after: datetime | None = None) -> ErpDocument | None:
        query = {
            "$filter": lookup_filter(invoice),
            "$select": "SupplierInvoice,FiscalYear,SupplierInvoiceIsCreditMemo",
            "$top": str(LOOKUP_LIMIT),
            "$format": "json",
        }
        url = self._url(INVOICES, query)
        response = send(self.client, "GET", url, auth=self._auth, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise _unanswered_lookup(response, url)
        wanted_flag = CREDIT_MEMO if invoice.document_type is DocumentType.CREDIT_NOTE else ""
        for entry in _results(response):
            # The same reference can be an invoice and, later, its credit memo: only the same kind is a match.
            if (entry.get("SupplierInvoiceIsCreditMemo") or "") == wanted_flag:
                return self._document(entry)
        return None

    def post(self, invoice: Invoice) -> ErpDocument:
        body = supplier_invoice_body(invoice, self.settings)
        response = self._write("POST", self._url(INVOICES), body)
        if response.status_code == 201:
            return self._document(_entity(response))
        if response.status_code in DOCUMENT_REFUSALS:
            raise rejection(response)
        # 404, 405, 406 ...: the service or the URL is wrong, which no change to the invoice fixes and a fixed
        # configuration will: no verdict on the document, so it waits for a retry rather than failing for good.
        code, message, _ = _odata_error(response)
        raise ErpUnavailable(Cause.SERVER_ERROR, f"POST {INVOICES}: HTTP {response.status_code} {code or ''} {message}")

    # -- CSRF-protected writes ----------------------------------------------------------------------------
    def _write(self, method: str, url: str, body: Mapping[str, Any]) -> httpx.Response:
        session = self._current_session()
        response = self._send_write(method, url, body, session)
        if csrf_refused(response):
            # Expired or lost with its session: fetch a fresh one once; a second refusal is not a token problem.
            session = self._renewed_session(stale=session)
            response = self._send_write(method, url, body, session)
            if csrf_refused(response):
                raise ErpUnavailable(Cause.AUTH, f"{method} {url}: CSRF token refused again after a fresh fetch")
        if response.status_code == 403:
            raise ErpUnavailable(Cause.AUTH, f"{method} {url}: HTTP 403, the user is not authorised")
        return response

    def _send_write(self, method: str, url: str, body: Mapping[str, Any], session: _CsrfSession) -> httpx.Response:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-CSRF-Token": session.token,
            # Set explicitly, so the token goes with the cookie it was issued for, whatever the client's jar holds.
            "Cookie": session.cookie,
        }
        return send(self.client, method, url, writes=True, auth=self._auth, headers=headers, json=body)

    def _current_session(self) -> _CsrfSession:
        with self._session_lock:
            if self._session is None:
                self._session = self._fetch_session()
            return self._session

    def _renewed_session(self, stale: _CsrfSession) -> _CsrfSession:
        with self._session_lock:
            # Another thread may have renewed it while this one waited: use theirs rather than fetch again.
            if self._session is None or self._session == stale:
                self._session = self._fetch_session()
            return self._session

    def _fetch_session(self) -> _CsrfSession:
        url = self._url(f"{SERVICE_ROOT}/")
        headers = {"X-CSRF-Token": "Fetch", "Accept": "application/json"}
        response = send(self.client, "GET", url, auth=self._auth, headers=headers)
        token = response.headers.get("x-csrf-token", "")
        if response.status_code != 200 or not token or token.lower() == "required":
            raise ErpUnavailable(Cause.AUTH, f"GET {url}: no CSRF token (HTTP {response.status_code})")
        return _CsrfSession(token=token, cookie=_session_cookie(response))

    # -- small readers ------------------------------------------------------------------------------------
    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        pairs = dict(query or {})
        if self.settings.sap_client:
            pairs["sap-client"] = self.settings.sap_client
        if not pairs:
            return path
        # Spaces as %20, as OData's URI conventions write them, not form-encoding's '+'.
        return path + "?" + "&".join(f"{name}={quote(value, safe=_QUERY_SAFE)}" for name, value in pairs.items())

    def _document(self, entity: Mapping[str, Any]) -> ErpDocument:
        number = str(entity.get("SupplierInvoice") or "")
        year = str(entity.get("FiscalYear") or "")
        if not number or not year.isdigit():
            raise ErpUnavailable(
                Cause.SERVER_ERROR, f"SAP answered without SupplierInvoice/FiscalYear: {entity!r:.200}"
            )
        return ErpDocument(erp_system=self.target.name, document_number=number, fiscal_year=int(year))


_QUERY_SAFE = "$',()"


# -- the request body ---------------------------------------------------------------------------------------
def supplier_invoice_body(invoice: Invoice, settings: PostingSettings) -> dict[str, Any]:
    """The deep insert of A_SupplierInvoice: header, items and tax, amounts as Edm.Decimal strings."""
    credit_memo = invoice.document_type is DocumentType.CREDIT_NOTE
    items = _items(invoice, settings)
    po_items: list[dict[str, Any]] = []
    gl_items: list[dict[str, Any]] = []
    for item in items:
        if invoice.po_number and item.po_line_no is not None:
            po_items.append(_po_item(len(po_items) + 1, invoice, item, settings))
        else:
            gl_items.append(_gl_item(len(gl_items) + 1, invoice, item, credit_memo, settings))
    body: dict[str, Any] = {
        "CompanyCode": invoice.company_code,
        "DocumentDate": edm_datetime(invoice.invoice_date),
        "PostingDate": edm_datetime(invoice.invoice_date),
        "SupplierInvoiceIDByInvcgParty": invoice.supplier_invoice_number,
        "InvoicingParty": invoice.vendor_id,
        "DocumentCurrency": invoice.currency,
        "InvoiceGrossAmount": edm_decimal(invoice.gross_amount),
        "SupplierInvoiceIsCreditMemo": CREDIT_MEMO if credit_memo else "",
        # The AP platform's tax amount is what the supplier billed: post it, do not let SAP recompute it.
        "TaxIsCalculatedAutomatically": False,
        **_payment_terms(invoice),
        "to_SupplierInvoiceTax": {"results": _tax_lines(invoice, items)},
    }
    if po_items:
        body["to_SuplrInvcItemPurOrdRef"] = {"results": po_items}
    if gl_items:
        body["to_SupplierInvoiceItemGLAcct"] = {"results": gl_items}
    return body


@dataclass(frozen=True)
class _Item:
    """One invoice line as SAP books it, with the tax code its rate maps to."""

    net_amount: Decimal
    quantity: Decimal
    description: str
    po_line_no: int | None
    tax_rate: Decimal
    tax_code: str


def _items(invoice: Invoice, settings: PostingSettings) -> list[_Item]:
    if invoice.lines:
        return [
            _Item(
                line.net_amount,
                line.quantity,
                line.description,
                line.po_line_no,
                line.tax_rate,
                settings.tax_code(line.tax_rate),
            )
            for line in invoice.lines
        ]
    # A header-only invoice posts as one item of its net amount, at the rate its totals imply.
    rate = (
        (invoice.tax_amount * 100 / invoice.net_amount).quantize(Decimal("0.01")) if invoice.net_amount else Decimal(0)
    )
    return [_Item(invoice.net_amount, Decimal(1), "", None, rate, settings.tax_code(rate))]


_PO_LENGTH = 10  # EBELN, CHAR 10


def sap_purchase_order(number: str) -> str:
    """The SAP purchase order number (EBELN, ten characters) an AP platform's PO number stands for. Platforms
    often show it with a prefix of their own ("PO-4500000157"); when the number is longer than SAP's and its
    digits alone fit, those digits are SAP's number. Anything else goes as it is, and SAP says what is wrong."""
    if len(number) <= _PO_LENGTH:
        return number
    digits = "".join(character for character in number if character.isdigit())
    return digits if 0 < len(digits) <= _PO_LENGTH and number.endswith(digits) else number


def _po_item(number: int, invoice: Invoice, item: _Item, settings: PostingSettings) -> dict[str, Any]:
    return {
        "SupplierInvoiceItem": str(number),
        "PurchaseOrder": sap_purchase_order(invoice.po_number or ""),
        "PurchaseOrderItem": str(item.po_line_no),
        "TaxCode": item.tax_code,
        "DocumentCurrency": invoice.currency,
        "SupplierInvoiceItemAmount": edm_decimal(item.net_amount),
        "QuantityInPurchaseOrderUnit": edm_decimal(item.quantity),
        "PurchaseOrderQuantityUnit": settings.purchase_order_unit,
        **_item_text(item),
    }


def _gl_item(
    number: int, invoice: Invoice, item: _Item, credit_memo: bool, settings: PostingSettings
) -> dict[str, Any]:
    return {
        "SupplierInvoiceItem": str(number),
        "CompanyCode": invoice.company_code,
        "GLAccount": settings.gl_account,
        "DebitCreditCode": CREDIT if credit_memo else DEBIT,
        "TaxCode": item.tax_code,
        "DocumentCurrency": invoice.currency,
        "SupplierInvoiceItemAmount": edm_decimal(item.net_amount),
        **_item_text(item),
    }


def _item_text(item: _Item) -> dict[str, str]:
    # A description, not a key: cut to the field's length rather than have SAP refuse the invoice for it.
    text = item.description.strip()[:ITEM_TEXT_LENGTH]
    return {"SupplierInvoiceItemText": text} if text else {}


def _tax_lines(invoice: Invoice, items: Iterable[_Item]) -> list[dict[str, Any]]:
    """One tax line per tax code: its base, and its share of the invoice's tax amount. The shares are the
    rate applied to the base, with the rounding difference on the largest base, so they add up exactly."""
    bases: dict[str, Decimal] = {}
    rates: dict[str, Decimal] = {}
    for item in items:
        bases[item.tax_code] = bases.get(item.tax_code, Decimal(0)) + item.net_amount
        rates[item.tax_code] = item.tax_rate
    exponent = invoice.tax_amount.as_tuple().exponent
    unit = Decimal(1).scaleb(exponent if isinstance(exponent, int) and exponent < 0 else 0)
    shares = {code: (bases[code] * rates[code] / 100).quantize(unit) for code in bases}
    largest = max(bases, key=lambda code: bases[code])
    shares[largest] += invoice.tax_amount - sum(shares.values(), Decimal(0))
    return [
        {
            "TaxCode": code,
            "DocumentCurrency": invoice.currency,
            "TaxAmount": edm_decimal(shares[code]),
            "TaxBaseAmountInTransCrcy": edm_decimal(bases[code]),
        }
        for code in bases
    ]


def _payment_terms(invoice: Invoice) -> dict[str, Any]:
    """The due date as SAP keeps it: a baseline date and net days (Edm.Decimal(3,0), so 0 to 999)."""
    if invoice.due_date is None:
        return {}
    days = (invoice.due_date - invoice.invoice_date).days
    if not 0 <= days <= 999:
        return {}
    return {"DueCalculationBaseDate": edm_datetime(invoice.invoice_date), "NetPaymentDays": str(days)}


def _tax_code_table(text: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for pair in text.split(","):
        rate, _, code = pair.partition("=")
        if rate.strip() and code.strip():
            table[_rate_key(Decimal(rate.strip()))] = code.strip()
    return table


def _rate_key(rate: Decimal) -> str:
    """19, 19.0 and 19.00 are one rate: the table's key is the normalised text."""
    return format(rate.normalize(), "f")


# -- OData v2 literals --------------------------------------------------------------------------------------
def edm_decimal(value: Decimal) -> str:
    """Edm.Decimal in OData v2 JSON is a string: the Decimal's own digits, never through float."""
    return format(value, "f")


def edm_datetime(day: date) -> str:
    """Edm.DateTime in OData v2 JSON: milliseconds since the epoch, midnight UTC of the day."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return f"/Date({int(midnight.timestamp()) * 1000})/"


def odata_string(value: str) -> str:
    """A string literal of $filter: quoted, with a quote inside doubled (OData v2 URI conventions)."""
    return "'" + value.replace("'", "''") + "'"


def lookup_filter(invoice: Invoice) -> str:
    return (
        f"SupplierInvoiceIDByInvcgParty eq {odata_string(invoice.supplier_invoice_number)}"
        f" and InvoicingParty eq {odata_string(invoice.vendor_id)}"
        f" and CompanyCode eq {odata_string(invoice.company_code)}"
    )


# -- reading answers ----------------------------------------------------------------------------------------
def _session_cookie(response: httpx.Response) -> str:
    """The cookies the token is bound to: those the fetch set, or, when it joined the session the client's jar
    already had (no Set-Cookie then), the ones the fetch carried."""
    issued = "; ".join(f"{cookie.name}={cookie.value}" for cookie in response.cookies.jar)
    return issued or response.request.headers.get("cookie", "")


def csrf_refused(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.headers.get("x-csrf-token", "").lower() == "required"


def rejection(response: httpx.Response) -> ErpRejected:
    """SAP's refusal in its own words: the message, and the other error details that say something more."""
    code, message, details = _odata_error(response)
    words = [message, *(detail for detail in details if detail != message)]
    return ErpRejected("; ".join(word for word in words if word), status=response.status_code, code=code)


def _unanswered_lookup(response: httpx.Response, url: str) -> ErpError:
    if response.status_code == 403:
        return ErpUnavailable(Cause.AUTH, f"GET {url}: HTTP 403, the user is not authorised")
    # A look-up SAP refuses (a filter it cannot read) tells nothing about the invoice: not a verdict on it.
    code, message, _ = _odata_error(response)
    return ErpUnavailable(Cause.SERVER_ERROR, f"GET {url}: HTTP {response.status_code} {code or ''} {message}")


def _odata_error(response: httpx.Response) -> tuple[str | None, str, list[str]]:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return None, f"HTTP {response.status_code}: {response.text.strip()[:300]}", []
    if not isinstance(error, dict):
        return None, f"HTTP {response.status_code}: {str(error)[:300]}", []
    message = error.get("message")
    text = str(message.get("value", "")) if isinstance(message, dict) else str(message or "")
    inner = error.get("innererror")
    raw_details = inner.get("errordetails", []) if isinstance(inner, dict) else []
    details = [
        str(detail.get("message", ""))
        for detail in raw_details
        if isinstance(detail, dict)
        and detail.get("severity", "error") == "error"
        and not str(detail.get("code", "")).startswith(_GATEWAY_WRAPPER)
    ]
    code = error.get("code")
    return (str(code) if code else None), text, details


def _entity(response: httpx.Response) -> Mapping[str, Any]:
    try:
        entity = response.json()["d"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ErpUnavailable(Cause.SERVER_ERROR, "SAP answered 201 without an OData entity") from exc
    if not isinstance(entity, dict):
        raise ErpUnavailable(Cause.SERVER_ERROR, "SAP answered 201 without an OData entity")
    return entity


def _results(response: httpx.Response) -> list[Mapping[str, Any]]:
    try:
        results = response.json()["d"]["results"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ErpUnavailable(Cause.SERVER_ERROR, "SAP answered the look-up without d.results") from exc
    return [entry for entry in results if isinstance(entry, dict)]
