"""A simulated Infor ION tenant with an LN-like AP back end: the pieces an external application meets when it
posts a supplier invoice as a BOD and reads the reply.

What is implemented, and from where (see tests/fixtures/erp/infor/SOURCE.md for the citations):
- OAuth 2.0 resource owner grant at `{pu}{ot}` (the `.ionapi` file's keys; infor-cloud/ion-api-sdk README): a form
  POST with grant_type=password, username=saak, password=sask, client_id=ci, client_secret=cs, answered with a
  Bearer token that expires; refused grants answered 400/401 in RFC 6749 error JSON.
- The ION Messaging Service (IMS) through the API gateway, `POST /{ti}/IONSERVICES/api/ion/messaging/service/
  v2/multipartMessage`: multipart/form-data with a `ParameterRequest` JSON part (documentName, fromLogicalId,
  toLogicalId, messageId, encoding, characterSet) and a `MessagePayload` part (the BOD). Answers 201 when ION takes
  the message, 400 for a malformed message (missing property, unreadable XML), 403 when fromLogicalId is not the
  logical id of the calling client, 412 when the connection point does not accept the document (Infor ION
  Development Guide, "Application sends a message to ION" and "IMS v3"). Also `GET .../service/ping`.
- ION itself does not deduplicate. The message is routed to the ERP, which books it or refuses it and publishes an
  `AcknowledgeSupplierInvoice` BOD (Acknowledge/OriginalApplicationArea, ResponseCriteria/ResponseExpression
  actionCode Accepted|Rejected; for a refusal BODFailureMessage/ErrorProcessMessage/Description). The ERP's rules:
  required header fields, a three-letter currency the amounts agree on, a due date not before the document date,
  line amounts adding up to the header's net amount and net + tax to the total, blocked supplier, closed period,
  and LN's refusal of a second invoice with the same supplier and supplier invoice number in the accounting entity.
  A credit note (SupplierInvoice typeCode CreditNote) is booked with a negative amount.
- The document flow stores every Acknowledge in the Data Lake, read with the Data Lake API
  `GET /{ti}/IONSERVICES/datalakeapi/v1/payloads/list` (filter, sort, page, records) and
  `GET .../v1/payloads/streambyid?datalakeId=...` (Infor ION Development Guide, "Retrieving data objects").
  Indexing lag is simulated by `index_lag_seconds`: an Acknowledge becomes visible that long after it is made.

The BOD namespace is Infor's `http://schema.infor.com/InforOAGIS/2`; element names follow the OAGIS Invoice and
Acknowledge structure (OAGIS 10.4, OAGi/Score) with Infor's OAGIS 9-style spellings (DocumentID/ID, PartyIDs/ID,
currencyID), as the shape test's fixture records.
"""

from __future__ import annotations

import bisect
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email import message_from_bytes
from email.message import Message
from email.policy import HTTP
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import parse_qs

import orjson
from lxml import etree

from .simulator import DocumentRefused, DocumentStalled, Faults, Reply, Request, Route, Rules, Simulator

NS = "http://schema.infor.com/InforOAGIS/2"
PROCESS_DOCUMENT = "ProcessSupplierInvoice"
ACKNOWLEDGE_DOCUMENT = "AcknowledgeSupplierInvoice"
ERP_LOGICAL_ID = "lid://infor.ln.ln1"
CREDIT_NOTE_TYPE = "CreditNote"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_CURRENCY = re.compile(r"[A-Z]{3}")
_FILTER_TERM = re.compile(r"\s*(dl_[a-z_]+)\s+(eq|ge|le|gt|lt)\s+'([^']*)'\s*")


def q(name: str) -> str:
    """An element name in Infor's BOD namespace."""
    return f"{{{NS}}}{name}"


