"""Dynamics 365 Finance & Operations posting: D365Adapter against D365Simulator over real HTTP on loopback.

The simulator serves the Entra ID token endpoint and the OData v4 `$batch` and query endpoints; faults and rules
are set per test. Nothing here is a canned answer: every posting goes through the token flow, a multipart change
set, the simulator's validation and its records.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from reconstream.models.invoices import Invoice
from reconstream.shells.erp import simulator
from reconstream.shells.erp.adapter import ErpDocument, ErpTarget
from reconstream.shells.erp.d365 import (
    D365Adapter,
    batch_responses,
    erp_message,
    header_entity,
    line_entities,
    vendor_invoice_batch,
)
from reconstream.shells.erp.errors import Cause, ErpRejected, ErpUnavailable
from reconstream.shells.erp.sim_d365 import D365Simulator
from reconstream.shells.erp.simulator import Faults, Rules

FIXTURES = Path(__file__).parent / "fixtures" / "erp" / "d365"
TENANT = "contoso-tenant"
CREDENTIALS = {"tenant_id": TENANT, "client_id": "4f1c2b3a-app", "client_secret": "Xq8~not-a-real-secret-9Zz"}


def an_invoice(
    number: str = "INV-1001", vendor: str = "V1000", company: str = "USMF", day: str = "2026-11-03", **fields: Any
) -> Invoice:
    payload = {
        "invoice_id": f"AP-{number}",
        "supplier_invoice_number": number,
        "vendor_id": vendor,
        "company_code": company,
        "invoice_date": day,
        "due_date": "2026-12-03",
        "currency": "EUR",
        "net_amount": "100.00",
        "tax_amount": "19.00",
        "gross_amount": "119.00",
        "lines": [
            {
                "line_no": 1,
                "description": "Toner",
                "quantity": "2",
                "unit_price": "30.00",
                "net_amount": "60.00",
                "tax_rate": "19",
            },
            {
                "line_no": 2,
                "description": "Paper",
                "quantity": "1",
                "unit_price": "40.00",
                "net_amount": "40.00",
                "tax_rate": "19",
            },
        ],
        **fields,
    }
    return Invoice.model_validate(payload)


@dataclass
class Erp:
    sim: D365Simulator
    running: simulator.RunningSimulator
    adapter: D365Adapter

    def adapter_with(self, **changes: Any) -> D365Adapter:
        return make_adapter(self.running.url, **changes)


def make_adapter(
    url: str, secret: str | None = None, timeout: float = 5.0, client: httpx.Client | None = None
) -> D365Adapter:
    target = ErpTarget(
        name="d365-contoso",
        kind="d365",
        base_url=url,
        credentials={"client_id": CREDENTIALS["client_id"], "client_secret": secret or CREDENTIALS["client_secret"]},
        timeout_seconds=timeout,
        options={"token_url": f"{url}/{TENANT}/oauth2/v2.0/token", "resource": url},
    )
    return D365Adapter(target, client)


@pytest.fixture(scope="module")
def to_stop() -> Iterator[list[simulator.RunningSimulator]]:
    """Servers stopped together at the end: each stop waits out serve_forever's 0.5 s poll, so in parallel."""
    servers: list[simulator.RunningSimulator] = []
    yield servers
    with ThreadPoolExecutor(max(1, len(servers))) as pool:
        list(pool.map(lambda server: server.stop(), servers))


@pytest.fixture
def erp(to_stop: list[simulator.RunningSimulator]) -> Iterator[Callable[..., Erp]]:
    started: list[Erp] = []

    def start(faults: Faults | None = None, rules: Rules | None = None, **options: Any) -> Erp:
        sim = D365Simulator(faults, rules, CREDENTIALS, **options)
        running = simulator.start(sim)
        sim.resource = running.url  # the environment's URL is the token's audience
        started.append(Erp(sim, running, make_adapter(running.url)))
        return started[-1]

    yield start
    for each in started:
        each.adapter.close()
        to_stop.append(each.running)


def retried_via_look_up(adapter: D365Adapter, invoice: Invoice) -> ErpDocument:
    """What the posting service does before a retry whose first attempt may have committed."""
    return adapter.find_posted(invoice) or adapter.post(invoice)


