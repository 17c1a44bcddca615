"""SAP S/4HANA posting: SapAdapter against SapSimulator over real HTTP on loopback.

The simulator serves API_SUPPLIERINVOICE_PROCESS_SRV (OData v2) with Basic auth, CSRF tokens bound to a
session cookie, SAP's error bodies and injected faults; every test counts the documents in the simulator's own
records. The shape test checks the bodies the adapter sent against property lists derived from the service's
metadata and OpenAPI description (tests/fixtures/erp/sap/SOURCE.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from reconstream.models.invoices import Invoice
from reconstream.shells.erp.adapter import ErpDocument, ErpTarget
from reconstream.shells.erp.errors import Cause, ErpRejected, ErpUnavailable
from reconstream.shells.erp.sap import SERVICE_ROOT, SapAdapter, lookup_filter
from reconstream.shells.erp.sim_sap import INVOICE_TYPE, SapSimulator
from reconstream.shells.erp.simulator import Rules, RunningSimulator, start

FIXTURE = Path(__file__).parent / "fixtures" / "erp" / "sap" / "supplier_invoice_properties.json"
USER, PASSWORD = "RECON_POSTING", "s3cret-Passw0rd!"
GL_ACCOUNT = "0000400000"
BLOCKED = "100099"
CLOSED_BEFORE = date(2026, 1, 1)


@dataclass
class Sap:
    simulator: SapSimulator
    running: RunningSimulator
    adapters: list[SapAdapter]

    def adapter(self, timeout: float = 5.0, password: str = PASSWORD, **options: str) -> SapAdapter:
        target = ErpTarget(
            name="s4-prod",
            kind="sap",
            base_url=self.running.url,
            credentials={"username": USER, "password": password},
            timeout_seconds=timeout,
            options={"gl_account": GL_ACCOUNT, "tax_codes": "19=V1,7=V2,0=V0", **options},
        )
        adapter = SapAdapter(target)
        self.adapters.append(adapter)
        return adapter

    def records(self) -> dict[str, Any]:
        """The simulator's own records, read over its control endpoint as an outside observer would."""
        return httpx.get(f"{self.running.url}/_sim/records").json()

    def documents(self) -> list[dict[str, Any]]:
        return self.records()["documents"]

    def set_faults(self, **changes: Any) -> None:
        httpx.post(f"{self.running.url}/_sim/faults", json=changes).raise_for_status()

    def stop(self) -> None:
        for adapter in self.adapters:
            adapter.close()
        # The server's loop notices a shutdown only at its next 0.5 s poll: wait for that off the test's
        # clock, so 26 simulators do not add 13 s to the file.
        threading.Thread(target=self.running.stop, name="sap-sim-stop", daemon=True).start()


def make_sap(csrf_token_lifetime: float = 1800.0) -> Sap:
    simulator = SapSimulator(
        rules=Rules(blocked_suppliers=frozenset({BLOCKED}), closed_before=CLOSED_BEFORE),
        credentials={"username": USER, "password": PASSWORD},
        csrf_token_lifetime=csrf_token_lifetime,
    )
    return Sap(simulator, start(simulator), [])


@pytest.fixture
def sap() -> Iterator[Sap]:
    running = make_sap()
    yield running
    running.stop()


def invoice(number: str = "INV-2026-0001", vendor: str = "100001", **fields: Any) -> Invoice:
    payload: dict[str, Any] = {
        "invoice_id": f"AP-{number}",
        "supplier_invoice_number": number,
        "vendor_id": vendor,
        "company_code": "1010",
        "invoice_date": "2026-11-03",
        "due_date": "2026-12-03",
        "currency": "EUR",
        "net_amount": "1500.00",
        "tax_amount": "285.00",
        "gross_amount": "1785.00",
        "po_number": "4500000123",
        "lines": [
            {
                "line_no": 1,
                "description": "Steel brackets, galvanised",
                "quantity": "100",
                "unit_price": "12.00",
                "net_amount": "1200.00",
                "tax_rate": "19",
                "po_line_no": 10,
            },
            {
                "line_no": 2,
                "description": "Freight",
                "quantity": "1",
                "unit_price": "300.00",
                "net_amount": "300.00",
                "tax_rate": "19",
            },
        ],
    }
    payload.update(fields)
    return Invoice.model_validate(payload)


