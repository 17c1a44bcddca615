"""The Oracle ERP Cloud adapter against the simulated Fusion Payables REST API, over real HTTP on loopback."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from reconstream.models.invoices import Invoice
from reconstream.shells.erp.adapter import ErpTarget
from reconstream.shells.erp.errors import Cause, ErpRejected, ErpUnavailable
from reconstream.shells.erp.oracle import OracleAdapter
from reconstream.shells.erp.sim_oracle import INVOICES, OracleError, OracleSimulator
from reconstream.shells.erp.simulator import Reply, Request, Rules, RunningSimulator, start

USERNAME, PASSWORD = "ap.integration", "Wr0ng-Is-N0t-This-Pa55"
CLIENT_ID, CLIENT_SECRET = "reconstream-client", "Cl1ent-S3cret-Value"
SUPPLIERS = {"V1": "Advanced Network Devices", "V2": "Blocked Metals Inc", "V3": "Consolidated Supplies"}
FIELDS = json.loads((Path(__file__).parent / "fixtures/erp/oracle/invoices_fields.json").read_text())


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSimulator]:
    running = start(OracleSimulator())
    yield running
    running.stop()


@pytest.fixture
def sim(server: RunningSimulator) -> tuple[OracleSimulator, RunningSimulator]:
    """A fresh simulated instance per test behind one server (stopping a server costs its 0.5 s poll)."""
    simulator = OracleSimulator(
        rules=Rules(blocked_suppliers=frozenset({"V2"}), closed_before=date(2026, 1, 1)),
        credentials={
            "username": USERNAME,
            "password": PASSWORD,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        business_units=frozenset({"Vision Operations", "Vision Services"}),
        suppliers=SUPPLIERS,
        supplier_sites={"V1": ("FRESNO",)},
    )
    server.server.simulator = simulator
    server.simulator = simulator
    return simulator, server


def adapter_for(
    running: RunningSimulator,
    *,
    credentials: dict[str, str] | None = None,
    timeout: float = 5.0,
    client: httpx.Client | None = None,
    **options: str,
) -> OracleAdapter:
    target = ErpTarget(
        name="oracle-fusion",
        kind="oracle",
        base_url=running.url,
        credentials=credentials if credentials is not None else {"username": USERNAME, "password": PASSWORD},
        timeout_seconds=timeout,
        options=options,
    )
    return OracleAdapter(target, client)


def bearer_credentials() -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def make_invoice(number: str = "INV-1", vendor: str = "V1", **fields: Any) -> Invoice:
    payload: dict[str, Any] = {
        "invoice_id": f"ap-{number}",
        "supplier_invoice_number": number,
        "vendor_id": vendor,
        "company_code": "Vision Operations",
        "invoice_date": "2026-11-03",
        "due_date": "2026-12-03",
        "currency": "EUR",
        "net_amount": "100.00",
        "tax_amount": "19.00",
        "gross_amount": "119.00",
        "lines": [
            {
                "line_no": 1,
                "description": "Network switch",
                "quantity": "2",
                "unit_price": "30.00",
                "net_amount": "60.00",
                "tax_rate": "19",
            },
            # 3 x 13.33 is 39.99: the price does not make the amount, so only the amount goes
            {
                "line_no": 2,
                "description": "Cabling",
                "quantity": "3",
                "unit_price": "13.33",
                "net_amount": "40.00",
                "tax_rate": "19",
            },
        ],
        **fields,
    }
    return Invoice.model_validate(payload)


def records(running: RunningSimulator) -> list[dict[str, Any]]:
    return httpx.get(f"{running.url}/_sim/records").json()["documents"]


def set_faults(running: RunningSimulator, **faults: Any) -> None:
    httpx.post(f"{running.url}/_sim/faults", json=faults).raise_for_status()


# -- posting -------------------------------------------------------------------------------------------------
def test_post_books_one_invoice_with_its_id_and_fiscal_year(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    simulator, running = sim
    adapter = adapter_for(running)
    document = adapter.post(make_invoice())

    assert document.erp_system == "oracle-fusion"
    assert document.document_number.isdigit() and int(document.document_number) >= 300100000000001
    assert document.fiscal_year == 2026
    (record,) = records(running)
    assert record["document_number"] == document.document_number
    assert (record["supplier"], record["invoice_reference"], record["company_code"]) == (
        "V1",
        "INV-1",
        "Vision Operations",
    )
    assert (Decimal(record["gross_amount"]), record["currency"]) == (Decimal("119.00"), "EUR")
    stored = simulator.invoices[int(document.document_number)]
    assert stored["Supplier"] == "Advanced Network Devices"  # resolved from SupplierNumber
    assert stored["SupplierSite"] == "FRESNO"  # the supplier's one site, defaulted
    assert stored["ValidationStatus"] == "Validated"  # validateInvoice ran and found the lines add up
    assert [line["LineAmount"] for line in stored["invoiceLines"]] == [
        Decimal("60.00"),
        Decimal("40.00"),
        Decimal("19.00"),
    ]
    assert "Quantity" in stored["invoiceLines"][0] and "Quantity" not in stored["invoiceLines"][1]
    adapter.close()


def test_find_posted_is_none_before_and_the_document_after(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    _, running = sim
    adapter = adapter_for(running)
    invoice = make_invoice("INV-FIND")
    assert adapter.find_posted(invoice) is None
    posted = adapter.post(invoice)
    assert adapter.find_posted(invoice) == posted
    # Another supplier's invoice with the same number is not this one.
    assert adapter.find_posted(make_invoice("INV-FIND", vendor="V3")) is None
    adapter.close()


def test_credit_note_posts_as_a_negative_credit_memo(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    simulator, running = sim
    adapter = adapter_for(running)
    credit = make_invoice("CN-7", document_type="credit_note")
    document = adapter.post(credit)

    (record,) = records(running)
    assert Decimal(record["gross_amount"]) == Decimal("-119.00")
    stored = simulator.invoices[int(document.document_number)]
    assert stored["InvoiceType"] == "Credit memo"
    assert all(line["LineAmount"] < 0 for line in stored["invoiceLines"])
    assert adapter.find_posted(credit) == document
    # A negative AP export reads as the same credit note, and finds the same document.
    negative = make_invoice(
        "CN-7",
        net_amount="-100.00",
        tax_amount="-19.00",
        gross_amount="-119.00",
        lines=[{"line_no": 1, "quantity": "1", "unit_price": "-100.00", "net_amount": "-100.00"}],
    )
    assert adapter.find_posted(negative) == document
    adapter.close()


def test_a_standard_invoice_without_lines_posts_net_and_tax_lines(
    sim: tuple[OracleSimulator, RunningSimulator],
) -> None:
    simulator, running = sim
    adapter = adapter_for(running)
    document = adapter.post(make_invoice("INV-NOLINES", lines=[]))
    stored = simulator.invoices[int(document.document_number)]
    assert [(line["LineType"], line["LineAmount"]) for line in stored["invoiceLines"]] == [
        ("Item", Decimal("100.00")),
        ("Tax", Decimal("19.00")),
    ]
    adapter.close()


# -- refusals ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("invoice", "words"),
    [
        (make_invoice("INV-B", vendor="V2"), "supplier Blocked Metals Inc because the supplier is inactive or on hold"),
        (make_invoice("INV-C", invoice_date="2025-12-31"), "2025-12-31 isn't in an open or future-enterable period"),
        (
            make_invoice("INV-BU", company_code="Atlantis Operations"),
            "Atlantis Operations of the attribute BusinessUnit",
        ),
        (make_invoice("INV-S", vendor="V404"), "The value V404 of the attribute SupplierNumber isn't valid"),
    ],
    ids=["blocked-supplier", "closed-period", "unknown-business-unit", "unknown-supplier"],
)
def test_refusals_carry_oracles_message(
    sim: tuple[OracleSimulator, RunningSimulator], invoice: Invoice, words: str
) -> None:
    _, running = sim
    adapter = adapter_for(running)
    with pytest.raises(ErpRejected) as refused:
        adapter.post(invoice)
    assert words in refused.value.message
    assert refused.value.status == 400 and refused.value.code
    assert records(running) == []
    adapter.close()


def test_a_different_invoice_with_a_used_number_is_refused_as_a_duplicate(
    sim: tuple[OracleSimulator, RunningSimulator],
) -> None:
    simulator, running = sim
    adapter = adapter_for(running)
    adapter.post(make_invoice("INV-DUP"))
    other = make_invoice("INV-DUP", net_amount="200.00", tax_amount="38.00", gross_amount="238.00", lines=[])
    with pytest.raises(ErpRejected) as refused:
        adapter.post(other)
    assert "INV-DUP already exists for supplier Advanced Network Devices" in refused.value.message
    assert refused.value.code == "AP_DUPLICATE_INVOICE_NUMBER"
    assert len(records(running)) == 1 and simulator.stats["duplicate_refused"] == 1
    adapter.close()


def test_framework_version_1_errors_are_bare_text_and_still_read(
    sim: tuple[OracleSimulator, RunningSimulator],
) -> None:
    _, running = sim
    adapter = adapter_for(running, rest_framework_version="1")
    with pytest.raises(ErpRejected) as refused:
        adapter.post(make_invoice("INV-V1", vendor="V2"))
    assert refused.value.message.startswith("You can't create an invoice for supplier Blocked Metals Inc")
    assert refused.value.code is None
    raw = httpx.post(
        f"{running.url}{INVOICES}",
        content=b"{}",
        auth=(USERNAME, PASSWORD),
        headers={"Content-Type": "application/json"},
    )
    assert raw.status_code == 400 and raw.headers["Content-Type"].startswith("text/plain")
    assert "JBO-27014: Attribute InvoiceNumber in Invoice is required." in raw.text
    adapter.close()


def test_simulator_validates_as_payables_does(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    """Requests the adapter never sends: every fault listed in Oracle's JSON error shape, the sign rule of
    InvoiceType, the action's media type, and a Line Variance hold when the lines do not add up."""
    simulator, running = sim
    headers = {"REST-Framework-Version": "4", "Content-Type": "application/vnd.oracle.adf.resourceitem+json"}
    auth = (USERNAME, PASSWORD)
    bad = {
        "InvoiceNumber": "X1",
        "InvoiceAmount": "abc",
        "InvoiceDate": "03.11.2026",
        "VendorName": "ACME",
        "SupplierNumber": "V1",
        "BusinessUnit": "Vision Operations",
    }
    answer = httpx.post(f"{running.url}{INVOICES}", json=bad, headers=headers, auth=auth)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/vnd.oracle.adf.error+json"
    error = answer.json()
    assert (error["title"], error["status"]) == ("Bad Request", "400")
    details = [detail["detail"] for detail in error["o:errorDetails"]]
    assert any("VendorName" in detail and "JBO-25058" in detail for detail in details)
    assert any("InvoiceAmount" in detail for detail in details)
    assert any("InvoiceDate" in detail for detail in details)
    assert "JBO-27014: Attribute InvoiceCurrency in Invoice is required." in details

    positive_credit = {
        "InvoiceNumber": "CM-1",
        "InvoiceType": "Credit memo",
        "InvoiceCurrency": "EUR",
        "InvoiceAmount": 10.5,
        "InvoiceDate": "2026-11-03",
        "BusinessUnit": "Vision Operations",
        "SupplierNumber": "V1",
        "invoiceLines": [{"LineAmount": 10.5}],
    }
    answer = httpx.post(f"{running.url}{INVOICES}", json=positive_credit, headers=headers, auth=auth)
    assert answer.status_code == 400
    assert answer.json()["o:errorDetails"][0]["detail"] == "The invoice amount must be negative for a credit memo."

    unbalanced = {
        **positive_credit,
        "InvoiceNumber": "STD-1",
        "InvoiceType": "Standard",
        "InvoiceAmount": "100.00",
        "invoiceLines": [{"LineNumber": 1, "LineAmount": "90.00"}],
    }
    created = httpx.post(f"{running.url}{INVOICES}", json=unbalanced, headers=headers, auth=auth)
    assert created.status_code == 201 and created.json()["ValidationStatus"] == "Never validated"
    assert created.headers["Location"].endswith(f"/invoices/{created.json()['InvoiceId']}")
    action = {"InvoiceNumber": "STD-1", "BusinessUnit": "Vision Operations", "Supplier": "Advanced Network Devices"}
    wrong_type = httpx.post(f"{running.url}{INVOICES}/action/validateInvoice", json=action, headers=headers, auth=auth)
    assert wrong_type.status_code == 415
    validated = httpx.post(
        f"{running.url}{INVOICES}/action/validateInvoice",
        content=json.dumps(action),
        headers={**headers, "Content-Type": "application/vnd.oracle.adf.action+json"},
        auth=auth,
    )
    assert validated.status_code == 200 and "result" in validated.json()
    stored = simulator.invoices[created.json()["InvoiceId"]]
    assert (stored["ValidationStatus"], stored["holds"]) == ("Needs revalidation", ["Line Variance"])

    # The q syntax: version 1 query by example, version 2 on quoted literals, an unknown attribute refused.
    found = httpx.get(
        f"{running.url}{INVOICES}", params={"q": "InvoiceNumber=STD-1;SupplierNumber=V1", "onlyData": "true"}, auth=auth
    )
    assert found.json()["count"] == 1 and "links" not in found.json()["items"][0]
    found = httpx.get(
        f"{running.url}{INVOICES}",
        auth=auth,
        headers=headers,
        params={
            "q": "InvoiceNumber='STD-1' and BusinessUnit='Vision Operations'",
            "fields": "InvoiceId,InvoiceAmount",
            "totalResults": "true",
        },
    )
    body = found.json()
    assert (body["count"], body["totalResults"], body["hasMore"]) == (1, 1, False)
    assert set(body["items"][0]) == {"InvoiceId", "InvoiceAmount", "links"}
    refused = httpx.get(f"{running.url}{INVOICES}", params={"q": "Secret='x'"}, auth=auth, headers=headers)
    assert refused.status_code == 400