# -- posting -----------------------------------------------------------------------------------------------------
def test_posting_creates_one_pending_vendor_invoice_with_its_lines(erp: Callable[..., Erp]) -> None:
    env = erp()
    document = env.adapter.post(an_invoice())

    assert document == ErpDocument("d365-contoso", "APINV-000001", 2026)
    [record] = env.sim.documents
    assert (record.supplier, record.invoice_reference, record.company_code) == ("V1000", "INV-1001", "USMF")
    assert (record.gross_amount, record.currency, record.fiscal_year) == ("119.00", "EUR", 2026)
    assert record.document_number == document.document_number
    lines = env.sim.lines[("USMF", "APINV-000001")]
    amounts = [(line["InvoiceLineNumber"], line["NetAmount"]) for line in lines]
    assert amounts == [(1, Decimal("60.00")), (2, Decimal("40.00"))]
    assert {line["HeaderReference"] for line in lines} == {"APINV-000001"}
    assert record.body["header"]["ImportedAmount"] == Decimal("119.00")


def test_find_posted_is_none_before_and_the_document_after(erp: Callable[..., Erp]) -> None:
    env = erp()
    invoice = an_invoice()
    assert env.adapter.find_posted(invoice) is None

    posted = env.adapter.post(invoice)

    assert env.adapter.find_posted(invoice) == posted
    assert env.adapter.find_posted(an_invoice(vendor="V2000")) is None  # same number, another vendor
    assert env.adapter.find_posted(an_invoice(company="DEMF")) is None  # same number, another legal entity
    # Without cross-company=true F&O answers from the user's default company only: the look-up needs it.
    token = env.adapter._bearer()
    plain = httpx.get(
        f"{env.running.url}/data/VendorInvoiceHeaders",
        params={"$filter": "InvoiceNumber eq 'INV-1001'"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert plain.status_code == 200 and plain.json()["value"] == []


def test_a_wildcard_in_the_number_finds_no_other_invoice(erp: Callable[..., Erp]) -> None:
    env = erp()
    env.adapter.post(an_invoice("INV-1001"))
    # F&O reads `*` in a $filter literal as a wildcard: the simulator does, the adapter keeps only a true match.
    assert env.adapter.find_posted(an_invoice("INV-*")) is None


def test_credit_note_posts_negative_quantities_and_amounts(erp: Callable[..., Erp]) -> None:
    env = erp()
    credit_note = an_invoice("CN-77", document_type="credit_note")

    document = env.adapter.post(credit_note)

    [record] = env.sim.documents
    assert record.gross_amount == "-119.00"
    header, lines = record.body["header"], record.body["lines"]
    assert header["ImportedAmount"] == Decimal("-119.00")
    assert [(line["ReceiveNow"], line["UnitPrice"], line["NetAmount"]) for line in lines] == [
        (Decimal("-2"), Decimal("30.00"), Decimal("-60.00")),
        (Decimal("-1"), Decimal("40.00"), Decimal("-40.00")),
    ]
    assert env.adapter.find_posted(credit_note) == document


# -- the ERP refusing the document -------------------------------------------------------------------------------
def test_vendor_on_hold_is_refused_with_the_erps_words(erp: Callable[..., Erp]) -> None:
    env = erp(rules=Rules(blocked_suppliers=frozenset({"V-HOLD"})))
    with pytest.raises(ErpRejected) as refused:
        env.adapter.post(an_invoice(vendor="V-HOLD"))
    assert refused.value.message == "Vendor V-HOLD is on hold for all transactions."
    assert refused.value.status == 400
    assert env.sim.documents == []


def test_closed_period_is_refused(erp: Callable[..., Erp]) -> None:
    env = erp(rules=Rules(closed_before=date(2026, 1, 1)))
    with pytest.raises(ErpRejected) as refused:
        env.adapter.post(an_invoice(day="2025-12-31"))
    assert refused.value.message == "Period for 12/31/2025 isn't open."
    assert env.sim.documents == []


def test_unknown_vendor_account_is_refused_by_the_relation_check(erp: Callable[..., Erp]) -> None:
    env = erp(vendors={"V1000"})
    with pytest.raises(ErpRejected) as refused:
        env.adapter.post(an_invoice(vendor="V404"))
    assert refused.value.message == (
        "The value 'V404' in field 'Invoice account' is not found in the related table 'Vendors'."
    )
    assert env.sim.documents == []


def test_duplicate_invoice_number_is_an_ap_parameter_not_deduplication(erp: Callable[..., Erp]) -> None:
    strict = erp()
    strict.adapter.post(an_invoice())
    with pytest.raises(ErpRejected) as refused:
        strict.adapter.post(an_invoice())
    assert refused.value.message == "Invoice INV-1001 already used as of 11/3/2026."
    assert len(strict.sim.documents) == 1

    lenient = erp(reject_duplicate_invoice_numbers=False)
    lenient.adapter.post(an_invoice())
    lenient.adapter.post(an_invoice())  # a blind re-post books the invoice twice: only the look-up prevents it
    assert len(lenient.sim.documents) == 2


def test_a_failing_line_rolls_back_the_whole_change_set(erp: Callable[..., Erp]) -> None:
    env = erp()
    invoice = an_invoice()
    lines = line_entities(invoice)
    del lines[1]["Currency"]
    batch = vendor_invoice_batch(f"{env.running.url}/data", header_entity(invoice), lines)

    response = httpx.post(
        f"{env.running.url}/data/$batch",
        content=batch.body,
        headers={"Content-Type": batch.content_type, "Authorization": f"Bearer {env.adapter._bearer()}"},
    )

    assert response.status_code == 200
    [failed] = batch_responses(response.headers["Content-Type"], response.content)
    assert (failed.status, failed.headers["content-id"]) == (400, "3")
    error = failed.json()["error"]
    assert error["message"] == "An error has occurred."
    assert error["innererror"]["message"] == (
        "Write validation failed for table row of type 'VendorInvoiceLineEntity'. "
        "Infolog: Error: Field 'Currency' must be filled in."
    )
    assert erp_message(failed.json(), "")[0] == "Field 'Currency' must be filled in."
    assert env.sim.documents == [] and env.sim.headers == {} and env.sim.lines == {}


def test_an_amount_sent_as_a_string_is_not_an_edm_decimal(erp: Callable[..., Erp]) -> None:
    env = erp()
    header = {**header_entity(an_invoice()), "ImportedAmount": "119.00"}
    batch = vendor_invoice_batch(f"{env.running.url}/data", header, line_entities(an_invoice()))

    response = httpx.post(
        f"{env.running.url}/data/$batch",
        content=batch.body,
        headers={"Content-Type": batch.content_type, "Authorization": f"Bearer {env.adapter._bearer()}"},
    )

    [failed] = batch_responses(response.headers["Content-Type"], response.content)
    assert failed.status == 400
    assert (
        failed.json()["error"]["message"] == "Cannot convert the literal '119.00' to the expected type 'Edm.Decimal'."
    )
    assert env.sim.documents == []


def test_erp_message_reads_the_infolog_of_fo_error_bodies() -> None:
    body = {
        "error": {
            "code": "",
            "message": "An error has occurred.",
            "innererror": {
                "message": "Write validation failed for table row of type 'VendorInvoiceLineEntity'. Infolog: "
                "Warning: The item's inventory model policy must be not stocked.; Warning: The item's inventory "
                "model policy must be not stocked.",
                "type": "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException",
                "stacktrace": "",
            },
        }
    }
    assert erp_message(body, "x") == ("The item's inventory model policy must be not stocked.", None)
    assert erp_message({"error": {"code": "X1", "message": "Plain reason."}}, "x") == ("Plain reason.", "X1")
    assert erp_message("not json", "fallback") == ("fallback", None)


# -- auth ----------------------------------------------------------------------------------------------------------
def test_wrong_secret_is_auth_unavailable_without_the_credential(erp: Callable[..., Erp]) -> None:
    env = erp()
    wrong = "Wrong~secret-value-123"
    adapter = env.adapter_with(secret=wrong)
    try:
        with pytest.raises(ErpUnavailable) as failed:
            adapter.post(an_invoice())
    finally:
        adapter.close()
    assert failed.value.cause is Cause.AUTH
    text = f"{failed.value} {failed.value.detail!r} {failed.value.__cause__!r}"
    assert wrong not in text and CREDENTIALS["client_secret"] not in text
    assert env.sim.documents == []
    # Entra's own answer to that request, as the simulator gives it.
    answer = httpx.post(
        f"{env.running.url}/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": CREDENTIALS["client_id"], "client_secret": wrong,
              "scope": f"{env.running.url}/.default"},
    )  # fmt: skip
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.json()["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")


def test_token_is_fetched_once_shared_and_renewed_when_refused(erp: Callable[..., Erp]) -> None:
    env = erp()
    seen: list[str] = []
    client = httpx.Client(
        event_hooks={"request": [lambda request: seen.append(request.headers.get("Authorization", ""))]}
    )
    adapter = env.adapter_with(client=client)
    try:
        adapter.post(an_invoice("INV-1"))
        adapter.find_posted(an_invoice("INV-1"))
        assert env.sim.stats["tokens_issued"] == 1

        env.sim.expire_tokens()  # F&O now answers 401 to the token in hand
        adapter.post(an_invoice("INV-2"))
    finally:
        adapter.close()

    assert env.sim.stats["tokens_issued"] == 2
    assert len(env.sim.documents) == 2
    bearers = [header for header in seen if header.startswith("Bearer ")]
    assert len(bearers) == 4 and bearers[0] == bearers[1] == bearers[2] != bearers[3]  # the 401'd one sent again
    assert all(not header for header in seen if not header.startswith("Bearer "))  # the token requests


def test_a_token_refused_again_after_renewal_is_auth(erp: Callable[..., Erp]) -> None:
    env = erp(token_lifetime_seconds=0)  # every token F&O sees is already expired
    with pytest.raises(ErpUnavailable) as failed:
        env.adapter.post(an_invoice())
    assert failed.value.cause is Cause.AUTH
    assert env.sim.stats["tokens_issued"] == 2  # the first, and one renewal: no loop
    assert env.sim.documents == []


# -- no verdict ----------------------------------------------------------------------------------------------------
def test_throttled_answer_carries_retry_after(erp: Callable[..., Erp]) -> None:
    env = erp(Faults(throttle_rate=1.0, retry_after_seconds=7))
    with pytest.raises(ErpUnavailable) as failed:
        env.adapter.post(an_invoice())
    assert failed.value.cause is Cause.THROTTLED
    assert failed.value.retry_after == 7.0 and not failed.value.maybe_committed
    assert env.sim.documents == []


def test_server_error_is_unavailable_and_commits_nothing(erp: Callable[..., Erp]) -> None:
    env = erp(Faults(server_error_rate=1.0))
    with pytest.raises(ErpUnavailable) as failed:
        env.adapter.post(an_invoice())
    assert failed.value.cause is Cause.SERVER_ERROR
    assert env.sim.documents == []


def test_dropped_after_commit_is_found_by_the_look_up_and_not_posted_twice(erp: Callable[..., Erp]) -> None:
    env = erp(Faults(drop_after_commit_rate=1.0), reject_duplicate_invoice_numbers=False)
    invoice = an_invoice()
    with pytest.raises(ErpUnavailable) as failed:
        env.adapter.post(invoice)
    assert failed.value.cause is Cause.CONNECTION and failed.value.maybe_committed
    env.sim.faults.drop_after_commit_rate = 0.0

    found = env.adapter.find_posted(invoice)
    again = retried_via_look_up(env.adapter, invoice)

    [record] = env.sim.documents
    assert found == again == ErpDocument("d365-contoso", record.document_number, 2026)


def test_answer_slower_than_the_timeout_may_have_committed(erp: Callable[..., Erp]) -> None:
    env = erp(Faults(slow_rate=1.0, slow_seconds=1.0), reject_duplicate_invoice_numbers=False)
    adapter = env.adapter_with(timeout=0.4)
    invoice = an_invoice()
    try:
        with pytest.raises(ErpUnavailable) as failed:
            adapter.post(invoice)
        assert failed.value.cause is Cause.TIMEOUT and failed.value.maybe_committed
        env.sim.faults.slow_rate = 0.0
        document = retried_via_look_up(adapter, invoice)
    finally:
        adapter.close()
    [record] = env.sim.documents
    assert document.document_number == record.document_number


def test_requests_over_the_concurrency_limit_are_answered_429(erp: Callable[..., Erp]) -> None:
    env = erp(Faults(concurrency_limit=1, slow_rate=1.0, slow_seconds=0.4, retry_after_seconds=2))
    env.adapter.find_posted(an_invoice())  # the token first: the burst below is postings only
    barrier = threading.Barrier(4)

    def post(number: int) -> ErpDocument | ErpUnavailable:
        barrier.wait()
        try:
            return env.adapter.post(an_invoice(f"INV-{number}"))
        except ErpUnavailable as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(post, range(4)))

    throttled = [outcome for outcome in outcomes if isinstance(outcome, ErpUnavailable)]
    posted = [outcome for outcome in outcomes if isinstance(outcome, ErpDocument)]
    assert throttled and posted
    assert all(exc.cause is Cause.THROTTLED and exc.retry_after == 2.0 for exc in throttled)
    assert len(env.sim.documents) == len(posted)
    assert env.sim.stats["over_concurrency_limit"] == len(throttled)


