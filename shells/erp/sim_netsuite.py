"""A simulated Oracle NetSuite account: the SuiteTalk REST record service for vendor bills and vendor credits,
the OAuth 2.0 client-credentials token endpoint, and NetSuite's problem-details errors, on loopback.

What it implements, and from where:
- `PUT /services/rest/record/v1/{vendorBill|vendorCredit}/eid:{externalId}`: the upsert. A new external id
  inserts a record (a document of the simulator's own records), a known one updates that same record; both
  answer 204 No Content with `Location: …/{record}/{internalId}` ("Using the Upsert Operation", "Using External
  IDs"; OAS `PUT /vendorBill/{id}`: "Insert or update record", 204 "Upserted record"). Updates are counted
  apart from creates (`stats["updated"]`): the upsert is NetSuite's own deduplication, not the simulator's.
- `GET /services/rest/record/v1/{record}/eid:{externalId}` and `.../{record}/{internalId}`: the record with
  `id`, `tranId`, `tranDate`, `postingPeriod`, `total` …, sublists as links unless `expandSubResources=true`;
  404 `NONEXISTENT_ID` when there is none.
- `POST /services/rest/auth/oauth2/v1/token`: client credentials with a JWT client assertion, verified with the
  certificate's public key: `kid` = certificate id, alg PS256/384/512 or ES256/384/512, `iss` = client id,
  `aud` = the token URL, `scope` containing rest_webservices, `exp` ≤ `iat` + 3600 and not past; answers
  `access_token`, `expires_in` 3600, `token_type` or an RFC 6749 error ("OAuth 2.0 Client Credentials Flow",
  "The Request Token Structure", "POST Request to the Token Endpoint and the Access Token Response").
- Errors as NetSuite words them ("Error Handling in REST Web Services"): `{"type", "title", "status",
  "o:errorDetails": [{"detail", "o:errorPath", "o:errorCode"}]}`; 401 `INVALID_LOGIN` for a missing, expired or
  revoked token; 429 `CONCURRENCY_LIMIT_EXCEEDED` past the account's concurrency governance limit.
- Validation NetSuite does on the request: property names against the record's fields (header
  `X-NetSuite-PropertyNameValidation`, default Warning), value types (as with
  `X-NetSuite-PropertyValueValidation: Error`, NetSuite's default, whatever the header says), required
  fields ("Please enter value(s) for: …"), at least one line, references to GL accounts and currencies the
  account has ("You have entered an Invalid Field Value …"), an inactive (blocked)
  vendor, and a closed accounting period.

Field names: the standard (non-custom) properties of the `vendorBill`, `vendorBill-expenseElement` and
`vendorBill-itemElement` schemas of the NetSuite REST Record API OAS (uptick/pynetsuite `netsuite-oas.json`);
vendorCredit's from NetSuite's REST API Browser. The wording of the closed-period refusal is modelled, not
quoted (see tests/fixtures/erp/netsuite/SOURCE.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote

import jwt

from .netsuite import (
    CLIENT_ASSERTION_TYPE,
    RECORD_MEDIA_TYPE,
    RECORD_PATH,
    TOKEN_PATH,
    VENDOR_BILL,
    VENDOR_CREDIT,
    netsuite_json,
)
from .simulator import Faults, Reply, Request, Route, Rules, SimDocument, Simulator


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


REFERENCE_FIELDS = frozenset({"id", "refName", "externalId", "links"})  # OAS nsResource
SUBLIST_FIELDS = frozenset({"items", "links", "totalResults", "count", "hasMore", "offset"})
VENDOR_BILL_FIELDS = _names(
    "account accountingBookDetail approvalStatus availableVendorCredit balance billAddr1 billAddr2 billAddr3 "
    "billAddress billAddressList billAddressee billAttention billCity billCountry billOverride billPhone "
    "billState billZip billingAddress billingAddress_text class createdDate creditLimit currency department "
    "discountAmount discountDate documentStatus dueDate endDate entity exchangeRate expense externalId id "
    "intercoStatus intercoTransaction item lastModifiedDate links location memo paymentHold postingPeriod "
    "prevDate received refName startDate status subsidiary terms toBePrinted total tranDate tranId "
    "unbilledOrders userTotal"
)
VENDOR_CREDIT_FIELDS = _names(
    "account accountingBookDetail applied apply autoApply billAddress billAddressList billingAddress class "
    "createdDate createdFrom currency department entity exchangeRate expense externalId id item "
    "lastModifiedDate links location memo postingPeriod refName subsidiary total tranDate tranId unapplied "
    "userTotal"
)
EXPENSE_LINE_FIELDS = _names(
    "account amortizStartDate amortizationEndDate amortizationResidual amortizationSched amortizationType "
    "amount category class department isBillable line links location memo orderDoc orderLine projecttask "
    "refName scheduleType"
)
ITEM_LINE_FIELDS = _names(
    "amortizStartDate amortizationEndDate amortizationResidual amortizationSched amortizationType amount "
    "billReceipts billVarianceStatus catchUpPeriod class deferRevRec department description inventoryDetail "
    "isBillable isClosed isOpen item itemSubtype itemType line linked links location marginal matrixType "
    "options orderDoc orderLine printItems projecttask quantity rate rateSchedule refName scheduleType "
    "subsidiary units vendorName initOqpBucket isVsoeBundle oqpBucket"
)
RECORD_FIELDS = {VENDOR_BILL: VENDOR_BILL_FIELDS, VENDOR_CREDIT: VENDOR_CREDIT_FIELDS}
REFERENCE_PROPERTIES = frozenset({"entity", "subsidiary", "currency", "account", "item", "postingPeriod", "terms"})
DATE_PROPERTIES = frozenset({"tranDate", "dueDate"})
JSON_MEDIA_TYPES = ("application/json", "application/vnd.oracle.resource+json")
JWT_ALGORITHMS = ["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
MAX_ASSERTION_LIFETIME = 3600

# A small chart of accounts and the currencies of the account (internal id -> ISO code / display name).
DEFAULT_ACCOUNTS = frozenset({"58", "67", "111", "112"})
DEFAULT_CURRENCIES = {"1": "USD", "2": "GBP", "3": "CAD", "4": "EUR", "5": "CHF"}

_RECORD_BY_EID = re.compile(rf"{RECORD_PATH}/(?P<record>{VENDOR_BILL}|{VENDOR_CREDIT})/eid:(?P<eid>[^/]+)")
_RECORD_BY_ID = re.compile(rf"{RECORD_PATH}/(?P<record>{VENDOR_BILL}|{VENDOR_CREDIT})/(?P<id>[0-9]+)")
_TITLES = {
    400: ("Bad Request", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1"),
    401: ("Unauthorized", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2"),
    404: ("Not Found", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5"),
    415: ("Unsupported Media Type", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.16"),
    429: ("Too Many Requests", "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"),
    500: ("Internal Server Error", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1"),
    503: ("Service Unavailable", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4"),
}
INVALID_LOGIN = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > "
    "Users/Roles > User Management > View Login Audit Trail."
)
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of `o:errorDetails`."""

    detail: str
    code: str
    path: str | None = None

    def as_json(self) -> dict[str, str]:
        entry = {"detail": self.detail, "o:errorCode": self.code}
        if self.path is not None:
            entry["o:errorPath"] = self.path
        return entry


