"""NetSuite posting: the adapter against the simulated account over real HTTP on loopback, with the OAuth 2.0
client-credentials flow, NetSuite's error bodies, its upsert by external id and the faults that hurt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from reconstream.models.invoices import Invoice
from reconstream.shells.erp.adapter import ErpTarget
from reconstream.shells.erp.errors import Cause, ErpRejected, ErpUnavailable
from reconstream.shells.erp.netsuite import CLIENT_ASSERTION_TYPE, RECORD_PATH, TOKEN_PATH, NetSuiteAdapter
from reconstream.shells.erp.sim_netsuite import NetSuiteSimulator
from reconstream.shells.erp.simulator import Rules, RunningSimulator, start

FIXTURE = Path(__file__).parent / "fixtures" / "erp" / "netsuite" / "record_fields.json"
CLIENT_ID = "9c1f0e6d2b7a4c38a1e5f0d2c4b6a8e0c1f0e6d2b7a4c38a1e5f0d2c4b6a8e0"
CERTIFICATE_ID = "kRq8cW3n0Hx2pL5vY7tZ9aB1dF4gJ6mN8sQ0uX2zC4e"


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def _pem_pair(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> KeyPair:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private, public)


@pytest.fixture(scope="module")
def rsa_keys() -> KeyPair:
    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def other_rsa_keys() -> KeyPair:
    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class Account:
    """One simulated NetSuite account running on loopback, and how to make adapters for it."""

    sim: NetSuiteSimulator
    running: RunningSimulator
    keys: KeyPair
    adapters: list[NetSuiteAdapter] = field(default_factory=list)

    def adapter(self, private_pem: str | None = None, timeout: float = 10.0, **options: str) -> NetSuiteAdapter:
        target = ErpTarget(
            name="netsuite-test",
            kind="netsuite",
            base_url=self.running.url,
            credentials={
                "client_id": CLIENT_ID,
                "certificate_id": CERTIFICATE_ID,
                "private_key": private_pem or self.keys.private_pem,
            },
            timeout_seconds=timeout,
            options={"expense_account": "67", "tax_account": "111", **options},
        )
        adapter = NetSuiteAdapter(target)
        self.adapters.append(adapter)
        return adapter

    def close(self) -> None:
        for adapter in self.adapters:
            adapter.close()

    def records(self) -> dict[str, Any]:
        return httpx.get(f"{self.running.url}/_sim/records").json()

    def set_faults(self, **faults: Any) -> None:
        httpx.post(f"{self.running.url}/_sim/faults", json=faults).raise_for_status()

    def bearer(self) -> str:
        """An access token fetched by hand, with an assertion built here and not by the adapter."""
        now = int(time.time())
        claims = {
            "iss": CLIENT_ID,
            "scope": ["rest_webservices"],
            "aud": self.running.url + TOKEN_PATH,
            "iat": now,
            "exp": now + 600,
        }
        assertion = jwt.encode(claims, self.keys.private_pem, algorithm="PS256", headers={"kid": CERTIFICATE_ID})
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        answer = httpx.post(self.running.url + TOKEN_PATH, data=form)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]


@pytest.fixture(scope="module")
def loopback(rsa_keys: KeyPair) -> Iterator[RunningSimulator]:
    """One HTTP server for the module; each test puts a fresh simulated account behind it (the server reads
    its simulator per request), so no test waits for a server's shutdown poll."""
    running = start(NetSuiteSimulator())
    yield running
    running.stop()


def open_account(loopback: RunningSimulator, keys: KeyPair, **kwargs: Any) -> Account:
    credentials = {"client_id": CLIENT_ID, "certificate_id": CERTIFICATE_ID, "public_key": keys.public_pem}
    sim = NetSuiteSimulator(credentials=credentials, **kwargs)
    loopback.server.simulator = sim
    loopback.simulator = sim
    return Account(sim, loopback, keys)


@pytest.fixture
def account(loopback: RunningSimulator, rsa_keys: KeyPair) -> Iterator[Account]:
    opened = open_account(loopback, rsa_keys, rules=Rules(blocked_suppliers=frozenset({"V-BLOCKED"})))
    yield opened
    opened.close()