@dataclass(frozen=True)
class DataObject:
    """One BOD as the Data Lake holds it: its indexed properties and the payload."""

    dl_id: str
    document_name: str
    from_logical_id: str
    indexed_at: datetime
    visible_at: float  # epoch seconds: before it the object is not yet indexed
    payload: bytes

    def fields(self) -> dict[str, Any]:
        return self._fields

    @cached_property
    def _fields(self) -> dict[str, Any]:
        return {
            "dl_id": self.dl_id,
            "dl_document_name": self.document_name,
            "dl_from_logical_id": self.from_logical_id,
            "dl_document_indexed_date": _iso(self.indexed_at),
            "dl_document_date": _iso(self.indexed_at),
        }


@dataclass
class _LakeRun:
    """Data objects in the order indexed, with their dl_document_indexed_date and their visible_at alongside (both
    nondecreasing while `InforSimulator._visible_in_order`), for bisecting instead of filtering each object."""

    objects: list[DataObject]
    keys: list[str]
    visible: list[float]

    def append(self, data_object: DataObject, key: str) -> None:
        self.objects.append(data_object)
        self.keys.append(key)
        self.visible.append(data_object.visible_at)


class Refused(Exception):
    """The ERP refuses the document: the text goes into the Acknowledge's BODFailureMessage."""


