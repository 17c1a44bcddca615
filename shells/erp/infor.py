"""Infor (LN / M3 / CloudSuite via ION): a supplier invoice goes in as a `ProcessSupplierInvoice` BOD through the
ION API gateway, and the ERP's verdict comes back as an `AcknowledgeSupplierInvoice` BOD.

The public shapes this follows (sources and licences in tests/fixtures/erp/infor/SOURCE.md):
- Auth: the `.ionapi` service-account file (infor-cloud/ion-api-sdk README, "Backend Applications"): an OAuth 2.0
  resource owner grant at `pu + ot` with username=saak, password=sask, client_id=ci, client_secret=cs; every
  call carries the Bearer token. The credentials mapping holds those keys (ti, ci, cs, iu, pu, ot, saak, sask).
- Sending: the ION Messaging Service through the gateway, `POST {iu}/{ti}/IONSERVICES/api/ion/messaging/service/
  v2/multipartMessage`, a multipart/form-data body with the `ParameterRequest` JSON part and the `MessagePayload`
  part holding the BOD (Infor ION Development Guide, "Infor Application Connector (IMS)").
- Reading the reply: an IMS connection point without an IMS endpoint of its own (the "unidirectional" kind this
  client is: it exposes no server for ION to push to) cannot receive BODs. The ERP's Acknowledge BODs are routed to
  the Data Lake by the document flow, and read here with the Data Lake API (`/v1/payloads/list` with a filter,
  then `/v1/payloads/streambyid`). The path prefix is an option (`datalake_path`), since Infor moved the same
  methods from the ION suite to the Data Fabric suite.
- The BOD: OAGIS Invoice / Acknowledge structure (OAGIS 10.4, OAGi/Score) in Infor's namespace
  `http://schema.infor.com/InforOAGIS/2` with Infor's spellings; the element list the tests check is in
  tests/fixtures/erp/infor/.

Idempotency. ION does not deduplicate and LN refuses a second invoice with the same supplier and supplier invoice
number, so a retry after a lost answer must find the first attempt's document instead of posting again. The BODID
is derived from the invoice id alone, so every attempt for one invoice carries the same BODID, and the
Acknowledge names it in `OriginalApplicationArea/BODID`. `find_posted` reads the Acknowledge BODs in the Data Lake
and returns the Accepted one whose original BODID is this invoice's (or, for a document booked some other way,
whose supplier, supplier invoice number and accounting entity are this invoice's). `post` waits for the
Acknowledge of its own attempt, told apart by `OriginalApplicationArea/CreationDateTime`, which is unique per
attempt; no Acknowledge within the target's timeout is a TIMEOUT that may have committed. The Data Lake offers no
filter on a BOD's content, so the look-up lists the Acknowledges indexed since the invoice date (less a day) and
reads each: bounded by the ERP's Acknowledge volume since then, which is why it is only the retry path.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx
import orjson
from lxml import etree
from reconstream.models.invoices import DocumentType, Invoice

from .adapter import ErpAdapter, ErpDocument, ErpTarget, send, send_with_token
from .errors import Cause, ErpRejected, ErpUnavailable

NS = "http://schema.infor.com/InforOAGIS/2"
PROCESS_DOCUMENT = "ProcessSupplierInvoice"
ACKNOWLEDGE_DOCUMENT = "AcknowledgeSupplierInvoice"
CREDIT_NOTE_TYPE = "CreditNote"
IONAPI_KEYS = ("ti", "ci", "cs", "iu", "pu", "ot", "saak", "sask")
TOKEN_MARGIN_SECONDS = 60.0  # renew a token this long before it expires, so it does not expire in flight
# 1,000 a page: one call lists the last seconds of a month-end (the list allows up to 10,000 records a page).
LAKE_PAGE_RECORDS = 1000
LAKE_MAX_PAGES = 10  # 10,000 objects: the Data Lake's own pagination limit
CLOCK_MARGIN = timedelta(minutes=15)
ACK_CACHE_SIZE = 20_000  # Acknowledges read, kept by dl_id: a data object never changes, so one read serves all

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


@dataclass(frozen=True)
class Acknowledgement:
    """What one AcknowledgeSupplierInvoice says about one Process BOD."""

    original_bod_id: str
    original_created: str
    accepted: bool
    document_number: str
    fiscal_year: int | None
    message: str
    reason_code: str
    supplier: str
    reference: str
    accounting_entity: str


class InforAdapter(ErpAdapter):
    kind: ClassVar[str] = "infor"

    def __init__(self, target: ErpTarget, client: httpx.Client | None = None) -> None:
        super().__init__(target, client)
        missing = [key for key in IONAPI_KEYS if not target.credentials.get(key)]
        if missing:  # names only: the values are secrets
            raise ValueError(f"{target.name}: the .ionapi credentials lack {', '.join(missing)}")
        credentials = target.credentials
        self._ionapi = {key: credentials[key] for key in IONAPI_KEYS}
        options = target.options
        self.logical_id = options.get("logical_id", "lid://infor.ims.reconstream")
        self.to_logical_id = options.get("to_logical_id", "lid://default")
        self.erp_logical_id = options.get("erp_logical_id", "lid://infor.ln.ln1")
        self.datalake_path = options.get("datalake_path", "IONSERVICES/datalakeapi").strip("/")
        self.poll_seconds = float(options.get("poll_seconds", "0.05"))
        self._auth_lock = threading.Lock()
        self._token: str | None = None
        self._token_expiry = 0.0
        self._read: OrderedDict[str, Acknowledgement | None] = OrderedDict()  # dl_id -> what it said, oldest first
        self._read_lock = threading.Lock()
        self._reading: dict[str, threading.Event] = {}  # dl_id -> set once the thread reading it is done

    # -- the two operations -------------------------------------------------------------------------------
    def post(self, invoice: Invoice) -> ErpDocument:
        started = time.monotonic()
        bod_id = bod_id_for(invoice)
        created = _iso(datetime.now(UTC))
        body = process_bod(invoice, sender=self.logical_id, tenant=self._ionapi["ti"], bod_id=bod_id, created=created)
        self._send_bod(body, message_id=f"{bod_id}.{uuid.uuid4().hex}")
        since = datetime.now(UTC) - timedelta(seconds=5)  # the Data Lake guide's 5-second indexing lag
        try:
            ack = self._await_acknowledgement(bod_id, created, since, deadline=started + self.target.timeout_seconds)
        except ErpUnavailable as unread:
            # ION took the BOD, so the ERP books it whatever befalls our reading of the answer (a Data Lake call
            # refused or reset under load): the retry must look it up first, or it meets the ERP's duplicate
            # check and a booked invoice would read as refused.
            raise ErpUnavailable(unread.cause, unread.detail, unread.retry_after, maybe_committed=True) from unread
        return self._outcome(ack, invoice)

    def find_posted(self, invoice: Invoice, sent_after: datetime | None = None) -> ErpDocument | None:
        bod_id = bod_id_for(invoice)
        since = datetime.combine(invoice.invoice_date - timedelta(days=1), datetime.min.time(), UTC)
        if sent_after is not None:
            # No Acknowledge of ours is older than the first attempt: reading from there keeps a month-end look-up
            # under the lake's listing cap. The margin covers a clock that differs from the ERP's.
            since = max(since, sent_after - CLOCK_MARGIN)
        # Newest first: the attempt whose answer was lost is recent, so its Acknowledge is on the first page.
        refused: Acknowledgement | None = None
        for ack in self._acknowledgements(since, {}, newest_first=True):
            if ack.accepted and (ack.original_bod_id == bod_id or _same_invoice(ack, invoice)):
                return self._document(ack, invoice)
            if refused is None and not ack.accepted and _answers_posting(ack, bod_id, sent_after):
                refused = ack
        if refused is not None:
            # The ERP judged an attempt of this posting and booked nothing (no Accepted one anywhere in the list,
            # which a duplicate's refusal would have beside it): its answer is the verdict, not "no verdict".
            raise ErpRejected(refused.message or "the ERP rejected the document", code=refused.reason_code or None)
        return None

    # -- sending ------------------------------------------------------------------------------------------
    def _send_bod(self, body: bytes, message_id: str) -> None:
        parameters = {
            "documentName": PROCESS_DOCUMENT,
            "fromLogicalId": self.logical_id,
            "toLogicalId": self.to_logical_id,
            "messageId": message_id,
            "encoding": "NONE",
            "characterSet": "UTF-8",
        }
        files = {
            "ParameterRequest": ("ParameterRequest.json", orjson.dumps(parameters), "application/json"),
            "MessagePayload": ("MessagePayload.xml", body, "application/octet-stream"),
        }
        response = self._call("POST", self._ims_url("v2/multipartMessage"), writes=True, files=files)
        if response.status_code not in (200, 201, 202):
            # 400 (malformed message), 403 (logical id not this client's), 412 (document not accepted by the
            # connection point): ION refused the message itself, and sending it again changes nothing.
            raise ErpRejected(_error_message(response), status=response.status_code, code=_error_code(response))

    # -- reading the Acknowledge --------------------------------------------------------------------------
    def _await_acknowledgement(self, bod_id: str, created: str, since: datetime, deadline: float) -> Acknowledgement:
        seen: dict[str, Acknowledgement | None] = {}
        while True:
            for ack in self._acknowledgements(since, seen):
                if ack.original_bod_id == bod_id and ack.original_created == created:
                    return ack
            if time.monotonic() + self.poll_seconds >= deadline:
                raise ErpUnavailable(
                    Cause.TIMEOUT,
                    f"no {ACKNOWLEDGE_DOCUMENT} for BODID {bod_id} within {self.target.timeout_seconds:g}s",
                    maybe_committed=True,
                )
            time.sleep(self.poll_seconds)

    def _acknowledgements(
        self, since: datetime, seen: dict[str, Acknowledgement | None], newest_first: bool = False
    ) -> Iterator[Acknowledgement]:
        """The Acknowledge BODs the ERP published since `since`, oldest (or newest) first; `seen` caches the ones
        read. More than one query can list is no answer: "not found" could then be wrong, and a posting found
        nowhere is posted again, so ErpUnavailable is raised instead."""
        query = (
            f"dl_document_name eq '{ACKNOWLEDGE_DOCUMENT}' and dl_from_logical_id eq '{self.erp_logical_id}' "
            f"and dl_document_indexed_date ge '{_iso(since)}'"
        )
        order = "desc" if newest_first else "asc"
        for page in range(1, LAKE_MAX_PAGES + 1):
            params = {
                "filter": query,
                "sort": f"dl_document_indexed_date:{order}",
                "page": page,
                "records": LAKE_PAGE_RECORDS,
            }
            response = self._call("GET", self._lake_url("list"), params=params)
            _expect_ok(response, "Data Lake list")
            fields = response.json().get("fields") or []
            for item in fields:
                dl_id = str(item.get("dl_id", ""))
                if dl_id not in seen:
                    seen[dl_id] = self._cached_acknowledgement(dl_id)
                if seen[dl_id] is not None:
                    yield seen[dl_id]  # type: ignore[misc]
            if len(fields) < LAKE_PAGE_RECORDS:
                return
        raise ErpUnavailable(
            Cause.SERVER_ERROR,
            f"more than {LAKE_MAX_PAGES * LAKE_PAGE_RECORDS:,} Acknowledges since {_iso(since)}: the Data Lake "
            "cannot list them all, so the look-up cannot decide",
        )

    def _cached_acknowledgement(self, dl_id: str) -> Acknowledgement | None:
        """The Acknowledge stored as `dl_id`, read once for every thread and call: without this every poll of every
        posting would read again each Acknowledge of the last seconds. The workers poll together, so a new one
        is read by the first to list it while the others wait for that read (or read it themselves if it failed)."""
        with self._read_lock:
            if dl_id in self._read:
                return self._read[dl_id]
            reading = self._reading.get(dl_id)
            if reading is None:
                self._reading[dl_id] = done = threading.Event()
        if reading is not None:
            reading.wait(self.target.timeout_seconds)
            with self._read_lock:
                if dl_id in self._read:
                    return self._read[dl_id]
            return self._read_acknowledgement(dl_id)
        try:
            ack = self._read_acknowledgement(dl_id)
            with self._read_lock:
                self._read[dl_id] = ack
                while len(self._read) > ACK_CACHE_SIZE:
                    self._read.popitem(last=False)
            return ack
        finally:
            with self._read_lock:
                del self._reading[dl_id]
            done.set()

    def _read_acknowledgement(self, dl_id: str) -> Acknowledgement | None:
        response = self._call("GET", self._lake_url("streambyid"), params={"datalakeId": dl_id})
        _expect_ok(response, "Data Lake streambyid")
        return parse_acknowledgement(response.content)

    def _outcome(self, ack: Acknowledgement, invoice: Invoice) -> ErpDocument:
        if not ack.accepted:
            raise ErpRejected(ack.message or "the ERP rejected the document", code=ack.reason_code or None)
        return self._document(ack, invoice)

    def _document(self, ack: Acknowledgement, invoice: Invoice) -> ErpDocument:
        fiscal_year = ack.fiscal_year or invoice.invoice_date.year
        return ErpDocument(self.target.name, ack.document_number, fiscal_year)

    # -- auth and HTTP ------------------------------------------------------------------------------------
    def _call(self, method: str, url: str, *, writes: bool = False, **kwargs: Any) -> httpx.Response:
        """One gateway call with the Bearer token; a refused token (401) is renewed once and the call repeated:
        the gateway refuses before forwarding, so a repeated write cannot double-post."""
        return send_with_token(self.client, method, url, self._token_for, writes=writes, **kwargs)

    def _token_for(self, refused: str | None) -> str:
        if refused is not None:
            self._forget(refused)
        return self._bearer()

    def _bearer(self) -> str:
        with self._auth_lock:  # one token fetch at a time, shared by every thread
            if self._token is None or time.monotonic() >= self._token_expiry:
                self._token, lifetime = self._fetch_token()
                self._token_expiry = time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS)
            return self._token

    def _forget(self, token: str) -> None:
        with self._auth_lock:
            if self._token == token:  # another thread may already have a fresh one
                self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        ionapi = self._ionapi
        form = {
            "grant_type": "password",
            "username": ionapi["saak"],
            "password": ionapi["sask"],
            "client_id": ionapi["ci"],
            "client_secret": ionapi["cs"],
        }
        url = ionapi["pu"] + ionapi["ot"]
        try:
            response = send(self.client, "POST", url, data=form)
        except ErpUnavailable as exc:
            if exc.cause is Cause.AUTH:
                raise ErpUnavailable(Cause.AUTH, "token request refused: HTTP 401 invalid_client") from None
            raise
        if response.status_code != 200:
            raise ErpUnavailable(
                Cause.AUTH, f"token request refused: HTTP {response.status_code} {_oauth_code(response)}"
            )
        document = response.json()
        token = document.get("access_token")
        if not isinstance(token, str) or not token:
            raise ErpUnavailable(Cause.AUTH, "token response without an access_token")
        return token, float(document.get("expires_in") or 3600)

    def _ims_url(self, method: str) -> str:
        return f"{self._api_root()}/IONSERVICES/api/ion/messaging/service/{method}"

    def _lake_url(self, method: str) -> str:
        return f"{self._api_root()}/{self.datalake_path}/v1/payloads/{method}"

    def _api_root(self) -> str:
        return f"{self._ionapi['iu'].rstrip('/')}/{self._ionapi['ti']}"


# -- the BODs ---------------------------------------------------------------------------------------------
def bod_id_for(invoice: Invoice) -> str:
    """The same BODID for every attempt at one invoice, so its Acknowledge can be found after a lost answer."""
    digest = hashlib.sha256(invoice.invoice_id.encode()).hexdigest()[:32]
    return f"reconstream:{digest}:{PROCESS_DOCUMENT}"


def process_bod(invoice: Invoice, *, sender: str, tenant: str, bod_id: str, created: str) -> bytes:
    """The ProcessSupplierInvoice BOD for one invoice. A credit note is a SupplierInvoice of typeCode CreditNote
    with positive amounts, as the ERP books it as a credit against the supplier."""
    root = etree.Element(q(PROCESS_DOCUMENT), nsmap={None: NS}, releaseID="9.2", versionID="2.14.0")
    area = _sub(root, "ApplicationArea")
    sender_element = _sub(area, "Sender")
    _sub(sender_element, "LogicalID", sender)
    _sub(sender_element, "ComponentID", "reconstream")
    _sub(area, "CreationDateTime", created)
    _sub(area, "BODID", bod_id)
    data = _sub(root, "DataArea")
    verb = _sub(data, "Process")
    _sub(verb, "TenantID", tenant)
    _sub(verb, "AccountingEntityID", invoice.company_code)
    _sub(_sub(verb, "ActionCriteria"), "ActionExpression").set("actionCode", "Add")
    noun = _sub(data, "SupplierInvoice")
    if invoice.document_type is DocumentType.CREDIT_NOTE:
        noun.set("typeCode", CREDIT_NOTE_TYPE)
    _header(_sub(noun, "SupplierInvoiceHeader"), invoice)
    for line in invoice.lines:
        _line(_sub(noun, "SupplierInvoiceLine"), invoice, line)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _header(header: etree._Element, invoice: Invoice) -> None:
    currency = invoice.currency
    _sub(_sub(header, "DocumentID"), "ID", invoice.supplier_invoice_number).set(
        "accountingEntity", invoice.company_code
    )
    _sub(header, "DocumentDateTime", _day(invoice.invoice_date))
    _sub(header, "Description", f"AP invoice {invoice.invoice_id}")
    _money(header, "ExtendedAmount", invoice.net_amount, currency)
    _money(header, "TotalAmount", invoice.gross_amount, currency)
    _sub(_sub(_sub(header, "SupplierParty"), "PartyIDs"), "ID", invoice.vendor_id)
    if invoice.po_number:
        _sub(_sub(_sub(header, "PurchaseOrderReference"), "DocumentID"), "ID", invoice.po_number)
    if invoice.due_date is not None:
        _sub(_sub(header, "PaymentTerm"), "DueDateTime", _day(invoice.due_date))
    _money(_sub(header, "Tax"), "Amount", invoice.tax_amount, currency)


def _line(element: etree._Element, invoice: Invoice, line: Any) -> None:
    currency = invoice.currency
    _sub(element, "LineNumberID", str(line.line_no))
    if line.description:
        _sub(element, "Description", line.description)
    _sub(element, "Quantity", _decimal(line.quantity)).set("unitCode", "EA")
    _money(_sub(element, "UnitPrice"), "Amount", line.unit_price, currency)
    if invoice.po_number:
        reference = _sub(element, "PurchaseOrderReference")
        _sub(_sub(reference, "DocumentID"), "ID", invoice.po_number)
        if line.po_line_no is not None:
            _sub(reference, "LineNumberID", str(line.po_line_no))
    _money(element, "ExtendedAmount", line.net_amount, currency)
    _sub(_sub(_sub(element, "Tax"), "Calculation"), "RateNumeric", _decimal(line.tax_rate))


def parse_acknowledgement(payload: bytes) -> Acknowledgement | None:
    """An AcknowledgeSupplierInvoice read safely (no entities, no network); None for any other document."""
    try:
        root = etree.fromstring(payload, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if root.tag != q(ACKNOWLEDGE_DOCUMENT):
        return None
    expression = root.find(f".//{q('ResponseCriteria')}/{q('ResponseExpression')}")
    header = root.find(f"{q('DataArea')}/{q('SupplierInvoice')}/{q('SupplierInvoiceHeader')}")
    year = _text(header, "AccountingPeriod/FiscalYear")
    reference = header.find(f"{q('DocumentID')}/{q('ID')}") if header is not None else None
    return Acknowledgement(
        original_bod_id=_text(root, "DataArea/Acknowledge/OriginalApplicationArea/BODID"),
        original_created=_text(root, "DataArea/Acknowledge/OriginalApplicationArea/CreationDateTime"),
        accepted=expression is not None and expression.get("actionCode") == "Accepted",
        document_number=_text(header, "AlternateDocumentID/ID"),
        fiscal_year=int(year) if year.isdigit() else None,
        message=_text(root, "DataArea/BODFailureMessage/ErrorProcessMessage/Description"),
        reason_code=_text(root, "DataArea/BODFailureMessage/ErrorProcessMessage/ReasonCode"),
        supplier=_text(header, "SupplierParty/PartyIDs/ID"),
        reference=(reference.text or "").strip() if reference is not None else "",
        accounting_entity=reference.get("accountingEntity", "") if reference is not None else "",
    )


# -- small helpers ----------------------------------------------------------------------------------------
def _answers_posting(ack: Acknowledgement, bod_id: str, sent_after: datetime | None) -> bool:
    """Whether an Acknowledge answers an attempt of the posting first sent at `sent_after`: the BOD id is the
    invoice's (a posting made again later has the same one), so its creation time, which our clock stamped at
    sending and the ERP echoes, must be no older than the posting. Without `sent_after` nothing tells."""
    if sent_after is None or ack.original_bod_id != bod_id:
        return False
    try:
        created = datetime.fromisoformat(ack.original_created)
    except ValueError:
        return False  # a creation time we cannot read tells nothing
    first_sent = sent_after.replace(microsecond=sent_after.microsecond // 1000 * 1000)  # as we stamp: to the ms
    return created.tzinfo is not None and created >= first_sent


def _same_invoice(ack: Acknowledgement, invoice: Invoice) -> bool:
    return (
        ack.supplier == invoice.vendor_id
        and ack.reference == invoice.supplier_invoice_number
        and ack.accounting_entity == invoice.company_code
    )


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, q(name))
    if text is not None:
        element.text = text
    return element


def _money(parent: etree._Element, name: str, amount: Decimal, currency: str) -> None:
    _sub(parent, name, _decimal(amount)).set("currencyID", currency)


def _decimal(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent), exactly as held: money never passes through float."""
    return format(value, "f")


def _day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(element: etree._Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find("/".join(q(part) for part in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _error_message(response: httpx.Response) -> str:
    message = _json(response).get("message")
    return str(message) if message else f"ION refused the message: HTTP {response.status_code}"


def _error_code(response: httpx.Response) -> str | None:
    code = _json(response).get("error")
    return str(code) if code else None


def _oauth_code(response: httpx.Response) -> str:
    """The RFC 6749 error code only: its description could echo what was sent."""
    return str(_json(response).get("error") or "")


def _expect_ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        raise ErpUnavailable(Cause.SERVER_ERROR, f"{what}: HTTP {response.status_code} {_error_message(response)}")