def invoice(invoice_id: str = "AP-1001", **fields: Any) -> Invoice:
    payload: dict[str, Any] = {
        "invoice_id": invoice_id,
        "supplier_invoice_number": f"INV-{invoice_id}",
        "vendor_id": "V1",
        "company_code": "1000",
        "invoice_date": "2026-11-03",
        "due_date": "2026-12-03",
        "currency": "EUR",
        "net_amount": "1037.46",
        "tax_amount": "197.11",
        "gross_amount": "1234.57",
        "po_number": "PO-4711",
        "lines": [
            {"line_no": 1, "description": "Freight Hamburg-Basel", "quantity": "1", "unit_price": "837.45"},
            {"line_no": 2, "description": "Fuel surcharge", "quantity": "1", "unit_price": "200.01"},
        ],
        **fields,
    }
    for line in payload["lines"]:
        line.setdefault("net_amount", line["unit_price"])
        line.setdefault("tax_rate", "19")
    return Invoice.model_validate(payload)


def sent_body(document: dict[str, Any]) -> dict[str, Any]:
    """The body the adapter sent for a document, its numbers read as the exact decimals they were written as."""
    return json.loads(document["body"]["json"], parse_float=Decimal)


def only_document(account: Account) -> dict[str, Any]:
    documents = account.records()["documents"]
    assert len(documents) == 1, documents
    return documents[0]


# -- posting ----------------------------------------------------------------------------------------------------
def test_a_bill_posts_once_with_its_internal_id_and_fiscal_year(account: Account) -> None:
    adapter = account.adapter()
    posted = adapter.post(invoice())
    assert posted.erp_system == "netsuite-test"
    assert posted.document_number.isdigit()
    assert posted.fiscal_year == 2026
    document = only_document(account)
    assert document["document_number"] == posted.document_number
    assert document["supplier"] == "V1"
    assert document["invoice_reference"] == "INV-AP-1001"
    assert document["company_code"] == "1000"
    assert document["gross_amount"] == "1234.57"  # summed as Decimal from the JSON numbers sent
    assert document["currency"] == "EUR"
    assert document["external_id"] == "AP-1001"
    assert document["body"]["record"] == "vendorBill"
    assert account.records()["stats"]["created_vendorBill"] == 1