def test_eight_threads_post_concurrently_and_each_lands_once(erp: Callable[..., Erp]) -> None:
    env = erp()
    invoices = [an_invoice(f"INV-{number}", vendor=f"V{number % 3}") for number in range(8)]

    with ThreadPoolExecutor(8) as pool:
        documents = list(pool.map(env.adapter.post, invoices))

    assert len({document.document_number for document in documents}) == 8
    assert sorted(record.invoice_reference for record in env.sim.documents) == sorted(
        invoice.supplier_invoice_number for invoice in invoices
    )
    assert env.sim.stats["tokens_issued"] == 1  # one token, shared under the lock
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(env.adapter.find_posted, invoices)) == documents


# -- the request shape against the spec ----------------------------------------------------------------------------
def _spec() -> dict[str, tuple[set[str], set[str], set[str]]]:
    """Per entity: exact property names, upper-cased article field names, required names."""
    cdm = json.loads((FIXTURES / "cdm_vendor_invoice_entities.json").read_text())
    docs = json.loads((FIXTURES / "docs_vendor_invoice_fields.json").read_text())
    spec = {}
    for entity, definition in zip(("VendorInvoiceHeader", "VendorInvoiceLine"), cdm["definitions"], strict=True):
        article = docs["entities"][entity]
        exact = set(definition["attributes"]) | set(docs["keyProperties"])
        upper = {name.upper() for name in article["fields"]}
        required = set(definition["notNullable"]) | {
            next((name for name in exact if name.upper() == field.upper()), field) for field in article["required"]
        }
        spec[entity] = (exact, upper, required)
    return spec