def header_only(number: str, **fields: Any) -> Invoice:
    return invoice(number, lines=[], po_number=None, **fields)


# -- posting and look-up ------------------------------------------------------------------------------------
def test_posting_answers_the_document_and_the_simulator_holds_exactly_it(sap: Sap) -> None:
    adapter = sap.adapter()
    document = adapter.post(invoice())

    assert document == ErpDocument(erp_system="s4-prod", document_number="5100000001", fiscal_year=2026)
    [record] = sap.documents()
    assert record["document_number"] == "5100000001"
    assert record["fiscal_year"] == 2026
    assert record["supplier"] == "100001"
    assert record["invoice_reference"] == "INV-2026-0001"
    assert record["company_code"] == "1010"
    assert Decimal(record["gross_amount"]) == Decimal("1785.00")
    assert record["currency"] == "EUR"
    body = record["body"]
    assert body["SupplierInvoiceIsCreditMemo"] == ""
    assert body["InvoiceGrossAmount"] == "1785.00"  # Edm.Decimal as a string, the Decimal's own digits
    [po_item] = body["to_SuplrInvcItemPurOrdRef"]["results"]
    assert (po_item["PurchaseOrder"], po_item["PurchaseOrderItem"]) == ("4500000123", "10")
    [gl_item] = body["to_SupplierInvoiceItemGLAcct"]["results"]
    assert (gl_item["GLAccount"], gl_item["DebitCreditCode"], gl_item["SupplierInvoiceItemAmount"]) == (
        GL_ACCOUNT,
        "S",
        "300.00",
    )
    assert body["to_SupplierInvoiceTax"]["results"] == [
        {"TaxCode": "V1", "DocumentCurrency": "EUR", "TaxAmount": "285.00", "TaxBaseAmountInTransCrcy": "1500.00"}
    ]


def test_find_posted_is_none_before_and_the_document_after(sap: Sap) -> None:
    adapter = sap.adapter()
    target = invoice("INV-'QUOTED'")  # a quote inside the literal, doubled in the filter
    other_supplier = invoice("INV-'QUOTED'", vendor="100002")

    assert adapter.find_posted(target) is None
    posted = adapter.post(target)

    assert adapter.find_posted(target) == posted
    assert adapter.find_posted(other_supplier) is None
    assert adapter.find_posted(invoice("INV-'QUOTED'", company_code="1710")) is None
    assert lookup_filter(target) == (
        "SupplierInvoiceIDByInvcgParty eq 'INV-''QUOTED''' and InvoicingParty eq '100001' and CompanyCode eq '1010'"
    )


def test_a_credit_note_posts_as_a_credit_memo(sap: Sap) -> None:
    adapter = sap.adapter()
    credit = header_only(
        "CN-77", document_type="credit_note", net_amount="100.00", tax_amount="19.00", gross_amount="119.00"
    )

    document = adapter.post(credit)

    [record] = sap.documents()
    body = record["body"]
    assert body["SupplierInvoiceIsCreditMemo"] == "X"
    assert body["InvoiceGrossAmount"] == "119.00"  # positive: the flag makes it a credit
    [gl_item] = body["to_SupplierInvoiceItemGLAcct"]["results"]
    assert (gl_item["DebitCreditCode"], gl_item["SupplierInvoiceItemAmount"], gl_item["TaxCode"]) == (
        "H",
        "100.00",
        "V1",
    )
    # The invoice with the same reference is another document: the look-up tells them apart.
    assert adapter.find_posted(credit) == document
    assert (
        adapter.find_posted(header_only("CN-77", net_amount="100.00", tax_amount="19.00", gross_amount="119.00"))
        is None
    )