# -- auth ----------------------------------------------------------------------------------------------------
def test_wrong_credentials_are_unavailable_auth_without_the_credential(
    sim: tuple[OracleSimulator, RunningSimulator],
) -> None:
    _, running = sim
    wrong = "Not-The-Password-42"
    adapter = adapter_for(running, credentials={"username": USERNAME, "password": wrong})
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.post(make_invoice())
    assert unavailable.value.cause is Cause.AUTH
    assert wrong not in str(unavailable.value) and PASSWORD not in str(unavailable.value)
    assert USERNAME not in str(unavailable.value)

    bad_client = adapter_for(running, credentials={"client_id": CLIENT_ID, "client_secret": wrong})
    with pytest.raises(ErpUnavailable) as unavailable:
        bad_client.find_posted(make_invoice())
    assert unavailable.value.cause is Cause.AUTH and wrong not in str(unavailable.value)
    assert records(running) == []
    adapter.close()
    bad_client.close()


def test_bearer_token_is_fetched_once_and_refreshed_once_when_refused(
    sim: tuple[OracleSimulator, RunningSimulator],
) -> None:
    simulator, running = sim
    adapter = adapter_for(running, credentials=bearer_credentials(), scope="urn:opc:resource:consumer::all")
    adapter.post(make_invoice("INV-T1"))
    adapter.post(make_invoice("INV-T2"))
    assert simulator.stats["tokens_issued"] == 1  # one token for look-up, create and validate of both

    simulator.expire_tokens()
    adapter.post(make_invoice("INV-T3"))
    assert simulator.stats["tokens_issued"] == 2  # the expired token refused once, then a new one
    assert len(records(running)) == 3

    # A token the API keeps refusing: one refresh, then AUTH, never a loop.
    simulator.bearer_ok = lambda request: False  # type: ignore[method-assign]
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.find_posted(make_invoice("INV-T4"))
    assert unavailable.value.cause is Cause.AUTH
    assert simulator.stats["tokens_issued"] == 3
    adapter.close()