@dataclass
class Transaction:
    """A vendor bill or vendor credit the account holds: its body as merged by upserts, and the document."""

    record_type: str
    internal_id: str
    external_id: str
    body: dict[str, Any]
    document: SimDocument
    updates: int = 0


@dataclass(frozen=True)
class Judged:
    """What the record service read out of a valid body."""

    supplier: str
    reference: str
    company_code: str
    tran_date: date
    currency: str
    total: Decimal
    warnings: tuple[str, ...] = field(default=())


class NetSuiteSimulator(Simulator):
    kind: ClassVar[str] = "netsuite"

    def __init__(
        self,
        faults: Faults | None = None,
        rules: Rules | None = None,
        credentials: Mapping[str, str] | None = None,
        *,
        accounts: Iterable[str] = DEFAULT_ACCOUNTS,
        currencies: Mapping[str, str] | None = None,
        token_lifetime_seconds: int = 3600,
    ) -> None:
        super().__init__(faults, rules, credentials)
        self.accounts = frozenset(accounts)
        self.currencies = dict(currencies or DEFAULT_CURRENCIES)
        self.token_lifetime_seconds = token_lifetime_seconds
        self.transactions: dict[tuple[str, str], Transaction] = {}  # (record type, external id)
        self.by_internal_id: dict[tuple[str, str], Transaction] = {}
        self._last_internal_id = 4000  # transactions share one internal id sequence in NetSuite

    def api_routes(self) -> list[Route]:
        return [
            Route("POST", re.compile(re.escape(TOKEN_PATH)), self._token),
            Route("PUT", _RECORD_BY_EID, self._upsert, writes=True),
            Route("GET", _RECORD_BY_EID, self._read_by_external_id),
            Route("GET", _RECORD_BY_ID, self._read_by_internal_id),
        ]

    # -- NetSuite's shapes ----------------------------------------------------------------------------------
    def error_reply(self, status: int, message: str, code: str = "") -> Reply:
        return self.problem(status, [ErrorDetail(message, code or "UNEXPECTED_ERROR")])

    def throttled_reply(self) -> Reply:
        reply = self.problem(429, [ErrorDetail(CONCURRENCY_DETAIL, "CONCURRENCY_LIMIT_EXCEEDED")])
        retry_after = f"{self.faults.retry_after_seconds:g}"
        return Reply(reply.status, reply.body, {**reply.headers, "Retry-After": retry_after})

    def problem(self, status: int, details: list[ErrorDetail]) -> Reply:
        title, kind = _TITLES.get(status, ("Error", "https://www.rfc-editor.org/rfc/rfc9110.html"))
        document = {"type": kind, "title": title, "status": status, "o:errorDetails": [d.as_json() for d in details]}
        media = "application/vnd.oracle.resource+json; type=error"
        return Reply(status, netsuite_json(document), {"Content-Type": media})

    def document_number(self, fiscal_year: int, sequence: int) -> str:
        # Called by create() under the lock: NetSuite's internal ids are one sequence, not one per year.
        self._last_internal_id += 1
        return str(self._last_internal_id)

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working, as when the integration's mapping is revoked."""
        with self.lock:
            self.tokens.clear()

    # -- the token endpoint ---------------------------------------------------------------------------------
    def _token(self, request: Request, match: re.Match[str]) -> Reply:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error("invalid_request")
        form = {name: values[0] for name, values in parse_qs(request.body.decode(errors="replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type")
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not form.get("client_assertion"):
            return _oauth_error("invalid_request")
        error = self._assertion_error(form["client_assertion"], self._token_url(request))
        if error is not None:
            with self.lock:
                self.stats["token_refused"] += 1
            return _oauth_error(error)
        token = self.issue_token(self.token_lifetime_seconds)
        return Reply.json(
            200, {"access_token": token, "expires_in": self.token_lifetime_seconds, "token_type": "bearer"}
        )

    def _assertion_error(self, assertion: str, token_url: str) -> str | None:
        """Why the JWT client assertion is refused (an RFC 6749 error code), None when it is good."""
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return "invalid_request"
        if header.get("alg") not in JWT_ALGORITHMS:
            return "invalid_request"
        if header.get("kid") != self.credentials.get("certificate_id"):
            return "invalid_client"
        try:
            claims = jwt.decode(
                assertion,
                self.credentials.get("public_key", ""),
                algorithms=JWT_ALGORITHMS,
                audience=token_url,
                issuer=self.credentials.get("client_id"),
                options={"require": ["iss", "aud", "exp", "iat", "scope"]},
            )
        except (jwt.InvalidSignatureError, jwt.InvalidIssuerError):
            return "invalid_client"
        except jwt.PyJWTError:
            return "invalid_grant"
        scope = claims["scope"]
        scopes = scope if isinstance(scope, list) else str(scope).split(",")
        if "rest_webservices" not in [str(name).strip() for name in scopes]:
            return "invalid_scope"
        if int(claims["exp"]) - int(claims["iat"]) > MAX_ASSERTION_LIFETIME:
            return "invalid_grant"
        return None

    def _token_url(self, request: Request) -> str:
        return f"http://{request.headers.get('host', '')}{TOKEN_PATH}"

    # -- records ----------------------------------------------------------------------------------------------
    def _upsert(self, request: Request, match: re.Match[str]) -> Reply:
        if not self.bearer_ok(request):
            return self.problem(401, [ErrorDetail(INVALID_LOGIN, "INVALID_LOGIN")])
        media = request.headers.get("content-type", "").split(";")[0].strip()
        if media not in JSON_MEDIA_TYPES:
            detail = f"Unsupported media type {media or '(none)'}; use application/json."
            return self.problem(415, [ErrorDetail(detail, "UNSUPPORTED_MEDIA_TYPE")])
        try:
            body = json.loads(request.body, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            return self.problem(400, [ErrorDetail("Invalid content in the request body.", "INVALID_CONTENT")])
        if not isinstance(body, dict):
            return self.problem(400, [ErrorDetail("The request body must be a JSON object.", "INVALID_CONTENT")])
        record, external_id = match["record"], unquote(match["eid"])
        with self.lock:  # the check and the write are one step, as a database transaction is in NetSuite
            existing = self.transactions.get((record, external_id))
            merged = _merged(existing.body if existing else {}, body, external_id)
            judged = self._judge(record, merged, body, request.headers)
            if not isinstance(judged, Judged):
                return self.problem(400, judged)
            merged.setdefault("tranDate", judged.tran_date.isoformat())
            transaction = self._store(record, external_id, merged, judged, existing, request.body)
        host = request.headers.get("host", "")
        headers = {"Location": f"http://{host}{RECORD_PATH}/{record}/{transaction.internal_id}"}
        if judged.warnings:
            headers["X-NetSuite-Warning"] = " ".join(judged.warnings)
        return Reply(204, b"", headers)

    def _store(
        self,
        record: str,
        external_id: str,
        merged: dict[str, Any],
        judged: Judged,
        existing: Transaction | None,
        raw: bytes,
    ) -> Transaction:
        # The request as the client sent it, text and all, for tests that check its shape and its numbers.
        body_as_sent = {"record": record, "json": raw.decode()}
        if existing is not None:
            existing.body = merged
            existing.updates += 1
            document = existing.document
            document.supplier, document.invoice_reference = judged.supplier, judged.reference
            document.company_code, document.currency = judged.company_code, judged.currency
            document.gross_amount, document.body = str(judged.total), body_as_sent
            self.stats["updated"] += 1
            return existing
        document = self.create(
            supplier=judged.supplier,
            invoice_reference=judged.reference,
            company_code=judged.company_code,
            document_date=judged.tran_date,
            gross_amount=judged.total,
            currency=judged.currency,
            external_id=external_id,
            body=body_as_sent,
        )
        transaction = Transaction(record, document.document_number, external_id, merged, document)
        self.transactions[(record, external_id)] = transaction
        self.by_internal_id[(record, document.document_number)] = transaction
        self.stats[f"created_{record}"] += 1
        return transaction

    def _read_by_external_id(self, request: Request, match: re.Match[str]) -> Reply:
        with self.lock:
            transaction = self.transactions.get((match["record"], unquote(match["eid"])))
        return self._read(request, transaction)

    def _read_by_internal_id(self, request: Request, match: re.Match[str]) -> Reply:
        with self.lock:
            transaction = self.by_internal_id.get((match["record"], match["id"]))
        return self._read(request, transaction)

    def _read(self, request: Request, transaction: Transaction | None) -> Reply:
        if not self.bearer_ok(request):
            return self.problem(401, [ErrorDetail(INVALID_LOGIN, "INVALID_LOGIN")])
        if transaction is None:
            detail = "The record instance does not exist. Provide a valid record instance ID."
            return self.problem(404, [ErrorDetail(detail, "NONEXISTENT_ID")])
        expand = request.arg("expandSubResources") == "true"
        host = request.headers.get("host", "")
        document = self._record_json(transaction, f"http://{host}", expand)
        return Reply(200, netsuite_json(document), {"Content-Type": RECORD_MEDIA_TYPE})

    def _record_json(self, transaction: Transaction, base: str, expand: bool) -> dict[str, Any]:
        self_url = f"{base}{RECORD_PATH}/{transaction.record_type}/{transaction.internal_id}"
        body = transaction.body
        tran_date = date.fromisoformat(body["tranDate"])
        document: dict[str, Any] = {
            "links": [{"rel": "self", "href": self_url}],
            **{name: value for name, value in body.items() if name not in ("expense", "item")},
            "id": transaction.internal_id,
            "postingPeriod": {"id": _period_id(tran_date), "refName": tran_date.strftime("%b %Y")},
            "total": Decimal(transaction.document.gross_amount),
        }
        for sublist in ("expense", "item"):
            if sublist in body:
                lines = body[sublist].get("items", [])
                numbered = [{"line": number, **line} for number, line in enumerate(lines, start=1)]
                link = {"links": [{"rel": "self", "href": f"{self_url}/{sublist}"}]}
                document[sublist] = {**link, "items": numbered} if expand else link
        return document

    # -- judging a body ---------------------------------------------------------------------------------------
    def _judge(
        self, record: str, merged: dict[str, Any], sent: dict[str, Any], headers: Mapping[str, str]
    ) -> Judged | list[ErrorDetail]:
        """The checks NetSuite makes, in its order: names, value types, required fields, references, then
        the accounting rules. Returns the details of every problem found at the first failing stage."""
        names_level = headers.get("x-netsuite-propertynamevalidation", "Warning")
        unknown = _unknown_names(record, sent)
        if unknown and names_level == "Error":
            return [ErrorDetail(f"Invalid field name: {name}.", "INVALID_CONTENT", name) for name in unknown]
        warnings = tuple(f"Unknown field {name} was ignored." for name in unknown) if names_level == "Warning" else ()
        for stage in (self._type_errors, self._missing, self._bad_references):
            errors = stage(merged)
            if errors:
                return errors
        supplier, tran_date = _reference_id(merged["entity"]), _tran_date(merged)
        refusal = self._refusal_detail(supplier, tran_date)
        if refusal is not None:
            return [refusal]
        return Judged(
            supplier=supplier,
            reference=str(merged.get("tranId", "")),
            company_code=_reference_id(merged["subsidiary"]),
            tran_date=tran_date,
            # Without a currency NetSuite takes the vendor's; the simulated vendors all bill in USD.
            currency=self._currency_code(merged.get("currency")) or "USD",
            total=_total(merged),
            warnings=warnings,
        )

    def _type_errors(self, body: dict[str, Any]) -> list[ErrorDetail]:
        errors: list[ErrorDetail] = []
        for name, value in body.items():
            if name in REFERENCE_PROPERTIES and not _is_reference(value):
                errors.append(_invalid_value(value, name, name))
            if name in DATE_PROPERTIES and not _is_iso_date(value):
                errors.append(_invalid_value(value, name, name))
            if name in ("tranId", "memo", "externalId") and not isinstance(value, str):
                errors.append(_invalid_value(value, name, name))
        for sublist, index, line in _lines(body):
            path = f"{sublist}.items[{index}]"
            for name in ("amount", "rate", "quantity"):
                if name in line and not isinstance(line[name], Decimal):
                    errors.append(_invalid_value(line[name], name, f"{path}.{name}"))
            for name in ("account", "item"):
                if name in line and not _is_reference(line[name]):
                    errors.append(_invalid_value(line[name], name, f"{path}.{name}"))
        return errors

    def _missing(self, body: dict[str, Any]) -> list[ErrorDetail]:
        missing = [label for name, label in (("entity", "Vendor"), ("subsidiary", "Subsidiary")) if name not in body]
        if missing:
            detail = f"Error while accessing a resource. Please enter value(s) for: {', '.join(missing)}."
            return [ErrorDetail(detail, "USER_ERROR")]
        lines = list(_lines(body))
        if not lines:
            detail = "Error while accessing a resource. You must enter at least one line item for this transaction."
            return [ErrorDetail(detail, "USER_ERROR")]
        errors = []
        for sublist, index, line in lines:
            needed = (("account", "Account"), ("amount", "Amount")) if sublist == "expense" else (("item", "Item"),)
            labels = [label for name, label in needed if name not in line]
            if sublist == "item" and "amount" not in line and not ("rate" in line and "quantity" in line):
                labels.append("Amount")
            if labels:
                detail = f"Error while accessing a resource. Please enter value(s) for: {', '.join(labels)}."
                errors.append(ErrorDetail(detail, "USER_ERROR", f"{sublist}.items[{index}]"))
        return errors

    def _bad_references(self, body: dict[str, Any]) -> list[ErrorDetail]:
        errors = []
        if "currency" in body and self._currency_code(body["currency"]) is None:
            errors.append(_invalid_field_value(_reference_text(body["currency"]), "currency", "currency"))
        for sublist, index, line in _lines(body):
            account = line.get("account")
            if account is not None and _reference_id(account) not in self.accounts:
                path = f"{sublist}.items[{index}].account"
                errors.append(_invalid_field_value(_reference_text(account), "account", path))
        return errors

    def _refusal_detail(self, supplier: str, tran_date: date) -> ErrorDetail | None:
        if self.refusal(supplier, tran_date) is None:
            return None
        if supplier in self.rules.blocked_suppliers:
            # An inactive vendor cannot be chosen on a transaction: NetSuite answers as for an unknown one.
            return _invalid_field_value(supplier, "entity", "entity")
        period = tran_date.strftime("%b %Y")
        detail = f"Error while accessing a resource. The accounting period {period} is closed; you cannot post to it."
        return ErrorDetail(detail, "USER_ERROR", "postingPeriod")

    def _currency_code(self, reference: Any) -> str | None:
        """The ISO code of a currency reference by internal id or by name; None when the account has none."""
        if not isinstance(reference, dict):
            return None
        if "id" in reference:
            return self.currencies.get(str(reference["id"]))
        name = reference.get("refName")
        return name if name in self.currencies.values() else None


def _oauth_error(code: str) -> Reply:
    return Reply.json(400, {"error": code})


def _merged(existing: dict[str, Any], sent: dict[str, Any], external_id: str) -> dict[str, Any]:
    """An update sets the fields it sends and keeps the rest; a sublist sent replaces the one held."""
    return {**existing, **sent, "externalId": external_id}


def _unknown_names(record: str, body: dict[str, Any]) -> list[str]:
    known = RECORD_FIELDS[record]
    unknown = [name for name in body if name not in known]
    for name in REFERENCE_PROPERTIES & body.keys():
        if isinstance(body[name], dict):
            unknown += [f"{name}.{key}" for key in body[name] if key not in REFERENCE_FIELDS]
    for sublist, index, line in _lines(body):
        allowed = EXPENSE_LINE_FIELDS if sublist == "expense" else ITEM_LINE_FIELDS
        unknown += [f"{sublist}.items[{index}].{key}" for key in line if key not in allowed]
    for sublist in ("expense", "item"):
        if isinstance(body.get(sublist), dict):
            unknown += [f"{sublist}.{key}" for key in body[sublist] if key not in SUBLIST_FIELDS]
    return unknown


def _lines(body: dict[str, Any]) -> Iterable[tuple[str, int, dict[str, Any]]]:
    for sublist in ("expense", "item"):
        collection = body.get(sublist)
        items = collection.get("items") if isinstance(collection, dict) else None
        for index, line in enumerate(items if isinstance(items, list) else []):
            if isinstance(line, dict):
                yield sublist, index, line


def _total(body: dict[str, Any]) -> Decimal:
    """The transaction total NetSuite computes: the sum of the expense and item line amounts."""
    total = Decimal(0)
    for _, _, line in _lines(body):
        total += line["amount"] if "amount" in line else line["rate"] * line["quantity"]
    return total


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and any(
        isinstance(value.get(key), str | Decimal) and str(value.get(key)) for key in ("id", "refName", "externalId")
    )


def _is_iso_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str) and len(value) == 10


def _tran_date(body: dict[str, Any]) -> date:
    # NetSuite dates a transaction sent without one today.
    return date.fromisoformat(body["tranDate"]) if "tranDate" in body else date.today()


def _reference_id(reference: Any) -> str:
    if isinstance(reference, dict):
        return str(reference.get("id") or reference.get("externalId") or reference.get("refName") or "")
    return str(reference)


def _reference_text(reference: Any) -> str:
    return _reference_id(reference) or json.dumps(reference, default=str)


def _period_id(day: date) -> str:
    # Accounting periods have internal ids of their own; one per month, counted from January 2000.
    return str((day.year - 2000) * 12 + day.month)


def _invalid_field_value(value: str, name: str, path: str) -> ErrorDetail:
    detail = (
        f"Error while accessing resource: You have entered an Invalid Field Value {value} for the following field: "
        f"{name}"
    )
    return ErrorDetail(detail, "INVALID_CONTENT", path)


def _invalid_value(value: Any, name: str, path: str) -> ErrorDetail:
    shown = json.dumps(value, default=str)
    detail = f"Error while accessing a resource. Invalid value {shown} for the field {name}: wrong type."
    return ErrorDetail(detail, "INVALID_CONTENT", path)