def test_a_signed_negative_invoice_is_read_as_a_credit_memo(sap: Sap) -> None:
    adapter = sap.adapter()
    adapter.post(header_only("CN-78", net_amount="-50.00", tax_amount="0.00", gross_amount="-50.00"))
    [record] = sap.documents()
    assert record["body"]["SupplierInvoiceIsCreditMemo"] == "X"
    assert record["body"]["to_SupplierInvoiceTax"]["results"][0]["TaxCode"] == "V0"


def test_tax_split_over_codes_adds_up_to_the_invoice_tax(sap: Sap) -> None:
    adapter = sap.adapter()
    lines = [
        {"line_no": 1, "quantity": "1", "unit_price": "10.05", "net_amount": "10.05", "tax_rate": "19"},
        {"line_no": 2, "quantity": "3", "unit_price": "3.35", "net_amount": "10.05", "tax_rate": "7"},
    ]
    # 1.9095 + 0.7035 = 2.613, billed as 2.62: the cent of rounding goes on the larger base, once.
    adapter.post(
        invoice("INV-TAX", lines=lines, po_number=None, net_amount="20.10", tax_amount="2.62", gross_amount="22.72")
    )
    [record] = sap.documents()
    taxes = {row["TaxCode"]: row["TaxAmount"] for row in record["body"]["to_SupplierInvoiceTax"]["results"]}
    assert sum(Decimal(amount) for amount in taxes.values()) == Decimal("2.62")
    assert set(taxes) == {"V1", "V2"}


# -- refusals -----------------------------------------------------------------------------------------------
def test_blocked_supplier_is_refused_in_sap_words(sap: Sap) -> None:
    with pytest.raises(ErpRejected) as refused:
        sap.adapter().post(invoice(vendor=BLOCKED))
    assert refused.value.message == f"Vendor {BLOCKED} is blocked for posting in company code 1010"
    assert (refused.value.status, refused.value.code) == (400, "M8/321")
    assert sap.documents() == []


def test_closed_period_is_refused_in_sap_words(sap: Sap) -> None:
    with pytest.raises(ErpRejected) as refused:
        sap.adapter().post(invoice(invoice_date="2025-12-30", due_date="2026-01-30"))
    assert refused.value.message == "Posting period 012 2025 is not open in company code 1010"
    assert refused.value.code == "F5/201"
    assert sap.documents() == []


def test_a_reference_longer_than_sap_keeps_is_refused_by_gateway(sap: Sap) -> None:
    with pytest.raises(ErpRejected) as refused:
        sap.adapter().post(invoice("INV-2026-000000000042"))  # 21 characters; the field holds 16
    assert "SupplierInvoiceIDByInvcgParty" in refused.value.message
    assert "maximum length of 16" in refused.value.message
    assert "An exception was raised" not in refused.value.message  # Gateway's wrapper detail is not the reason
    assert sap.documents() == []