# -- faults --------------------------------------------------------------------------------------------------
def test_throttled_carries_retry_after(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    _, running = sim
    set_faults(running, throttle_rate=1.0, retry_after_seconds=7)
    adapter = adapter_for(running)
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.post(make_invoice())
    assert unavailable.value.cause is Cause.THROTTLED and unavailable.value.retry_after == 7.0
    assert not unavailable.value.maybe_committed and records(running) == []
    adapter.close()


def test_server_error_is_unavailable(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    _, running = sim
    set_faults(running, server_error_rate=1.0)
    adapter = adapter_for(running)
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.post(make_invoice())
    assert unavailable.value.cause is Cause.SERVER_ERROR and records(running) == []
    set_faults(running, server_error_rate=0.0, down=True)
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.find_posted(make_invoice())
    assert unavailable.value.cause is Cause.SERVER_ERROR
    adapter.close()


def test_drop_after_commit_then_look_up_finds_the_one_invoice(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    simulator, running = sim
    adapter = adapter_for(running)
    invoice = make_invoice("INV-DROP")
    set_faults(running, drop_after_commit_rate=1.0)
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.post(invoice)
    assert unavailable.value.cause is Cause.CONNECTION and unavailable.value.maybe_committed
    set_faults(running, drop_after_commit_rate=0.0)

    found = adapter.find_posted(invoice)
    assert found is not None
    assert adapter.post(invoice) == found  # the retry looks up first: no second create, no duplicate refusal
    (record,) = records(running)
    assert record["document_number"] == found.document_number
    assert simulator.stats["duplicate_refused"] == 0
    assert simulator.invoices[int(found.document_number)]["ValidationStatus"] == "Validated"  # finished on retry
    adapter.close()


def test_slow_answer_past_the_timeout_is_timeout_maybe_committed(
    sim: tuple[OracleSimulator, RunningSimulator],
) -> None:
    _, running = sim
    adapter = adapter_for(running, timeout=0.4)
    invoice = make_invoice("INV-SLOW")
    set_faults(running, slow_rate=1.0, slow_seconds=1.0)
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.post(invoice)
    assert unavailable.value.cause is Cause.TIMEOUT and unavailable.value.maybe_committed
    set_faults(running, slow_rate=0.0)
    found = adapter.find_posted(invoice)
    assert found is not None and adapter.post(invoice) == found
    assert len(records(running)) == 1
    adapter.close()


def test_concurrency_limit_is_answered_429(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    simulator, running = sim
    set_faults(running, concurrency_limit=0, retry_after_seconds=2)
    adapter = adapter_for(running)
    with pytest.raises(ErpUnavailable) as unavailable:
        adapter.post(make_invoice())
    assert unavailable.value.cause is Cause.THROTTLED and unavailable.value.retry_after == 2.0
    assert simulator.stats["over_concurrency_limit"] >= 1 and records(running) == []
    adapter.close()


def test_eight_threads_post_concurrently_each_invoice_once(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    simulator, running = sim
    adapter = adapter_for(running, credentials=bearer_credentials())
    set_faults(running, slow_rate=1.0, slow_seconds=0.2)  # each commit held a moment, so the posts overlap
    invoices = [make_invoice(f"INV-C{n}") for n in range(8)]
    results: dict[str, str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def post(invoice: Invoice) -> None:
        barrier.wait()
        try:
            results[invoice.supplier_invoice_number] = adapter.post(invoice).document_number
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(invoice,)) for invoice in invoices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    posted = records(running)
    assert sorted(record["invoice_reference"] for record in posted) == sorted(results)
    assert len({record["document_number"] for record in posted}) == 8
    assert simulator.stats["tokens_issued"] == 1  # the shared token fetched once under the lock
    assert simulator.max_in_flight >= 2
    adapter.close()


# -- shape ---------------------------------------------------------------------------------------------------
def test_request_bodies_match_the_invoices_resource(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    _, running = sim
    sent: list[httpx.Request] = []
    client = httpx.Client(base_url=running.url, timeout=5, event_hooks={"request": [sent.append]})
    adapter = adapter_for(running, client=client, supplier_site="FRESNO", distribution_combination="01-000-2210")
    adapter.post(make_invoice("INV-SHAPE"))
    adapter.post(make_invoice("CN-SHAPE", document_type="credit_note"))

    creates = [r for r in sent if r.method == "POST" and r.url.path == INVOICES]
    actions = [r for r in sent if r.url.path.endswith("/action/validateInvoice")]
    lookups = [r for r in sent if r.method == "GET"]
    assert len(creates) == 2 and len(actions) == 2 and len(lookups) == 2
    header_spec, line_spec, action_spec = FIELDS["invoices"], FIELDS["invoiceLines"], FIELDS["validateInvoice"]
    for request in creates:
        assert request.headers["Content-Type"] == "application/vnd.oracle.adf.resourceitem+json"
        assert request.headers["REST-Framework-Version"] == "4"
        body = json.loads(request.content, parse_float=Decimal)
        check_shape(body, header_spec)
        assert any(name in body for name in header_spec["one_of"])
        assert body["InvoiceType"] in header_spec["enums"]["InvoiceType"]
        assert isinstance(body["InvoiceAmount"], Decimal)  # a JSON number, written exactly
        assert b'"InvoiceAmount":119.00' in request.content or b'"InvoiceAmount":-119.00' in request.content
        for line in body["invoiceLines"]:
            check_shape(line, line_spec)
            assert line["LineType"] in line_spec["enums"]["LineType"]
    for request in actions:
        assert request.headers["Content-Type"] == "application/vnd.oracle.adf.action+json"
        check_shape(json.loads(request.content), action_spec)
    for request in lookups:
        assert request.url.params["onlyData"] == "true"
        assert request.url.params["q"] == (
            f"InvoiceNumber='{'INV-SHAPE' if request is lookups[0] else 'CN-SHAPE'}';SupplierNumber='V1';"
            "BusinessUnit='Vision Operations'"
        )
        assert set(request.url.params["fields"].split(",")) <= set(header_spec["properties"])
    adapter.close()


def test_simulator_knows_only_attributes_of_the_resource() -> None:
    from reconstream.shells.erp.sim_oracle import HEADER_ATTRIBUTES, LINE_ATTRIBUTES

    assert set(HEADER_ATTRIBUTES) <= set(FIELDS["invoices"]["properties"])
    assert set(LINE_ATTRIBUTES) <= set(FIELDS["invoiceLines"]["properties"])


def check_shape(body: dict[str, Any], spec: dict[str, Any]) -> None:
    unknown = set(body) - set(spec["properties"])
    assert not unknown, f"not in the resource: {unknown}"
    missing = [name for name in spec["required"] if name not in body]
    assert not missing, f"required but missing: {missing}"


class RefusingValidation(OracleSimulator):
    """Payables refusing the validate action (say, a tax setup fault) after the invoice was created."""

    def _validate_invoice(self, request: Request, match: re.Match[str]) -> Reply:
        raise OracleError(400, [("Tax can't be calculated for the invoice.", "ZX_TAX_SETUP")])


def test_a_refused_validation_leaves_the_invoice_posted_once(sim: tuple[OracleSimulator, RunningSimulator]) -> None:
    """The invoice exists once created: a validation refusal is logged (the scheduled Validate Payables
    Invoices process validates it later), never answered as a failed posting that a retry would duplicate."""
    _, running = sim
    simulator = RefusingValidation(credentials={"username": USERNAME, "password": PASSWORD})
    running.server.simulator = simulator
    adapter = adapter_for(running)
    invoice = make_invoice("INV-NOVAL")
    document = adapter.post(invoice)
    assert simulator.invoices[int(document.document_number)]["ValidationStatus"] == "Never validated"
    assert adapter.post(invoice) == document  # the retry finds it, tries validation again, books nothing new
    assert len(simulator.documents) == 1 and simulator.stats["refused"] == 2
    adapter.close()