def test_find_posted_is_none_before_and_the_record_after(account: Account) -> None:
    adapter = account.adapter()
    assert adapter.find_posted(invoice()) is None
    posted = adapter.post(invoice())
    assert adapter.find_posted(invoice()) == posted
    # NetSuite's own read: the record by internal id, with its posting period.
    token = account.bearer()
    record = httpx.get(
        f"{account.running.url}{RECORD_PATH}/vendorBill/{posted.document_number}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert record["externalId"] == "AP-1001"
    assert record["tranId"] == "INV-AP-1001"
    assert record["postingPeriod"]["refName"] == "Nov 2026"


def test_a_credit_note_posts_as_a_vendor_credit(account: Account) -> None:
    adapter = account.adapter()
    credit = invoice("AP-CN-7", document_type="credit_note")
    posted = adapter.post(credit)
    document = only_document(account)
    assert document["body"]["record"] == "vendorCredit"
    assert "dueDate" not in sent_body(document)  # a vendor credit is applied, not paid
    assert document["gross_amount"] == "1234.57"
    assert adapter.find_posted(credit) == posted
    # The bill of the same external id is another record type: there is none.
    assert adapter.find_posted(invoice("AP-CN-7")) is None


def test_a_signed_negative_invoice_is_read_as_a_credit_note_and_posts_positive(account: Account) -> None:
    negative = Invoice.model_validate(
        {
            "invoice_id": "AP-NEG",
            "supplier_invoice_number": "GS-1",
            "vendor_id": "V1",
            "company_code": "1000",
            "invoice_date": "2026-11-03",
            "currency": "EUR",
            "net_amount": "-100.00",
            "tax_amount": "-19.00",
            "gross_amount": "-119.00",
        }
    )
    account.adapter().post(negative)
    document = only_document(account)
    assert document["body"]["record"] == "vendorCredit"
    assert document["gross_amount"] == "119.00"


# -- refusals ---------------------------------------------------------------------------------------------------
def test_a_blocked_supplier_is_refused_in_netsuites_words(account: Account) -> None:
    with pytest.raises(ErpRejected) as refused:
        account.adapter().post(invoice(vendor_id="V-BLOCKED"))
    assert refused.value.status == 400
    assert refused.value.code == "INVALID_CONTENT"
    assert "Invalid Field Value V-BLOCKED for the following field: entity" in refused.value.message
    assert account.records()["documents"] == []


def test_a_closed_period_is_refused(loopback: RunningSimulator, rsa_keys: KeyPair) -> None:
    closed = open_account(loopback, rsa_keys, rules=Rules(closed_before=date(2026, 11, 1)))
    try:
        with pytest.raises(ErpRejected) as refused:
            closed.adapter().post(invoice(invoice_date="2026-10-31"))
        assert "The accounting period Oct 2026 is closed" in refused.value.message
        assert refused.value.code == "USER_ERROR"
        assert closed.records()["documents"] == []
        assert closed.adapter().post(invoice("AP-OPEN")).fiscal_year == 2026
    finally:
        closed.close()


def test_an_account_the_chart_has_not_is_refused_with_its_path(account: Account) -> None:
    with pytest.raises(ErpRejected) as refused:
        account.adapter(expense_account="9999").post(invoice())
    assert refused.value.code == "INVALID_CONTENT"
    # One detail per line that names the account, joined: NetSuite reports each path.
    assert refused.value.message.count("Invalid Field Value 9999 for the following field: account") == 2
    assert account.records()["documents"] == []


def test_the_sim_checks_required_fields_and_names_as_netsuite_does(account: Account) -> None:
    headers = {"Authorization": f"Bearer {account.bearer()}", "Content-Type": "application/json"}
    url = f"{account.running.url}{RECORD_PATH}/vendorBill/eid:RAW-1"
    missing = httpx.put(url, headers=headers, content=b'{"tranDate": "2026-11-03", "expense": {"items": []}}')
    assert missing.status_code == 400
    assert missing.json()["o:errorDetails"][0]["detail"].endswith("Please enter value(s) for: Vendor, Subsidiary.")
    no_lines = httpx.put(url, headers=headers, content=b'{"entity": {"id": "V1"}, "subsidiary": {"id": "1"}}')
    assert "at least one line item" in no_lines.json()["o:errorDetails"][0]["detail"]
    misspelt = httpx.put(
        url,
        headers={**headers, "X-NetSuite-PropertyNameValidation": "Error"},
        content=b'{"entity": {"id": "V1"}, "subsidiary": {"id": "1"}, "tranID": "X"}',
    )
    assert misspelt.json()["o:errorDetails"][0]["o:errorPath"] == "tranID"
    amount_as_text = httpx.put(
        url,
        headers=headers,
        content=b'{"entity": {"id": "V1"}, "subsidiary": {"id": "1"}, '
        b'"expense": {"items": [{"account": {"id": "67"}, "amount": "10.00"}]}}',
    )
    assert amount_as_text.json()["o:errorDetails"][0]["o:errorPath"] == "expense.items[0].amount"
    assert account.records()["documents"] == []


# -- auth -------------------------------------------------------------------------------------------------------
def test_wrong_credentials_are_auth_and_no_secret_is_in_the_message(account: Account, other_rsa_keys: KeyPair) -> None:
    adapter = account.adapter(private_pem=other_rsa_keys.private_pem)
    with pytest.raises(ErpUnavailable) as refused:
        adapter.post(invoice())
    assert refused.value.cause is Cause.AUTH
    text = f"{refused.value} {refused.value!r} {refused.value.detail}"
    assert "invalid_client" in text
    for secret in (other_rsa_keys.private_pem, CLIENT_ID, "BEGIN PRIVATE KEY"):
        assert secret not in text
    assert account.records()["stats"]["token_refused"] == 1
    assert account.records()["documents"] == []


def test_the_token_is_fetched_once_and_shared(account: Account) -> None:
    adapter = account.adapter()
    adapter.find_posted(invoice())
    adapter.post(invoice())
    adapter.post(invoice("AP-1002"))
    assert account.records()["stats"]["tokens_issued"] == 1
    # Without it the record service answers NetSuite's 401.
    bare = httpx.get(f"{account.running.url}{RECORD_PATH}/vendorBill/eid:AP-1001")
    assert bare.status_code == 401
    assert bare.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"


def test_a_revoked_token_is_replaced_once_and_the_post_lands(account: Account) -> None:
    adapter = account.adapter()
    adapter.post(invoice())
    account.sim.revoke_tokens()
    adapter.post(invoice("AP-1002"))
    assert account.records()["stats"]["tokens_issued"] == 2
    assert len(account.records()["documents"]) == 2


def test_a_token_refused_again_after_the_refresh_is_auth(loopback: RunningSimulator, rsa_keys: KeyPair) -> None:
    # Tokens that are dead on arrival: the adapter asks for one new token and then gives up.
    dead = open_account(loopback, rsa_keys, token_lifetime_seconds=0)
    try:
        with pytest.raises(ErpUnavailable) as refused:
            dead.adapter().find_posted(invoice())
        assert refused.value.cause is Cause.AUTH
        assert dead.records()["stats"]["tokens_issued"] == 2
    finally:
        dead.close()


def test_an_ec_certificate_signs_with_es256(loopback: RunningSimulator) -> None:
    ec_keys = _pem_pair(ec.generate_private_key(ec.SECP256R1()))
    ec_account = open_account(loopback, ec_keys)
    try:
        assert ec_account.adapter().post(invoice()).fiscal_year == 2026
    finally:
        ec_account.close()


# -- faults -----------------------------------------------------------------------------------------------------
def test_throttling_carries_retry_after(account: Account) -> None:
    account.set_faults(throttle_rate=1.0, retry_after_seconds=7)
    with pytest.raises(ErpUnavailable) as throttled:
        account.adapter().post(invoice())
    assert throttled.value.cause is Cause.THROTTLED
    assert throttled.value.retry_after == 7.0
    assert account.records()["documents"] == []


def test_a_server_error_is_unavailable_without_a_document(account: Account) -> None:
    account.set_faults(server_error_rate=1.0)
    with pytest.raises(ErpUnavailable) as failed:
        account.adapter().post(invoice())
    assert failed.value.cause is Cause.SERVER_ERROR
    assert account.records()["documents"] == []


def test_a_dropped_answer_is_found_by_the_look_up_and_not_posted_twice(account: Account) -> None:
    adapter = account.adapter()
    account.set_faults(drop_after_commit_rate=1.0)
    with pytest.raises(ErpUnavailable) as dropped:
        adapter.post(invoice())
    assert dropped.value.cause is Cause.CONNECTION
    assert dropped.value.maybe_committed
    account.set_faults(drop_after_commit_rate=0.0)
    found = adapter.find_posted(invoice())
    assert found is not None
    assert found.document_number == only_document(account)["document_number"]
    assert adapter.post(invoice()) == found  # the retry finds it and writes nothing
    stats = account.records()["stats"]
    assert stats["created"] == 1
    assert stats.get("updated", 0) == 0


def test_a_slow_answer_is_a_timeout_that_may_have_committed(account: Account) -> None:
    adapter = account.adapter(timeout=0.4)
    account.set_faults(slow_rate=1.0, slow_seconds=1.0)
    with pytest.raises(ErpUnavailable) as slow:
        adapter.post(invoice())
    assert slow.value.cause is Cause.TIMEOUT
    assert slow.value.maybe_committed
    account.set_faults(slow_rate=0.0)
    assert adapter.find_posted(invoice()) is not None
    assert len(account.records()["documents"]) == 1


def test_the_concurrency_limit_is_answered_429_in_netsuites_words(account: Account) -> None:
    holder, asker = account.adapter(), account.adapter()
    holder.find_posted(invoice())  # both hold a token before the limit bites
    asker.find_posted(invoice())
    account.set_faults(concurrency_limit=1, slow_rate=1.0, slow_seconds=0.8, retry_after_seconds=2)
    writer = threading.Thread(target=holder.post, args=(invoice("AP-HELD"),))
    writer.start()
    deadline = time.monotonic() + 5
    while account.sim.stats["slow"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the held write is committed and being answered slowly
    with pytest.raises(ErpUnavailable) as blocked:
        asker.find_posted(invoice("AP-OTHER"))
    raw = httpx.get(f"{account.running.url}{RECORD_PATH}/vendorBill/eid:X", headers={"Authorization": "Bearer x"})
    writer.join()
    assert blocked.value.cause is Cause.THROTTLED
    assert blocked.value.retry_after == 2.0
    assert raw.status_code == 429
    assert raw.json()["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    assert account.records()["stats"]["over_concurrency_limit"] >= 2


def test_eight_threads_post_eight_invoices_once_each(account: Account) -> None:
    adapter = account.adapter()
    invoices = [invoice(f"AP-{number}") for number in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        posted = list(pool.map(adapter.post, invoices))
    documents = account.records()["documents"]
    assert sorted(d["external_id"] for d in documents) == sorted(i.invoice_id for i in invoices)
    assert len({p.document_number for p in posted}) == 8
    assert account.records()["stats"]["tokens_issued"] == 1  # one fetch under the lock, shared by all


def test_eight_threads_posting_one_invoice_leave_one_record(account: Account) -> None:
    adapter = account.adapter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        posted = list(pool.map(adapter.post, [invoice()] * 8))
    assert len({p.document_number for p in posted}) == 1
    assert len(account.records()["documents"]) == 1  # the external id makes a racing second PUT an update


def test_the_upsert_updates_the_record_of_a_known_external_id(account: Account) -> None:
    headers = {"Authorization": f"Bearer {account.bearer()}", "Content-Type": "application/json"}
    url = f"{account.running.url}{RECORD_PATH}/vendorBill/eid:UPS-1"
    body: dict[str, Any] = {
        "entity": {"id": "V1"},
        "subsidiary": {"id": "1000"},
        "tranId": "S-1",
        "tranDate": "2026-11-03",
        "currency": {"id": "4"},
        "expense": {"items": [{"account": {"id": "67"}, "amount": 50}]},
    }
    first = httpx.put(url, headers=headers, content=json.dumps(body))
    body["expense"]["items"][0]["amount"] = 60
    second = httpx.put(url, headers=headers, content=json.dumps(body))
    assert first.status_code == second.status_code == 204
    assert first.headers["Location"] == second.headers["Location"]
    document = only_document(account)
    assert document["gross_amount"] == "60"
    assert account.records()["stats"]["updated"] == 1


# -- the request shape ------------------------------------------------------------------------------------------
def test_request_bodies_match_the_record_schemas(account: Account) -> None:
    spec = json.loads(FIXTURE.read_text())
    euro: dict[str, Any] = {"currency.EUR": "4"}  # an option whose name is no Python identifier
    adapter = account.adapter(**euro)
    adapter.post(invoice())
    adapter.post(invoice("AP-CN-1", document_type="credit_note"))
    adapter.post(invoice("AP-BARE", lines=[], net_amount="100.00", tax_amount="0.00", gross_amount="100.00"))
    documents = account.records()["documents"]
    assert len(documents) == 3
    reference_fields = set(spec["nsResource"])
    for document in documents:
        record, body = document["body"]["record"], sent_body(document)
        fields = set(spec[record])
        line_fields = set(spec[f"{record}-expenseElement"])
        assert set(body) <= fields, set(body) - fields
        assert set(spec["required"][record]) <= set(body)
        for name in ("entity", "subsidiary", "currency"):
            assert set(body[name]) <= reference_fields
        assert set(body["expense"]) <= set(spec["vendorBill-expenseCollection"])
        for line in body["expense"]["items"]:
            assert set(line) <= line_fields, set(line) - line_fields
            assert set(spec["required"]["expenseElement"]) <= set(line)
            assert set(line["account"]) <= reference_fields
            assert isinstance(line["amount"], Decimal)  # a JSON number (the OAS types it number), written exactly
        if record == "vendorBill":
            kinds = spec["vendorBill"]
            assert kinds["tranDate"] == kinds["dueDate"] == "string(date)"
            assert kinds["tranId"] == "string"
    bare = next(d for d in documents if d["external_id"] == "AP-BARE")
    assert [line["amount"] for line in sent_body(bare)["expense"]["items"]] == [Decimal("100.00")]  # no tax line
    bill = next(d for d in documents if d["external_id"] == "AP-1001")
    amounts = [line["amount"] for line in sent_body(bill)["expense"]["items"]]
    assert [str(amount) for amount in amounts] == ["837.45", "200.01", "197.11"]