class InforSimulator(Simulator):
    kind: ClassVar[str] = "infor"

    def __init__(
        self,
        faults: Faults | None = None,
        rules: Rules | None = None,
        credentials: Mapping[str, str] | None = None,
        *,
        index_lag_seconds: float = 0.0,
        token_lifetime_seconds: int = 7200,
    ) -> None:
        self.index_lag_seconds = index_lag_seconds
        self.token_lifetime_seconds = token_lifetime_seconds
        self.data_lake: list[DataObject] = []  # in the order indexed
        self._lake_keys: list[str] = []  # each object's dl_document_indexed_date, in the same order (nondecreasing)
        self._lake_by_id: dict[str, DataObject] = {}
        self._lake_visible: list[float] = []  # each object's visible_at, in the same order
        # The lake by (dl_document_name, dl_from_logical_id), each in the order indexed: a list filtered on both
        # reads its run, not the whole lake.
        self._lake_runs: dict[tuple[str, str], _LakeRun] = {}
        # Whether visible_at has never decreased along the lake (the index lag unchanged, the clock not stepped
        # back): the not-yet-visible objects are then the last ones, found by bisecting.
        self._visible_in_order = True
        self._booked: set[tuple[str, str, str]] = set()  # (supplier, reference, company): LN's duplicate check
        self.messages: list[dict[str, Any]] = []  # ParameterRequests ION took, for tests to read
        super().__init__(faults, rules, credentials)
        self.tenant = self.credentials.get("ti", "TENANT_TST")
        # The IMS connection point's logical id: the one fromLogicalId must name for this client id.
        self.client_logical_id = self.credentials.get("logical_id", "lid://infor.ims.reconstream")

    # -- routes -------------------------------------------------------------------------------------------
    def api_routes(self) -> list[Route]:
        tenant = r"(?P<tenant>[^/]+)"
        ims = rf"/{tenant}/IONSERVICES/api/ion/messaging/service"
        lake = rf"/{tenant}/IONSERVICES/datalakeapi/v1/payloads"
        return [
            Route("POST", re.compile(rf"/{tenant}/as/token\.oauth2"), self._token),
            Route("GET", re.compile(rf"{ims}/ping"), self._ping),
            Route("POST", re.compile(rf"{ims}/v2/multipartMessage"), self._multipart_message, writes=True),
            Route("GET", re.compile(rf"{lake}/list"), self._lake_list),
            Route("GET", re.compile(rf"{lake}/streambyid"), self._lake_stream_by_id),
        ]

    def error_reply(self, status: int, message: str, code: str = "") -> Reply:
        """The gateway's and IMS's JSON error: a status, a short code and the message."""
        return Reply.json(status, {"status": status, "error": code or "ERROR", "message": message})

    def document_number(self, fiscal_year: int, sequence: int) -> str:
        return f"PIN{fiscal_year % 100:02d}{sequence:06d}"

    # -- OAuth 2.0 ----------------------------------------------------------------------------------------
    def _token(self, request: Request, match: re.Match[str]) -> Reply:
        form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "password":
            return _oauth_error(400, "unsupported_grant_type", "only the resource owner password grant is enabled")
        if not (
            _same(form.get("client_id"), self.credentials.get("ci"))
            and _same(form.get("client_secret"), self.credentials.get("cs"))
        ):
            return _oauth_error(401, "invalid_client", "client authentication failed")
        if not (
            _same(form.get("username"), self.credentials.get("saak"))
            and _same(form.get("password"), self.credentials.get("sask"))
        ):
            return _oauth_error(400, "invalid_grant", "the service account credentials are invalid")
        token = self.issue_token(self.token_lifetime_seconds)
        return Reply.json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_seconds}
        )

    def _authorised(self, request: Request) -> Reply | None:
        if self.bearer_ok(request):
            return None
        self.stats["unauthorised"] += 1
        return self.error_reply(401, "the access token is missing, invalid or expired", "UNAUTHORIZED")

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (a test's way to make the gateway refuse one)."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    # -- IMS ----------------------------------------------------------------------------------------------
    def _ping(self, request: Request, match: re.Match[str]) -> Reply:
        return self._authorised(request) or Reply.json(200, {"status": "OK"})

    def _multipart_message(self, request: Request, match: re.Match[str]) -> Reply:
        if (refused := self._authorised(request)) is not None:
            return refused
        parts = _form_parts(request)
        if parts is None or "ParameterRequest" not in parts or "MessagePayload" not in parts:
            return self.error_reply(400, "a multipart message needs a ParameterRequest and a MessagePayload", "BAD")
        try:
            parameters = orjson.loads(parts["ParameterRequest"])
        except orjson.JSONDecodeError:
            return self.error_reply(400, "ParameterRequest is not JSON", "INVALID_MESSAGE")
        missing = [name for name in ("documentName", "fromLogicalId", "messageId") if not parameters.get(name)]
        if missing:
            return self.error_reply(400, f"required property missing: {', '.join(missing)}", "INVALID_MESSAGE")
        if parameters["fromLogicalId"] != self.client_logical_id:
            return self.error_reply(403, "fromLogicalId does not belong to this client", "FORBIDDEN")
        if parameters["documentName"] != PROCESS_DOCUMENT:
            return self.error_reply(
                412, f"document {parameters['documentName']} is not accepted by this connection point", "NOT_ACCEPTED"
            )
        try:
            bod = etree.fromstring(parts["MessagePayload"], _PARSER)
        except etree.XMLSyntaxError as exc:
            return self.error_reply(400, f"MessagePayload is not well-formed XML: {exc}", "INVALID_MESSAGE")
        if bod.tag != q(PROCESS_DOCUMENT):
            return self.error_reply(400, f"MessagePayload is not a {PROCESS_DOCUMENT} BOD", "INVALID_MESSAGE")
        with self.lock:
            self.messages.append(parameters)
        self._erp_processes(bod)
        return Reply(201, b"", {})

    # -- the ERP behind ION -------------------------------------------------------------------------------
    def _erp_processes(self, bod: etree._Element) -> None:
        """Book or refuse the invoice and publish the Acknowledge, as LN does once ION delivers the BOD."""
        try:
            document = self._book(bod)
        except DocumentStalled:
            self.stats["stalled"] += 1
            return  # ION took the BOD; the ERP never acknowledges it
        except (Refused, DocumentRefused) as exc:
            self.stats["rejected"] += 1
            self._publish(acknowledge(bod, accepted=False, message=str(exc)))
            return
        self._publish(acknowledge(bod, accepted=True, document_number=document[0], document_date=document[1]))

    def _book(self, bod: etree._Element) -> tuple[str, date]:
        invoice = _read_invoice(bod)
        reason = self.refusal(invoice.supplier, invoice.document_date)
        if reason is not None:
            raise Refused(_ln_wording(reason, invoice))
        with self.lock:  # the duplicate check and the booking are one step, as in one database transaction
            key = (invoice.supplier, invoice.reference, invoice.company_code)
            if key in self._booked:
                raise Refused(
                    f"Supplier invoice {invoice.reference} already exists for invoice-from business partner "
                    f"{invoice.supplier} in company {invoice.company_code}"
                )
            created = self.create(
                supplier=invoice.supplier,
                invoice_reference=invoice.reference,
                company_code=invoice.company_code,
                document_date=invoice.document_date,
                gross_amount=-invoice.total if invoice.credit_note else invoice.total,
                currency=invoice.currency,
                external_id=invoice.bod_id,
                body=etree.tostring(bod).decode(),
            )
            self._booked.add(key)
        return created.document_number, invoice.document_date

    def _publish(self, ack: bytes) -> None:
        with self.lock:  # the time taken under the lock: the lake stays in the order indexed
            now = max(datetime.now(UTC), self.data_lake[-1].indexed_at) if self.data_lake else datetime.now(UTC)
            data_object = DataObject(
                dl_id=secrets.token_hex(16),
                document_name=ACKNOWLEDGE_DOCUMENT,
                from_logical_id=ERP_LOGICAL_ID,
                indexed_at=now,
                visible_at=time.time() + self.index_lag_seconds,
                payload=ack,
            )
            key = data_object.fields()["dl_document_indexed_date"]
            if self._lake_visible and data_object.visible_at < self._lake_visible[-1]:
                self._visible_in_order = False
            self.data_lake.append(data_object)
            self._lake_keys.append(key)
            self._lake_visible.append(data_object.visible_at)
            self._lake_by_id[data_object.dl_id] = data_object
            run_key = (data_object.document_name, data_object.from_logical_id)
            self._lake_runs.setdefault(run_key, _LakeRun([], [], [])).append(data_object, key)

    # -- Data Lake ----------------------------------------------------------------------------------------
    def _lake_list(self, request: Request, match: re.Match[str]) -> Reply:
        if (refused := self._authorised(request)) is not None:
            return refused
        try:
            terms = _parse_filter(request.arg("filter") or "")
            page = int(request.arg("page") or "1")
            records = int(request.arg("records") or "100")
        except ValueError as exc:
            return self.error_reply(400, str(exc), "INVALID_FILTER")
        if page < 1 or not 1 <= records <= 10000:
            return self.error_reply(400, "page must be >= 1 and records between 1 and 10000", "INVALID_PAGING")
        now = time.time()
        descending = (request.arg("sort") or "").endswith(":desc")
        with self.lock:
            indexed = self._indexed_page(terms, now, descending, page, records)
            if indexed is None:
                candidates = self.data_lake[self._first_candidate(terms) :]
        if indexed is not None:
            window, total = indexed
        else:
            visible = [o for o in candidates if o.visible_at <= now and _matches(o.fields(), terms)]
            visible.sort(key=lambda o: o.indexed_at, reverse=descending)
            window, total = visible[(page - 1) * records : page * records], len(visible)
        return Reply.json(
            200, {"fields": [o.fields() for o in window], "page": page, "records": records, "total": total}
        )

    def _indexed_page(
        self, terms: list[tuple[str, str, str]], now: float, descending: bool, page: int, records: int
    ) -> tuple[list[DataObject], int] | None:
        """The page a list answers, and the total, read from the lake's order instead of filtering every object:
        for a filter of `eq` on dl_document_name and dl_from_logical_id (both or neither) and any bounds on
        dl_document_indexed_date. None for any other filter, or when visible_at is out of order; the caller then
        filters each object. The result is what filtering and sorting every object gives. The caller holds the
        lock."""
        if not self._visible_in_order:
            return None
        equal: dict[str, str] = {}
        bounds: list[tuple[str, str]] = []
        for name, op, value in terms:
            if name == "dl_document_indexed_date":
                bounds.append((op, value))
            elif name in ("dl_document_name", "dl_from_logical_id") and op == "eq" and name not in equal:
                equal[name] = value
            else:
                return None
        if len(equal) == 2:
            run = self._lake_runs.get((equal["dl_document_name"], equal["dl_from_logical_id"]))
            if run is None:
                return [], 0
            objects, keys, visible = run.objects, run.keys, run.visible
        elif not equal:
            objects, keys, visible = self.data_lake, self._lake_keys, self._lake_visible
        else:
            return None
        low, high = 0, len(objects)
        for op, value in bounds:
            if op in ("ge", "eq"):
                low = max(low, bisect.bisect_left(keys, value))
            if op == "gt":
                low = max(low, bisect.bisect_right(keys, value))
            if op in ("le", "eq"):
                high = min(high, bisect.bisect_right(keys, value))
            if op == "lt":
                high = min(high, bisect.bisect_left(keys, value))
        if high > low:
            high = bisect.bisect_right(visible, now, low, high)  # the ones not yet visible are the last
        total = max(0, high - low)
        first, last = (page - 1) * records, min(page * records, total)
        if first >= total:
            return [], total
        if not descending:  # already in the order indexed: a stable sort by indexed_at leaves it as it is
            return objects[low + first : low + last], total
        # Newest first, and objects indexed at the same instant in the order indexed (a stable reverse sort): sort
        # the slice the page falls in, widened to whole runs of equal instants.
        start, end = total - last, total - first  # the page's objects, positions counted oldest first from `low`
        while start > 0 and objects[low + start - 1].indexed_at == objects[low + start].indexed_at:
            start -= 1
        while end < total and objects[low + end].indexed_at == objects[low + end - 1].indexed_at:
            end += 1
        chunk = sorted(objects[low + start : low + end], key=lambda o: o.indexed_at, reverse=True)
        offset = total - end  # where the chunk begins, newest first
        return chunk[first - offset : last - offset], total

    def _lake_stream_by_id(self, request: Request, match: re.Match[str]) -> Reply:
        if (refused := self._authorised(request)) is not None:
            return refused
        wanted = request.arg("datalakeId")
        now = time.time()
        with self.lock:
            found = self._lake_by_id.get(wanted or "")
        if found is None or found.visible_at > now:
            return self.error_reply(404, f"no data object {wanted}", "NOT_FOUND")
        return Reply(200, found.payload, {"Content-Type": "application/octet-stream"})

    def _first_candidate(self, terms: list[tuple[str, str, str]]) -> int:
        """Where in the lake (in the order indexed) the objects a lower bound on the indexed date lets through
        begin: the Data Lake's index on it, so a list does not read the whole lake. The caller holds the lock."""
        start = 0
        for name, op, value in terms:
            if name == "dl_document_indexed_date" and op in ("ge", "gt"):
                search = bisect.bisect_left if op == "ge" else bisect.bisect_right
                start = max(start, search(self._lake_keys, value))
        return start


# -- reading the Process BOD as the ERP does --------------------------------------------------------------
@dataclass(frozen=True)
class _Invoice:
    bod_id: str
    reference: str
    supplier: str
    company_code: str
    document_date: date
    currency: str
    total: Decimal
    credit_note: bool


def _read_invoice(bod: etree._Element) -> _Invoice:
    header = bod.find(f"{q('DataArea')}/{q('SupplierInvoice')}/{q('SupplierInvoiceHeader')}")
    if header is None:
        raise Refused("SupplierInvoiceHeader is missing")
    reference = _required(header, "DocumentID/ID", "Supplier invoice number (DocumentID/ID)")
    supplier = _required(header, "SupplierParty/PartyIDs/ID", "Invoice-from business partner (SupplierParty)")
    company = _text(bod, "DataArea/Process/AccountingEntityID") or _text(header, "BuyerParty/PartyIDs/ID")
    if not company:
        raise Refused("Financial company (AccountingEntityID) is missing")
    stamp = _required(header, "DocumentDateTime", "Document date (DocumentDateTime)")
    try:
        document_date = datetime.fromisoformat(stamp.replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise Refused(f"Document date {stamp} is not a valid date") from exc
    due = _text(header, "PaymentTerm/DueDateTime")
    if due and due[:10] < stamp[:10]:
        raise Refused(f"Due date {due[:10]} is before document date {stamp[:10]}")
    total_element = header.find(q("TotalAmount"))
    if total_element is None:
        raise Refused("Invoice amount (TotalAmount) is missing")
    currency = total_element.get("currencyID", "")
    if not _CURRENCY.fullmatch(currency):
        raise Refused(f"Currency {currency or '(none)'} does not exist")
    total = _amount(total_element, currency, "TotalAmount")
    _check_totals(bod, header, currency, total)
    invoice_type = bod.find(f"{q('DataArea')}/{q('SupplierInvoice')}")
    return _Invoice(
        bod_id=_text(bod, "ApplicationArea/BODID"),
        reference=reference,
        supplier=supplier,
        company_code=company,
        document_date=document_date,
        currency=currency,
        total=total,
        credit_note=invoice_type is not None and invoice_type.get("typeCode") == CREDIT_NOTE_TYPE,
    )


def _check_totals(bod: etree._Element, header: etree._Element, currency: str, total: Decimal) -> None:
    """LN's amount check: lines add up to the header's net amount, and net plus tax to the invoice amount."""
    net_element = header.find(q("ExtendedAmount"))
    net = _amount(net_element, currency, "ExtendedAmount") if net_element is not None else None
    tax_element = header.find(f"{q('Tax')}/{q('Amount')}")
    tax = _amount(tax_element, currency, "Tax/Amount") if tax_element is not None else Decimal(0)
    lines = bod.findall(f"{q('DataArea')}/{q('SupplierInvoice')}/{q('SupplierInvoiceLine')}")
    if lines:
        line_total = Decimal(0)
        for line in lines:
            amount = line.find(q("ExtendedAmount"))
            if amount is None:
                raise Refused(f"Line {_text(line, 'LineNumberID')}: line amount (ExtendedAmount) is missing")
            line_total += _amount(amount, currency, "ExtendedAmount")
        if net is not None and line_total != net:
            raise Refused(f"Total of invoice lines {line_total} {currency} differs from net amount {net} {currency}")
    if net is not None and net + tax != total:
        raise Refused(f"Invoice amount {total} {currency} differs from net amount {net} plus tax {tax}")


def _amount(element: etree._Element, currency: str, name: str) -> Decimal:
    if element.get("currencyID", currency) != currency:
        raise Refused(f"{name} is in {element.get('currencyID')}, the invoice in {currency}")
    try:
        value = Decimal((element.text or "").strip())
    except InvalidOperation as exc:
        raise Refused(f"{name} {element.text!r} is not an amount") from exc
    if not value.is_finite():
        raise Refused(f"{name} {element.text!r} is not an amount")
    return value


def _text(element: etree._Element, path: str) -> str:
    found = element.find("/".join(q(part) for part in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


def _required(element: etree._Element, path: str, label: str) -> str:
    value = _text(element, path)
    if not value:
        raise Refused(f"{label} is missing")
    return value


def _ln_wording(reason: str, invoice: _Invoice) -> str:
    if reason.startswith("supplier"):
        return f"Invoice-from business partner {invoice.supplier} is blocked for invoicing"
    return f"Period for date {invoice.document_date.isoformat()} is closed for company {invoice.company_code}"


# -- writing the Acknowledge ------------------------------------------------------------------------------
def acknowledge(
    process: etree._Element,
    *,
    accepted: bool,
    message: str = "",
    document_number: str = "",
    document_date: date | None = None,
) -> bytes:
    """The AcknowledgeSupplierInvoice the ERP publishes for a Process BOD: the original ApplicationArea, the
    verdict, the booked document's number and period, or the failure message."""
    ack = etree.Element(q(ACKNOWLEDGE_DOCUMENT), nsmap={None: NS}, releaseID="9.2", versionID="2.14.0")
    area = etree.SubElement(ack, q("ApplicationArea"))
    sender = etree.SubElement(area, q("Sender"))
    etree.SubElement(sender, q("LogicalID")).text = ERP_LOGICAL_ID
    etree.SubElement(sender, q("ComponentID")).text = "erp"
    etree.SubElement(area, q("CreationDateTime")).text = _iso(datetime.now(UTC))
    etree.SubElement(area, q("BODID")).text = f"infor-nid:{secrets.token_hex(8)}:AcknowledgeSupplierInvoice"
    data = etree.SubElement(ack, q("DataArea"))
    verb = etree.SubElement(data, q("Acknowledge"))
    original = process.find(q("ApplicationArea"))
    if original is not None:
        copy = etree.fromstring(etree.tostring(original), _PARSER)
        copy.tag = q("OriginalApplicationArea")
        verb.append(copy)
    criteria = etree.SubElement(verb, q("ResponseCriteria"))
    etree.SubElement(criteria, q("ResponseExpression"), actionCode="Accepted" if accepted else "Rejected")
    noun = etree.SubElement(data, q("SupplierInvoice"))
    source = process.find(f"{q('DataArea')}/{q('SupplierInvoice')}")
    if source is not None and source.get("typeCode"):
        noun.set("typeCode", source.get("typeCode", ""))
    header = etree.SubElement(noun, q("SupplierInvoiceHeader"))
    for path in ("DocumentID", "DocumentDateTime", "TotalAmount", "SupplierParty"):
        original_part = source.find(f"{q('SupplierInvoiceHeader')}/{q(path)}") if source is not None else None
        if original_part is not None:
            header.append(etree.fromstring(etree.tostring(original_part), _PARSER))
    if accepted and document_date is not None:
        alternate = etree.SubElement(header, q("AlternateDocumentID"))
        etree.SubElement(alternate, q("ID"), schemeID="PurchaseInvoice").text = document_number
        period = etree.SubElement(header, q("AccountingPeriod"))
        etree.SubElement(period, q("FiscalYear")).text = str(document_date.year)
        etree.SubElement(period, q("PeriodID")).text = f"{document_date.month:02d}"
    if not accepted:
        failure = etree.SubElement(data, q("BODFailureMessage"))
        error = etree.SubElement(failure, q("ErrorProcessMessage"))
        etree.SubElement(error, q("Description")).text = message
        etree.SubElement(error, q("ReasonCode")).text = "Rejected"
    return etree.tostring(ack, xml_declaration=True, encoding="UTF-8")


# -- small helpers ----------------------------------------------------------------------------------------
def _form_parts(request: Request) -> dict[str, bytes] | None:
    """The named parts of a multipart/form-data body, or None when it is not one."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return None
    message: Message = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + request.body, policy=HTTP)
    if not message.is_multipart():
        return None
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    return parts


def _parse_filter(text: str) -> list[tuple[str, str, str]]:
    """The Data Lake filter subset used here: `dl_field op 'value'` terms joined by `and`."""
    if not text.strip():
        return []
    terms = []
    for term in re.split(r"\s+and\s+", text.strip()):
        match = _FILTER_TERM.fullmatch(term)
        if match is None:
            raise ValueError(f"filter term {term!r} is not of the form dl_property op 'value'")
        terms.append((match[1], match[2], match[3]))
    return terms


def _matches(fields: Mapping[str, Any], terms: list[tuple[str, str, str]]) -> bool:
    for name, op, value in terms:
        actual = str(fields.get(name, ""))
        ok = {
            "eq": actual == value,
            "ge": actual >= value,
            "le": actual <= value,
            "gt": actual > value,
            "lt": actual < value,
        }[op]
        if not ok:
            return False
    return True


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply.json(status, {"error": error, "error_description": description})


def _same(given: str | None, expected: str | None) -> bool:
    return given is not None and expected is not None and hmac.compare_digest(given, expected)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