def test_an_unbalanced_document_is_refused_with_the_sap_error_body(sap: Sap) -> None:
    """The balance check, seen raw: the adapter never sends an unbalanced body, so the OData error body is
    checked here over plain HTTP, then read back through the adapter's parser."""
    from reconstream.shells.erp.sap import rejection

    auth = (USER, PASSWORD)
    with httpx.Client(base_url=sap.running.url, auth=auth) as client:
        fetched = client.get(f"{SERVICE_ROOT}/", headers={"X-CSRF-Token": "Fetch", "Accept": "application/json"})
        body = {
            "CompanyCode": "1010",
            "DocumentDate": "/Date(1793664000000)/",
            "PostingDate": "/Date(1793664000000)/",
            "InvoicingParty": "100001",
            "DocumentCurrency": "EUR",
            "InvoiceGrossAmount": "119.00",
            "TaxIsCalculatedAutomatically": False,
            "to_SupplierInvoiceItemGLAcct": {
                "results": [
                    {
                        "SupplierInvoiceItem": "1",
                        "GLAccount": GL_ACCOUNT,
                        "DebitCreditCode": "S",
                        "SupplierInvoiceItemAmount": "100.00",
                        "TaxCode": "V1",
                    }
                ]
            },
            "to_SupplierInvoiceTax": {"results": [{"TaxCode": "V1", "TaxAmount": "9.00"}]},
        }
        response = client.post(
            f"{SERVICE_ROOT}/A_SupplierInvoice",
            json=body,
            headers={"X-CSRF-Token": fetched.headers["x-csrf-token"], "Accept": "application/json"},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "M8/534"
    assert error["message"]["lang"] == "en"
    assert error["message"]["value"].startswith("Balance not zero: 10.00 EUR")
    assert {detail["code"] for detail in error["innererror"]["errordetails"]} == {
        "M8/534",
        "/IWBEP/CX_MGW_BUSI_EXCEPTION",
    }
    assert rejection(response).message == error["message"]["value"]
    assert sap.documents() == []


def test_a_json_number_for_an_edm_decimal_is_refused(sap: Sap) -> None:
    """Edm.Decimal travels as a string in OData v2 JSON: a float-shaped number is not accepted."""
    with httpx.Client(base_url=sap.running.url, auth=(USER, PASSWORD)) as client:
        fetched = client.get(f"{SERVICE_ROOT}/", headers={"X-CSRF-Token": "Fetch"})
        response = client.post(
            f"{SERVICE_ROOT}/A_SupplierInvoice",
            json={"CompanyCode": "1010", "InvoiceGrossAmount": 119.0},
            headers={"X-CSRF-Token": fetched.headers["x-csrf-token"], "Accept": "application/json"},
        )
    assert response.status_code == 400
    assert "InvoiceGrossAmount" in response.json()["error"]["message"]["value"]


# -- auth and CSRF ------------------------------------------------------------------------------------------
def test_wrong_credentials_are_unavailable_auth_without_the_credential(sap: Sap) -> None:
    wrong = "not-the-Passw0rd"
    adapter = sap.adapter(password=wrong)
    for call in (adapter.post, adapter.find_posted):
        with pytest.raises(ErpUnavailable) as failed:
            call(invoice())
        assert failed.value.cause is Cause.AUTH
        text = f"{failed.value} {failed.value.detail} {failed.value!r}"
        assert wrong not in text and PASSWORD not in text and USER not in text
    assert sap.documents() == []


def test_a_write_without_the_csrf_token_is_refused_as_sap_does(sap: Sap) -> None:
    with httpx.Client(base_url=sap.running.url, auth=(USER, PASSWORD)) as client:
        response = client.post(f"{SERVICE_ROOT}/A_SupplierInvoice", json={}, headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.headers["x-csrf-token"] == "Required"
    assert response.text == "CSRF token validation failed"


def test_the_csrf_token_is_fetched_once_with_its_session_cookie(sap: Sap) -> None:
    adapter = sap.adapter()
    adapter.post(invoice("INV-A"))
    adapter.post(invoice("INV-B"))
    stats = sap.records()["stats"]
    assert stats["csrf_tokens_issued"] == 1
    assert stats.get("csrf_rejected", 0) == 0
    assert len(sap.documents()) == 2


def test_an_expired_token_is_fetched_again_once() -> None:
    sap = make_sap(csrf_token_lifetime=0.3)
    adapter = sap.adapter()
    try:
        adapter.post(invoice("INV-A"))
        time.sleep(0.4)  # the session and its token time out on the server
        document = adapter.post(invoice("INV-B"))
        stats = sap.records()["stats"]
        assert document.document_number == "5100000002"
        assert (stats["csrf_tokens_issued"], stats["csrf_rejected"]) == (2, 1)
        assert len(sap.documents()) == 2
    finally:
        sap.stop()


def test_a_token_refused_again_after_a_fresh_fetch_is_auth_not_a_loop() -> None:
    sap = make_sap(csrf_token_lifetime=0.0)  # every token is dead on arrival
    adapter = sap.adapter()
    try:
        with pytest.raises(ErpUnavailable) as failed:
            adapter.post(invoice())
        stats = sap.records()["stats"]
        assert failed.value.cause is Cause.AUTH
        assert (stats["csrf_tokens_issued"], stats["csrf_rejected"]) == (2, 2)  # one refresh, no more
        assert sap.documents() == []
    finally:
        sap.stop()


def test_a_refused_token_of_a_live_session_is_fetched_again_in_that_session(sap: Sap) -> None:
    """The refetch joins the session the client's cookie jar still holds (SAP sets no new cookie then): the
    token must go with that session's cookie."""
    adapter = sap.adapter()
    adapter.post(invoice("INV-A"))
    assert adapter._session is not None  # the post opened a session
    adapter._session = replace(adapter._session, token="no-longer-valid")
    adapter.post(invoice("INV-B"))
    stats = sap.records()["stats"]
    assert (stats["csrf_tokens_issued"], stats["csrf_rejected"]) == (1, 1)
    assert len(sap.documents()) == 2


def test_sessions_expired_under_many_threads_are_renewed_once(sap: Sap) -> None:
    adapter = sap.adapter()
    adapter.post(invoice("INV-WARM"))
    sap.simulator.expire_sessions()
    post_all(adapter, [invoice(f"INV-R{n}") for n in range(6)])
    stats = sap.records()["stats"]
    assert stats["csrf_tokens_issued"] == 2  # the stale session is replaced by one thread, used by all
    assert len(sap.documents()) == 7


# -- faults -------------------------------------------------------------------------------------------------
def test_throttled_is_unavailable_with_retry_after(sap: Sap) -> None:
    sap.set_faults(throttle_rate=1.0, retry_after_seconds=7)
    with pytest.raises(ErpUnavailable) as failed:
        sap.adapter().post(invoice())
    assert failed.value.cause is Cause.THROTTLED
    assert failed.value.retry_after == 7.0
    assert not failed.value.maybe_committed
    assert sap.documents() == []


def test_server_error_is_unavailable_and_commits_nothing(sap: Sap) -> None:
    sap.set_faults(server_error_rate=1.0)
    with pytest.raises(ErpUnavailable) as failed:
        sap.adapter().post(invoice())
    assert failed.value.cause is Cause.SERVER_ERROR
    assert sap.documents() == []


def test_sap_down_is_unavailable(sap: Sap) -> None:
    sap.set_faults(down=True)
    with pytest.raises(ErpUnavailable) as failed:
        sap.adapter().find_posted(invoice())
    assert failed.value.cause is Cause.SERVER_ERROR


def test_dropped_after_commit_is_found_by_the_look_up_and_not_posted_twice(sap: Sap) -> None:
    adapter = sap.adapter()
    target = invoice("INV-DROP")
    sap.set_faults(drop_after_commit_rate=1.0)
    with pytest.raises(ErpUnavailable) as failed:
        adapter.post(target)
    assert failed.value.cause is Cause.CONNECTION
    assert failed.value.maybe_committed
    sap.set_faults(drop_after_commit_rate=0.0)

    found = adapter.find_posted(target)
    assert found is not None and found.document_number == "5100000001"
    # The retry, as the posting service makes it: look up first, post only when nothing is there.
    retried = adapter.find_posted(target) or adapter.post(target)
    assert retried == found
    assert len(sap.documents()) == 1


def test_an_answer_past_the_timeout_is_timeout_maybe_committed_and_found(sap: Sap) -> None:
    adapter = sap.adapter(timeout=0.4)
    target = invoice("INV-SLOW")
    sap.set_faults(slow_rate=1.0, slow_seconds=1.0)
    with pytest.raises(ErpUnavailable) as failed:
        adapter.post(target)
    assert failed.value.cause is Cause.TIMEOUT
    assert failed.value.maybe_committed
    sap.set_faults(slow_rate=0.0)
    found = adapter.find_posted(target)
    assert found is not None and found.fiscal_year == 2026
    assert len(sap.documents()) == 1


def test_over_the_concurrency_limit_is_answered_429(sap: Sap) -> None:
    adapter = sap.adapter(timeout=5.0)
    adapter.post(invoice("INV-WARM"))  # the token is in hand: only the posts race
    sap.set_faults(concurrency_limit=2, slow_rate=1.0, slow_seconds=0.5, retry_after_seconds=2)
    outcomes = post_all(adapter, [invoice(f"INV-C{n}") for n in range(6)])

    throttled = [o for o in outcomes if isinstance(o, ErpUnavailable)]
    posted = [o for o in outcomes if isinstance(o, ErpDocument)]
    assert throttled and all(o.cause is Cause.THROTTLED and o.retry_after == 2.0 for o in throttled)
    assert len(posted) + len(throttled) == 6
    assert len(sap.documents()) == 1 + len(posted)  # a 429 committed nothing
    assert sap.records()["stats"]["over_concurrency_limit"] == len(throttled)


def test_concurrent_posts_from_8_threads_all_land_once(sap: Sap) -> None:
    adapter = sap.adapter()
    invoices = [invoice(f"INV-P{n}", vendor=f"10000{n}") for n in range(8)]
    outcomes = post_all(adapter, invoices)

    assert all(isinstance(outcome, ErpDocument) for outcome in outcomes)
    numbers = {outcome.document_number for outcome in outcomes if isinstance(outcome, ErpDocument)}
    assert len(numbers) == 8
    references = sorted(record["invoice_reference"] for record in sap.documents())
    assert references == sorted(inv.supplier_invoice_number for inv in invoices)
    assert sap.records()["stats"]["csrf_tokens_issued"] == 1  # one fetch shared by the eight threads
    for inv, outcome in zip(invoices, outcomes, strict=True):
        assert adapter.find_posted(inv) == outcome


def post_all(adapter: SapAdapter, invoices: list[Invoice]) -> list[ErpDocument | ErpUnavailable]:
    """Post each invoice from its own thread, all released at once."""
    barrier = threading.Barrier(len(invoices))
    outcomes: list[ErpDocument | ErpUnavailable | None] = [None] * len(invoices)

    def run(index: int) -> Callable[[], None]:
        def post() -> None:
            barrier.wait()
            try:
                outcomes[index] = adapter.post(invoices[index])
            except ErpUnavailable as exc:
                outcomes[index] = exc

        return post

    threads = [threading.Thread(target=run(n)) for n in range(len(invoices))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


# -- the shape of what the adapter sends --------------------------------------------------------------------
NAVIGATION = {
    "to_SuplrInvcItemPurOrdRef": "A_SuplrInvcItemPurOrdRefType",
    "to_SupplierInvoiceItemGLAcct": "A_SupplierInvoiceItemGLAcctType",
    "to_SupplierInvoiceTax": "A_SupplierInvoiceTaxType",
}


def test_request_bodies_match_the_spec_entity_types(sap: Sap) -> None:
    spec = json.loads(FIXTURE.read_text())["entity_types"]
    adapter = sap.adapter()
    adapter.post(invoice("INV-SHAPE-1"))
    adapter.post(
        header_only(
            "INV-SHAPE-2", document_type="credit_note", net_amount="10.00", tax_amount="0.70", gross_amount="10.70"
        )
    )
    adapter.post(invoice("INV-SHAPE-3", po_number=None, due_date=None))
    bodies = [record["body"] for record in sap.documents()]
    assert len(bodies) == 3
    seen: set[str] = set()
    for body in bodies:
        check_against_spec(spec, "A_SupplierInvoiceType", body, seen)
    assert seen == {"A_SupplierInvoiceType", *NAVIGATION.values()}


def check_against_spec(spec: dict[str, Any], type_name: str, entry: dict[str, Any], seen: set[str]) -> None:
    entity = spec[type_name]
    seen.add(type_name)
    for name, value in entry.items():
        if name in entity["navigation"]:
            assert name in NAVIGATION, f"{type_name}.{name}: a navigation the adapter should not use"
            for row in value["results"]:
                check_against_spec(spec, NAVIGATION[name], row, seen)
            continue
        assert name in entity["properties"], f"{type_name}.{name} is not in the spec"
        prop = entity["properties"][name]
        assert prop.get("creatable", True), f"{type_name}.{name} is read-only in the spec"
        check_type(f"{type_name}.{name}", prop, value)
    for name in entity["required_on_create"]:
        assert entry.get(name) not in (None, ""), f"{type_name}.{name} is required on create"


def check_type(where: str, prop: dict[str, Any], value: Any) -> None:
    edm = prop["type"]
    if edm == "Edm.String":
        assert isinstance(value, str) and len(value) <= prop["max_length"], where
    elif edm == "Edm.Decimal":
        assert isinstance(value, str), f"{where}: Edm.Decimal travels as a string"
        exponent = Decimal(value).as_tuple().exponent
        assert isinstance(exponent, int) and -exponent <= prop["scale"], where
    elif edm == "Edm.DateTime":
        assert isinstance(value, str) and value.startswith("/Date(") and value.endswith(")/"), where
    elif edm == "Edm.Boolean":
        assert isinstance(value, bool), where


def test_the_simulator_checks_the_same_properties_as_the_spec() -> None:
    """The simulator's embedded lists and the fixture are both derived from the metadata: they agree."""
    spec = json.loads(FIXTURE.read_text())["entity_types"]
    assert set(INVOICE_TYPE.properties) == set(spec["A_SupplierInvoiceType"]["properties"])
    assert set(INVOICE_TYPE.required) == set(spec["A_SupplierInvoiceType"]["required_on_create"])
    for navigation, item_type in INVOICE_TYPE.navigation.items():
        assert set(item_type.properties) == set(spec[NAVIGATION[navigation]]["properties"])
        assert set(item_type.required) == set(spec[NAVIGATION[navigation]]["required_on_create"])


def test_a_target_without_a_gl_account_is_refused_at_start(sap: Sap) -> None:
    target = ErpTarget(name="s4", kind="sap", base_url=sap.running.url, credentials={})
    with pytest.raises(ValueError, match="gl_account"):
        SapAdapter(target)


def test_the_simulator_reads_by_key_and_honours_query_options(sap: Sap) -> None:
    adapter = sap.adapter()
    first = adapter.post(invoice("INV-Q1"))
    adapter.post(invoice("INV-Q2"))
    with httpx.Client(base_url=sap.running.url, auth=(USER, PASSWORD)) as client:
        listed = client.get(
            f"{SERVICE_ROOT}/A_SupplierInvoice",
            params={
                "$filter": "InvoicingParty eq '100001'",
                "$select": "SupplierInvoice",
                "$top": "1",
                "$inlinecount": "allpages",
                "$format": "json",
            },
        ).json()["d"]
        by_key = client.get(
            f"{SERVICE_ROOT}/A_SupplierInvoice(SupplierInvoice='{first.document_number}',FiscalYear='2026')",
            headers={"Accept": "application/json"},
        ).json()["d"]
        bad_filter = client.get(f"{SERVICE_ROOT}/A_SupplierInvoice", params={"$filter": "Nope gt 1", "$format": "json"})
    assert listed["__count"] == "2"
    assert [set(row) for row in listed["results"]] == [{"__metadata", "SupplierInvoice"}]
    assert (by_key["SupplierInvoiceIDByInvcgParty"], by_key["InvoiceGrossAmount"]) == ("INV-Q1", "1785.00")
    assert (
        bad_filter.status_code == 400 and "Invalid filter expression" in bad_filter.json()["error"]["message"]["value"]
    )