def test_request_bodies_have_only_spec_properties_and_the_required_ones(erp: Callable[..., Erp]) -> None:
    env = erp()
    sent: list[httpx.Request] = []
    client = httpx.Client(event_hooks={"request": [sent.append]})
    adapter = env.adapter_with(client=client)
    invoice = an_invoice(po_number="PO-000123", lines=[
        {"line_no": 1, "description": "Toner", "quantity": "2", "unit_price": "30.00", "net_amount": "60.00",
         "po_line_no": 1},
        {"line_no": 2, "description": "Paper", "quantity": "1", "unit_price": "40.00", "net_amount": "40.00"},
    ])  # fmt: skip
    try:
        adapter.post(invoice)
    finally:
        adapter.close()

    [batch] = [request for request in sent if request.url.path == "/data/$batch"]
    raw = batch.content.decode()
    assert raw.count("Content-ID: ") == 3
    assert f"POST {env.running.url}/data/VendorInvoiceHeaders HTTP/1.1" in raw
    assert raw.count("POST $1/VendorInvoiceLines HTTP/1.1") == 2  # the lines take the header's HeaderReference
    assert '"ImportedAmount":119.00' in raw and '"UnitPrice":30.00' in raw  # Edm.Decimal: exact digits, numbers

    spec = _spec()
    [record] = env.sim.documents
    bodies = [("VendorInvoiceHeader", record.body["header"])]
    bodies += [("VendorInvoiceLine", line) for line in record.body["lines"]]
    for entity, body in bodies:
        exact, upper, required = spec[entity]
        unknown = [name for name in body if name not in exact and name.upper() not in upper]
        assert unknown == [], f"{entity}: not in the spec: {unknown}"
        by_navigation = {"HeaderReference"} if entity == "VendorInvoiceLine" else set()
        assert required - by_navigation - set(body) == set(), f"{entity}: required missing"
    assert spec["VendorInvoiceHeader"][2] == {"InvoiceAccount", "InvoiceNumber"}
    assert spec["VendorInvoiceLine"][2] == {"HeaderReference", "Currency"}
    assert record.body["lines"][0]["PurchaseOrder"] == "PO-000123" and record.body["lines"][0]["PurchLineNumber"] == 1
