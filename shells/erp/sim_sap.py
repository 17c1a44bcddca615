"""A simulated SAP S/4HANA: the OData v2 service API_SUPPLIERINVOICE_PROCESS_SRV as SAP Gateway serves it.

Spec: the service's metadata (EDMX: entity types A_SupplierInvoiceType, A_SuplrInvcItemPurOrdRefType,
A_SupplierInvoiceItemGLAcctType, A_SupplierInvoiceTaxType, with their property names, Edm types, lengths,
precision and scale, read as published in abhiveer415/supplierinvoice-cap-official) and its OpenAPI description
(SAP API Business Hub, version 2602, as published in omonteirox/batch-supplier-invoice: the `-create` schemas'
required properties, the 201 reply `{"d": A_SupplierInvoiceType}`, the OData v2 error body, $filter/$select/
$top/$skip/$inlinecount). The property lists below are derived from those files, not copied.

What it implements:
- `GET|HEAD <root>/`: the service document; with `X-CSRF-Token: Fetch` it answers the CSRF token in
  `x-csrf-token` and starts a session (`Set-Cookie: SAP_SESSIONID_<SID>_<client>`) the token is bound to.
- `POST <root>/A_SupplierInvoice`: the deep insert (header, PO items, G/L items, tax), validated as Gateway
  does (unknown properties, Edm types, lengths, precision/scale) and as invoice verification does (required
  entries, invoicing party, debit/credit codes, balance of gross against items and tax, blocked supplier,
  closed posting period); 201 with the created entity in `d`. No duplicate check: SAP has none on this API.
- `GET <root>/A_SupplierInvoice` with `$filter` (`eq` on string or boolean literals joined by `and`, quotes
  doubled), `$select`, `$top`, `$skip`, `$inlinecount`, `$format=json`; `GET A_SupplierInvoice(key)`.
- auth: Basic or the session cookie; 401 with `WWW-Authenticate: Basic` otherwise. A write needs the session's
  token: 403, `x-csrf-token: Required`, "CSRF token validation failed" when it is missing, wrong or expired.
  Tokens and sessions live `csrf_token_lifetime` seconds, so a test can expire them.

Message classes follow SAP's (M8 invoice verification, F5 FI, 00 general, /IWBEP/CM_MGW_RT Gateway); the
message numbers are illustrative, not taken from a message table.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from .simulator import Faults, Reply, Request, Route, Rules, Simulator

SERVICE = "API_SUPPLIERINVOICE_PROCESS_SRV"
SERVICE_ROOT = f"/sap/opu/odata/sap/{SERVICE}"
SYSTEM_ID, CLIENT = "S4H", "100"
FIRST_DOCUMENT = 5100000000  # invoice verification's number range: 10 digits
BUSINESS_EXCEPTION = "/IWBEP/CX_MGW_BUSI_EXCEPTION"


# -- the metadata, as property specs: S<MaxLength>, D<Precision>.<Scale>, T (Edm.DateTime), B (Edm.Boolean);
# "!" marks sap:creatable="false" (read-only, ignored in a create as Gateway does).
_HEADER_PROPERTIES = (
    "SupplierInvoice:S10! FiscalYear:S4! CompanyCode:S4 DocumentDate:T PostingDate:T CreationDate:T! "
    "SupplierInvoiceIDByInvcgParty:S16 InvoicingParty:S10 DocumentCurrency:S5 InvoiceGrossAmount:D14.3 "
    "UnplannedDeliveryCost:D14.3 DocumentHeaderText:S25 ManualCashDiscount:D14.3 PaymentTerms:S4 "
    "DueCalculationBaseDate:T CashDiscount1Percent:D5.3 CashDiscount1Days:D3.0 CashDiscount2Percent:D5.3 "
    "CashDiscount2Days:D3.0 NetPaymentDays:D3.0 PaymentBlockingReason:S1 AccountingDocumentType:S2 "
    "BPBankAccountInternalID:S4 SupplierInvoiceStatus:S1 IndirectQuotedExchangeRate:D9.5 "
    "DirectQuotedExchangeRate:D9.5 StateCentralBankPaymentReason:S3 SupplyingCountry:S3 PaymentMethod:S1 "
    "PaymentMethodSupplement:S2 PaymentReference:S30 InvoiceReference:S10 InvoiceReferenceFiscalYear:S4 "
    "FixedCashDiscount:S1 UnplannedDeliveryCostTaxCode:S2 UnplndDelivCostTaxJurisdiction:S15 "
    "UnplndDeliveryCostTaxCountry:S3 AssignmentReference:S18 SupplierPostingLineItemText:S50 "
    "TaxIsCalculatedAutomatically:B BusinessPlace:S4 BusinessSectionCode:S4 BusinessArea:S4 "
    "SuplrInvcIsCapitalGoodsRelated:B SupplierInvoiceIsCreditMemo:S1 PaytSlipWthRefSubscriber:S11 "
    "PaytSlipWthRefCheckDigit:S2 PaytSlipWthRefReference:S27 TaxDeterminationDate:T TaxReportingDate:T "
    "TaxFulfillmentDate:T InvoiceReceiptDate:T DeliveryOfGoodsReportingCntry:S3 SupplierVATRegistration:S20 "
    "IsEUTriangularDeal:B SuplrInvcDebitCrdtCodeDelivery:S1 SuplrInvcDebitCrdtCodeReturns:S1 RetentionDueDate:T "
    "PaymentReason:S4 HouseBank:S5 HouseBankAccount:S5 SupplierInvoiceOrigin:S1! ReverseDocument:S10! "
    "ReverseDocumentFiscalYear:S4! IsReversal:B! IsReversed:B! IN_GSTPartner:S10 IN_GSTPlaceOfSupply:S3 "
    "IN_InvoiceReferenceNumber:S64 JrnlEntryCntrySpecificRef1:S80 JrnlEntryCntrySpecificDate1:T "
    "JrnlEntryCntrySpecificRef2:S25 JrnlEntryCntrySpecificDate2:T JrnlEntryCntrySpecificRef3:S25 "
    "JrnlEntryCntrySpecificDate3:T JrnlEntryCntrySpecificRef4:S50 JrnlEntryCntrySpecificDate4:T "
    "JrnlEntryCntrySpecificRef5:S50 JrnlEntryCntrySpecificDate5:T JrnlEntryCntrySpecificBP1:S10 "
    "JrnlEntryCntrySpecificBP2:S10"
)
_PO_ITEM_PROPERTIES = (
    "SupplierInvoice:S10! FiscalYear:S4! SupplierInvoiceItem:S6 PurchaseOrder:S10 PurchaseOrderItem:S5 Plant:S4 "
    "ReferenceDocument:S10 ReferenceDocumentFiscalYear:S4 ReferenceDocumentItem:S4 IsSubsequentDebitCredit:S1 "
    "TaxCode:S2 TaxJurisdiction:S15 DocumentCurrency:S5 SupplierInvoiceItemAmount:D14.3 "
    "PurchaseOrderQuantityUnit:S3 PurchaseOrderQtyUnitSAPCode:S3 PurchaseOrderQtyUnitISOCode:S3 "
    "QuantityInPurchaseOrderUnit:D13.3 PurchaseOrderPriceUnit:S3 PurchaseOrderPriceUnitSAPCode:S3 "
    "PurchaseOrderPriceUnitISOCode:S3 QtyInPurchaseOrderPriceUnit:D13.3 SuplrInvcDeliveryCostCndnType:S4 "
    "SuplrInvcDeliveryCostCndnStep:S3 SuplrInvcDeliveryCostCndnCount:S3 SupplierInvoiceItemText:S50 "
    "FreightSupplier:S10 IsNotCashDiscountLiable:B PurchasingDocumentItemCategory:S1! ProductType:S2! "
    "RetentionAmountInDocCurrency:D14.3 RetentionPercentage:D5.2 RetentionDueDate:T "
    "SuplrInvcItmIsNotRlvtForRtntn:B ServiceEntrySheet:S10 ServiceEntrySheetItem:S10 TaxCountry:S3 "
    "IsFinallyInvoiced:B TaxDeterminationDate:T IN_HSNOrSACCode:S16 IN_CustomDutyAssessableValue:D14.3 "
    "ReferenceDoc:S16"
)
_GL_ITEM_PROPERTIES = (
    "SupplierInvoice:S10! FiscalYear:S4! SupplierInvoiceItem:S4 CompanyCode:S4 CostCenter:S10 ControllingArea:S4 "
    "BusinessArea:S4 ProfitCenter:S10 FunctionalArea:S16 GLAccount:S10 SalesOrder:S10 SalesOrderItem:S6 "
    "CostObject:S12 CostCtrActivityType:S6 BusinessProcess:S12 WBSElement:S24 DocumentCurrency:S5 "
    "SupplierInvoiceItemAmount:D14.3 TaxCode:S2 PersonnelNumber:S8 WorkItem:S10 DebitCreditCode:S1 "
    "TaxJurisdiction:S15 SupplierInvoiceItemText:S50 AssignmentReference:S18 IsNotCashDiscountLiable:B "
    "InternalOrder:S12 ProjectNetwork:S12 NetworkActivity:S4 CommitmentItem:S24 FundsCenter:S16 "
    "TaxBaseAmountInTransCrcy:D14.3 Fund:S10 GrantID:S20 QuantityUnit:S3 SuplrInvcItmQtyUnitSAPCode:S3 "
    "SuplrInvcItmQtyUnitISOCode:S3 Quantity:D13.3 PartnerBusinessArea:S4 FinancialTransactionType:S3 "
    "TaxCountry:S3 EarmarkedFundsDocument:S10 EarmarkedFundsDocumentItem:S3 BudgetPeriod:S10"
)
_TAX_PROPERTIES = (
    "SupplierInvoice:S10! FiscalYear:S4! TaxCode:S2 SupplierInvoiceTaxCounter:S6! DocumentCurrency:S5 "
    "TaxAmount:D14.3 TaxBaseAmountInTransCrcy:D16.3 TaxJurisdiction:S15 TaxCountry:S3 TaxDeterminationDate:T "
    "TaxRateValidityStartDate:T"
)


@dataclass(frozen=True)
class EdmProperty:
    name: str
    kind: str  # S, D, T, B
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    creatable: bool = True


@dataclass(frozen=True)
class EntityType:
    name: str
    properties: Mapping[str, EdmProperty]
    required: tuple[str, ...]  # the OpenAPI `-create` schema's required list
    navigation: Mapping[str, EntityType] = field(default_factory=dict)
    entity_set: str = ""


def _properties(spec: str) -> dict[str, EdmProperty]:
    properties: dict[str, EdmProperty] = {}
    for token in spec.split():
        name, _, kind = token.partition(":")
        creatable = not kind.endswith("!")
        kind = kind.rstrip("!")
        if kind.startswith("S"):
            prop = EdmProperty(name, "S", max_length=int(kind[1:]), creatable=creatable)
        elif kind.startswith("D"):
            precision, _, scale = kind[1:].partition(".")
            prop = EdmProperty(name, "D", precision=int(precision), scale=int(scale), creatable=creatable)
        else:
            prop = EdmProperty(name, kind, creatable=creatable)
        properties[name] = prop
    return properties


TAX_TYPE = EntityType(
    "A_SupplierInvoiceTaxType",
    _properties(_TAX_PROPERTIES),
    ("TaxCode", "TaxAmount"),
    entity_set="A_SupplierInvoiceTax",
)
PO_ITEM_TYPE = EntityType(
    "A_SuplrInvcItemPurOrdRefType",
    _properties(_PO_ITEM_PROPERTIES),
    ("SupplierInvoiceItem", "PurchaseOrder", "PurchaseOrderItem", "TaxCode", "SupplierInvoiceItemAmount"),
    entity_set="A_SuplrInvcItemPurOrdRef",
)
GL_ITEM_TYPE = EntityType(
    "A_SupplierInvoiceItemGLAcctType",
    _properties(_GL_ITEM_PROPERTIES),
    ("SupplierInvoiceItem", "GLAccount", "SupplierInvoiceItemAmount", "DebitCreditCode"),
    entity_set="A_SupplierInvoiceItemGLAcct",
)
INVOICE_TYPE = EntityType(
    "A_SupplierInvoiceType",
    _properties(_HEADER_PROPERTIES),
    ("CompanyCode", "DocumentDate", "PostingDate", "DocumentCurrency", "InvoiceGrossAmount"),
    navigation={
        "to_SuplrInvcItemPurOrdRef": PO_ITEM_TYPE,
        "to_SupplierInvoiceItemGLAcct": GL_ITEM_TYPE,
        "to_SupplierInvoiceTax": TAX_TYPE,
    },
    entity_set="A_SupplierInvoice",
)
ENTITY_SETS = (
    "A_SupplierInvoice",
    "A_SuplrInvcItemPurOrdRef",
    "A_SupplierInvoiceItemGLAcct",
    "A_SupplierInvoiceTax",
)


class ODataFault(Exception):
    """A refusal in SAP's words: the status, the message id (class/number) and text, the property it is about."""

    def __init__(self, status: int, code: str, message: str, target: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.target = status, code, message, target


@dataclass
class _Session:
    csrf_token: str
    expires_at: float


class SapSimulator(Simulator):
    kind: ClassVar[str] = "sap"

    def __init__(
        self,
        faults: Faults | None = None,
        rules: Rules | None = None,
        credentials: Mapping[str, str] | None = None,
        csrf_token_lifetime: float = 1800.0,
    ) -> None:
        super().__init__(faults, rules, credentials)
        self.csrf_token_lifetime = csrf_token_lifetime
        self.sessions: dict[str, _Session] = {}  # session id (the cookie's value) -> its CSRF token
        self.entities: dict[tuple[str, str], dict[str, Any]] = {}  # (SupplierInvoice, FiscalYear) -> header
        # The headers by the look-up's key (supplier invoice number, invoicing party, company code), kept where one
        # is stored, in the order stored: a query naming that key reads them, not every header.
        self._by_reference: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    @property
    def session_cookie(self) -> str:
        return f"SAP_SESSIONID_{SYSTEM_ID}_{CLIENT}"

    def api_routes(self) -> list[Route]:
        root = re.escape(SERVICE_ROOT)
        key = r"\(SupplierInvoice='(?P<number>[^']*)',FiscalYear='(?P<year>[^']*)'\)"
        return [
            Route("GET", re.compile(rf"{root}/?"), self._service_document),
            Route("HEAD", re.compile(rf"{root}/?"), self._service_document),
            Route("GET", re.compile(rf"{root}/A_SupplierInvoice"), self._query_invoices),
            Route("GET", re.compile(rf"{root}/A_SupplierInvoice{key}"), self._read_invoice),
            Route("POST", re.compile(rf"{root}/A_SupplierInvoice"), self._create_invoice, writes=True),
        ]

    # -- SAP's error body ---------------------------------------------------------------------------------
    def error_reply(self, status: int, message: str, code: str = "", target: str = "") -> Reply:
        if not code or code in _GENERIC_CODES:  # the base's own words for 404/500/503: SAP's message ids instead
            code = _GATEWAY_CODES.get(status, "/IWBEP/CM_MGW_RT/000")
        transaction = secrets.token_hex(16).upper()
        details = [
            {
                "code": code,
                "message": message,
                "propertyref": target,
                "severity": "error",
                "target": target,
                "transition": False,
            },
        ]
        if status == 400:
            # Gateway wraps every business error of the provider and lists the wrapper as a detail too.
            details.append(
                {
                    "code": BUSINESS_EXCEPTION,
                    "message": "An exception was raised",
                    "propertyref": "",
                    "severity": "error",
                    "target": "",
                    "transition": False,
                }
            )
        body = {
            "error": {
                "code": code,
                "message": {"lang": "en", "value": message},
                "innererror": {
                    "application": {
                        "component_id": "MM-IV-LIV-API",
                        "service_namespace": "/SAP/",
                        "service_id": SERVICE,
                        "service_version": "0001",
                    },
                    "transactionid": transaction,
                    "timestamp": datetime.now(UTC).strftime("%Y%m%d%H%M%S.%f0"),
                    "Error_Resolution": {
                        "SAP_Transaction": 'For backend administrators: use ADT feed reader "SAP Gateway Error Log" '
                        "or run transaction /IWFND/ERROR_LOG on SAP Gateway hub system and search for entries with "
                        "the timestamp above for more details",
                        "SAP_Note": "See SAP Note 1797736 for error analysis "
                        "(https://service.sap.com/sap/support/notes/1797736)",
                    },
                    "errordetails": details,
                },
            }
        }
        return Reply.json(status, body, {"dataserviceversion": "1.0"})

    def throttled_reply(self) -> Reply:
        reply = self.error_reply(429, "Too many requests; retry later", "/IWFND/CM_BEC/429")
        return Reply(reply.status, reply.body, {**reply.headers, "Retry-After": f"{self.faults.retry_after_seconds:g}"})

    def document_number(self, fiscal_year: int, sequence: int) -> str:
        return str(FIRST_DOCUMENT + sequence)

    # -- for tests ----------------------------------------------------------------------------------------
    def expire_sessions(self) -> None:
        """What a session timeout on the server does: every token and session cookie stops being valid."""
        with self.lock:
            for session in self.sessions.values():
                session.expires_at = 0.0

    # -- handlers -----------------------------------------------------------------------------------------
    def _service_document(self, request: Request, _: re.Match[str]) -> Reply:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        headers: dict[str, str] = {"dataserviceversion": "2.0"}
        if request.headers.get("x-csrf-token", "").lower() == "fetch":
            headers.update(self._fetch_csrf(request))
        return Reply.json(200, {"d": {"EntitySets": list(ENTITY_SETS)}}, headers)

    def _query_invoices(self, request: Request, _: re.Match[str]) -> Reply:
        denied = self._authenticate(request) or _json_only(request)
        if denied is not None:
            return denied
        try:
            conditions = parse_filter(request.arg("$filter") or "")
            selected = _select(request.arg("$select"))
            skip, top = _paging(request)
        except ODataFault as fault:
            return self.error_reply(fault.status, fault.message, fault.code, fault.target)
        with self.lock:
            matches = [entity for entity in self._candidates(conditions) if _matches(entity, conditions)]
        page = matches[skip:] if top is None else matches[skip : skip + top]
        document: dict[str, Any] = {"results": [_projected(entity, selected) for entity in page]}
        if request.arg("$inlinecount") == "allpages":
            document["__count"] = str(len(matches))
        return Reply.json(200, {"d": document}, {"dataserviceversion": "2.0"})

    def _candidates(self, conditions: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """The headers the conditions can match, in the order stored: from the key or the index when the conditions
        name a whole one with text values, every header otherwise. The caller still applies every condition to each
        and holds the lock."""
        wanted = dict(conditions)  # a property given twice: its last value narrows, the conditions check the rest
        number, year = wanted.get("SupplierInvoice"), wanted.get("FiscalYear")
        if isinstance(number, str) and isinstance(year, str):
            entity = self.entities.get((number, year))
            return [] if entity is None else [entity]
        reference = _reference_of(wanted)
        if reference is not None:
            return list(self._by_reference.get(reference, ()))
        return list(self.entities.values())

    def _read_invoice(self, request: Request, match: re.Match[str]) -> Reply:
        denied = self._authenticate(request) or _json_only(request)
        if denied is not None:
            return denied
        with self.lock:
            entity = self.entities.get((match["number"], match["year"]))
        if entity is None:
            return self.error_reply(404, "Resource not found for segment 'A_SupplierInvoiceType'")
        return Reply.json(200, {"d": _projected(entity, _select(request.arg("$select")))})

    def _create_invoice(self, request: Request, _: re.Match[str]) -> Reply:
        denied = self._authenticate(request) or self._csrf_check(request) or _json_only(request)
        if denied is not None:
            return denied
        try:
            payload = _payload(request)
            check_entity(INVOICE_TYPE, payload)
            header = self._verified(payload)
        except ODataFault as fault:
            self.stats["rejected"] += 1
            return self.error_reply(fault.status, fault.message, fault.code, fault.target)
        posting_date = _edm_date(payload["PostingDate"])
        document = self.create(
            supplier=header["InvoicingParty"],
            invoice_reference=header.get("SupplierInvoiceIDByInvcgParty", ""),
            company_code=header["CompanyCode"],
            document_date=posting_date,
            gross_amount=Decimal(header["InvoiceGrossAmount"]),
            currency=header["DocumentCurrency"],
            body=payload,
        )
        entity = self._stored(header, payload, document.document_number, str(document.fiscal_year))
        location = entity["__metadata"]["uri"]
        return Reply.json(201, {"d": entity}, {"location": location, "dataserviceversion": "2.0"})

    # -- invoice verification -----------------------------------------------------------------------------
    def _verified(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The checks of invoice verification on a well-formed payload; the header as it will be stored."""
        header = {name: value for name, value in payload.items() if name in INVOICE_TYPE.properties}
        supplier = str(header.get("InvoicingParty") or "")
        if not supplier:
            raise ODataFault(400, "M8/120", "Enter an invoicing party", "InvoicingParty")
        flag = header.get("SupplierInvoiceIsCreditMemo") or ""
        if flag not in ("", "X"):
            raise ODataFault(
                400,
                "00/002",
                f"Input value '{flag}' is not allowed for field Credit Memo",
                "SupplierInvoiceIsCreditMemo",
            )
        posting_date = _edm_date(payload["PostingDate"])
        if self.refusal(supplier, posting_date) is not None:
            raise self._rule_fault(supplier, str(header["CompanyCode"]), posting_date)
        _check_balance(payload, credit_memo=flag == "X")
        return header

    def _rule_fault(self, supplier: str, company_code: str, posting_date: date) -> ODataFault:
        if supplier in self.rules.blocked_suppliers:
            return ODataFault(
                400,
                "M8/321",
                f"Vendor {supplier} is blocked for posting in company code {company_code}",
                "InvoicingParty",
            )
        return ODataFault(
            400,
            "F5/201",
            f"Posting period {posting_date.month:03d} {posting_date.year} is not open in company code {company_code}",
            "PostingDate",
        )

    def _stored(self, header: Mapping[str, Any], payload: Mapping[str, Any], number: str, year: str) -> dict[str, Any]:
        """The entity as SAP answers and lists it: every header property, the keys filled in, items nested."""
        entity: dict[str, Any] = {name: _default(prop) for name, prop in INVOICE_TYPE.properties.items()}
        entity.update(header)
        entity.update(
            SupplierInvoice=number,
            FiscalYear=year,
            CreationDate=_edm_datetime(datetime.now(UTC).date()),
            SupplierInvoiceOrigin="5",  # the API, not MIRO
            SupplierInvoiceStatus=header.get("SupplierInvoiceStatus") or "5",  # posted
        )
        uri = f"{SERVICE_ROOT}/A_SupplierInvoice(SupplierInvoice='{number}',FiscalYear='{year}')"
        metadata = {"id": uri, "uri": uri, "type": f"{SERVICE}.A_SupplierInvoiceType"}
        navigation = {
            name: {
                "results": [{**item, "SupplierInvoice": number, "FiscalYear": year} for item in _rows(payload[name])]
            }
            for name in INVOICE_TYPE.navigation
            if name in payload
        }
        with self.lock:
            self.entities[(number, year)] = entity
            reference = _reference_of(entity)
            if reference is not None:
                self._by_reference.setdefault(reference, []).append(entity)
        return {"__metadata": metadata, **entity, **navigation}

    # -- auth and CSRF ------------------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> Reply | None:
        client = request.arg("sap-client")
        if client is not None and client != CLIENT:
            return self._unauthorised()
        if "authorization" in request.headers:
            return None if self.basic_auth_ok(request) else self._unauthorised()
        return None if self._live_session(request) is not None else self._unauthorised()

    def _unauthorised(self) -> Reply:
        self.stats["auth_failed"] += 1
        realm = f'Basic realm="SAP NetWeaver Application Server [{SYSTEM_ID}/{CLIENT}]"'
        page = b"<html><head><title>Logon Error Message</title></head><body>Anmeldung fehlgeschlagen</body></html>"
        return Reply(401, page, {"Content-Type": "text/html; charset=utf-8", "WWW-Authenticate": realm})

    def _fetch_csrf(self, request: Request) -> dict[str, str]:
        """The token of the caller's live session, or a new session with a new token."""
        with self.lock:
            session_id = self._live_session(request)
            headers: dict[str, str] = {}
            if session_id is None:
                session_id = secrets.token_urlsafe(24)
                self.sessions[session_id] = _Session(secrets.token_urlsafe(18), time.time() + self.csrf_token_lifetime)
                self.stats["csrf_tokens_issued"] += 1
                headers["Set-Cookie"] = (
                    f"{self.session_cookie}={session_id}; path=/; HttpOnly"  # no "secure": loopback is plain HTTP
                )
            headers["x-csrf-token"] = self.sessions[session_id].csrf_token
            return headers

    def _csrf_check(self, request: Request) -> Reply | None:
        token = request.headers.get("x-csrf-token", "")
        with self.lock:
            session_id = self._live_session(request)
            valid = session_id is not None and secrets.compare_digest(token, self.sessions[session_id].csrf_token)
        if valid:
            return None
        self.stats["csrf_rejected"] += 1
        return Reply(403, b"CSRF token validation failed", {"Content-Type": "text/plain", "x-csrf-token": "Required"})

    def _live_session(self, request: Request) -> str | None:
        session_id = _cookie(request, self.session_cookie)
        with self.lock:
            session = self.sessions.get(session_id or "")
            if session is None:
                return None
            if session.expires_at <= time.time():
                del self.sessions[session_id or ""]
                return None
            return session_id


_REFERENCE_KEY = ("SupplierInvoiceIDByInvcgParty", "InvoicingParty", "CompanyCode")


def _reference_of(values: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """The reference key of a header or of conditions, when all three parts are text: only text equals a
    text condition."""
    invoice, party, company = (values.get(name) for name in _REFERENCE_KEY)
    if isinstance(invoice, str) and isinstance(party, str) and isinstance(company, str):
        return invoice, party, company
    return None


_GENERIC_CODES = frozenset({"NOT_FOUND", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TOO_MANY_REQUESTS"})
_GATEWAY_CODES = {
    404: "/IWBEP/CM_MGW_RT/020",
    500: "/IWBEP/CM_MGW_RT/000",
    503: "/IWFND/CM_BEC/026",
}


# -- payload checks (Gateway) -------------------------------------------------------------------------------
def _payload(request: Request) -> dict[str, Any]:
    try:
        payload = request.json()
    except ValueError as exc:
        raise ODataFault(400, "/IWBEP/CM_MGW_RT/004", "Malformed request body: the payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise ODataFault(400, "/IWBEP/CM_MGW_RT/004", "Malformed request body: an entry object is expected")
    return payload


def check_entity(entity_type: EntityType, payload: Mapping[str, Any], path: str = "") -> None:
    """Gateway's reading of a JSON entry: known properties of the right Edm type, then the required ones."""
    for name, value in payload.items():
        if name == "__metadata":
            continue
        target = f"{path}{name}"
        if name in entity_type.navigation:
            for row in _rows(value, target):
                check_entity(entity_type.navigation[name], row, f"{target}/")
        elif name in entity_type.properties:
            _check_value(entity_type.properties[name], value, target)
        else:
            raise ODataFault(
                400,
                "/IWBEP/CM_MGW_RT/021",
                f"Property '{name}' is invalid for entity type '{entity_type.name}'",
                target,
            )
    for name in entity_type.required:
        if payload.get(name) in (None, ""):
            raise ODataFault(400, "00/055", f"Fill in all required entry fields ({name})", f"{path}{name}")


def _rows(value: Any, target: str = "") -> list[dict[str, Any]]:
    """A deep insert's related entries: `{"results": [...]}` (OData v2 JSON) or, as Gateway also reads, a list."""
    rows = value.get("results") if isinstance(value, dict) else value
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ODataFault(
            400, "/IWBEP/CM_MGW_RT/004", f"Navigation property '{target}' expects a feed of entries", target
        )
    return rows


def _check_value(prop: EdmProperty, value: Any, target: str) -> None:
    if value is None:
        return
    if prop.kind == "S":
        if not isinstance(value, str):
            raise _invalid(prop, value, target)
        if prop.max_length is not None and len(value) > prop.max_length:
            raise ODataFault(
                400,
                "/IWBEP/CM_MGW_RT/023",
                f"Value '{value}' of property '{prop.name}' exceeds the maximum length of {prop.max_length}",
                target,
            )
    elif prop.kind == "D":
        _check_decimal(prop, value, target)
    elif prop.kind == "T":
        if not isinstance(value, str):
            raise _invalid(prop, value, target)
        try:
            _edm_date(value)
        except ValueError as exc:
            raise _invalid(prop, value, target) from exc
    elif prop.kind == "B" and not isinstance(value, bool):
        raise _invalid(prop, value, target)


def _check_decimal(prop: EdmProperty, value: Any, target: str) -> None:
    # OData v2 JSON carries Edm.Decimal as a string: a JSON number is refused rather than read through a float.
    if not isinstance(value, str):
        raise _invalid(prop, value, target)
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise _invalid(prop, value, target) from exc
    if not number.is_finite():
        raise _invalid(prop, value, target)
    _, digits, exponent = number.as_tuple()
    scale = max(0, -int(exponent))
    integer_digits = max(0, len(digits) + int(exponent))
    if (
        prop.scale is not None
        and prop.precision is not None
        and (scale > prop.scale or integer_digits > prop.precision - prop.scale)
    ):
        raise ODataFault(
            400,
            "/IWBEP/CM_MGW_RT/023",
            f"Value '{value}' of property '{prop.name}' does not fit Edm.Decimal({prop.precision},{prop.scale})",
            target,
        )


def _invalid(prop: EdmProperty, value: Any, target: str) -> ODataFault:
    edm = {"S": "Edm.String", "D": "Edm.Decimal", "T": "Edm.DateTime", "B": "Edm.Boolean"}[prop.kind]
    return ODataFault(
        400, "/IWBEP/CM_MGW_RT/022", f"Invalid value '{value}' for property '{prop.name}' of type {edm}", target
    )


def _check_balance(payload: Mapping[str, Any], credit_memo: bool) -> None:
    """Invoice verification posts only a balanced document: the gross amount equals the items on the
    document's side (less those on the other) plus the tax. With tax calculated automatically the simulator
    knows no tax rates, so it does not check the balance."""
    if payload.get("TaxIsCalculatedAutomatically") is True:
        return
    own_side = "H" if credit_memo else "S"
    items = Decimal(0)
    for row in _rows(payload.get("to_SuplrInvcItemPurOrdRef", {"results": []})):
        items += Decimal(row["SupplierInvoiceItemAmount"])
    for row in _rows(payload.get("to_SupplierInvoiceItemGLAcct", {"results": []})):
        code = row.get("DebitCreditCode")
        if code not in ("S", "H"):
            raise ODataFault(400, "M8/201", f"Debit/credit indicator '{code}' is not allowed", "DebitCreditCode")
        amount = Decimal(row["SupplierInvoiceItemAmount"])
        items += amount if code == own_side else -amount
    tax = sum(
        (Decimal(row["TaxAmount"]) for row in _rows(payload.get("to_SupplierInvoiceTax", {"results": []}))), Decimal(0)
    )
    gross = Decimal(payload["InvoiceGrossAmount"])
    if items + tax != gross:
        currency = payload.get("DocumentCurrency", "")
        raise ODataFault(
            400,
            "M8/534",
            f"Balance not zero: {gross - items - tax} {currency} (gross {gross}, items {items}, tax {tax})",
            "InvoiceGrossAmount",
        )


# -- query options ------------------------------------------------------------------------------------------
_CONDITION = re.compile(r"\s*(\w+)\s+eq\s+('(?:[^']|'')*'|true|false)\s*", re.IGNORECASE)


def parse_filter(text: str) -> list[tuple[str, Any]]:
    """`Property eq literal` conditions joined by `and`: string literals in quotes (a quote inside doubled),
    or true/false. Anything else is answered as Gateway answers a filter it cannot read."""
    conditions: list[tuple[str, Any]] = []
    if not text.strip():
        return conditions
    position = 0
    while True:
        match = _CONDITION.match(text, position)
        if match is None or match.group(1) not in INVOICE_TYPE.properties:
            raise ODataFault(400, "/IWBEP/CM_MGW_RT/025", f"Invalid filter expression: '{text}'", "$filter")
        literal = match.group(2)
        value: Any = literal[1:-1].replace("''", "'") if literal.startswith("'") else literal.lower() == "true"
        conditions.append((match.group(1), value))
        position = match.end()
        if position == len(text):
            return conditions
        joiner = re.compile(r"and\s+", re.IGNORECASE).match(text, position)
        if joiner is None:
            raise ODataFault(400, "/IWBEP/CM_MGW_RT/025", f"Invalid filter expression: '{text}'", "$filter")
        position = joiner.end()


def _matches(entity: Mapping[str, Any], conditions: list[tuple[str, Any]]) -> bool:
    return all(entity.get(name) == value for name, value in conditions)


def _select(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in INVOICE_TYPE.properties:
            raise ODataFault(
                400, "/IWBEP/CM_MGW_RT/024", f"Property '{name}' not found in type 'A_SupplierInvoiceType'"
            )
    return names


def _paging(request: Request) -> tuple[int, int | None]:
    try:
        skip = int(request.arg("$skip") or 0)
        top = request.arg("$top")
        return skip, (int(top) if top is not None else None)
    except ValueError as exc:
        raise ODataFault(400, "/IWBEP/CM_MGW_RT/025", "Invalid value of system query option $top or $skip") from exc


def _projected(entity: Mapping[str, Any], selected: list[str] | None) -> dict[str, Any]:
    number, year = entity["SupplierInvoice"], entity["FiscalYear"]
    uri = f"{SERVICE_ROOT}/A_SupplierInvoice(SupplierInvoice='{number}',FiscalYear='{year}')"
    metadata = {"id": uri, "uri": uri, "type": f"{SERVICE}.A_SupplierInvoiceType"}
    names = selected if selected is not None else list(entity)
    return {"__metadata": metadata, **{name: entity.get(name) for name in names}}


def _json_only(request: Request) -> Reply | None:
    """SAP answers Atom XML unless asked for JSON; this simulator speaks JSON only, so it insists on being
    asked (a client that forgot would fail on a real system)."""
    if request.arg("$format") == "json" or "json" in request.headers.get("accept", ""):
        return None
    body = b"simulator: ask for JSON with $format=json or Accept: application/json (SAP would answer Atom XML)"
    return Reply(406, body, {"Content-Type": "text/plain"})


# -- literals -----------------------------------------------------------------------------------------------
_DATE_LITERAL = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def _edm_date(text: str) -> date:
    """Edm.DateTime in OData v2 JSON: /Date(milliseconds)/, or the ISO form Gateway also reads."""
    match = _DATE_LITERAL.fullmatch(text)
    if match is not None:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).date()
    return datetime.fromisoformat(text).date()


def _edm_datetime(day: date) -> str:
    return f"/Date({int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000})/"


def _default(prop: EdmProperty) -> Any:
    return {"S": "", "D": "0", "T": None, "B": False}[prop.kind]


def _cookie(request: Request, name: str) -> str | None:
    for part in request.headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
