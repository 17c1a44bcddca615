"""The Infor adapter against the ION simulator over real HTTP on loopback: posting through the ION Messaging
Service, reading the Acknowledge from the Data Lake, OAuth with a `.ionapi` service account, the faults, the
look-up that keeps a retry from posting twice, and the BOD's shape against the OAGIS 10.4 excerpt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from erp_months import drain_lane
from lxml import etree
from reconstream.models.invoices import Invoice
from reconstream.models.outputs import PostingRequest
from reconstream.shells.erp import infor as infor_module
from reconstream.shells.erp.adapter import ErpTarget
from reconstream.shells.erp.errors import Cause, ErpRejected, ErpUnavailable
from reconstream.shells.erp.infor import (
    LAKE_MAX_PAGES,
    LAKE_PAGE_RECORDS,
    Acknowledgement,
    InforAdapter,
    bod_id_for,
    parse_acknowledgement,
    process_bod,
)
from reconstream.shells.erp.queue import PostingQueue
from reconstream.shells.erp.service import Lane, LanePolicy
from reconstream.shells.erp.sim_infor import NS, InforSimulator, acknowledge
from reconstream.shells.erp.simulator import Faults, Rules, start
from reconstream.shells.sinks.posting import new_posting

FIXTURES = Path(__file__).parent / "fixtures" / "erp" / "infor"
TENANT = "ACME_TST"
SECRETS = {"cs": "client-secret-7f3a", "sask": "service-account-secret-91bc"}
SIM_CREDENTIALS = {"ti": TENANT, "ci": "ACME_TST~reconstream", "saak": "ACME_TST#svc-ap", **SECRETS}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def make_invoice(invoice_id: str = "AP-1", number: str = "INV-1", **overrides: Any) -> Invoice:
    payload: dict[str, Any] = {
        "invoice_id": invoice_id,
        "supplier_invoice_number": number,
        "vendor_id": "V100",
        "company_code": "1000",
        "invoice_date": "2026-11-03",
        "due_date": "2026-12-03",
        "currency": "EUR",
        "net_amount": "100.00",
        "tax_amount": "19.00",
        "gross_amount": "119.00",
        "po_number": "PO-77",
        "lines": [
            {
                "line_no": 1,
                "description": "Pallets",
                "quantity": "4",
                "unit_price": "15.00",
                "net_amount": "60.00",
                "tax_rate": "19",
                "po_line_no": 1,
            },
            {
                "line_no": 2,
                "description": "Freight",
                "quantity": "1",
                "unit_price": "40.00",
                "net_amount": "40.00",
                "tax_rate": "19",
                "po_line_no": 2,
            },
        ],
    }
    payload.update(overrides)
    return Invoice.model_validate(payload)


@contextmanager
def ion(**sim_options: Any) -> Iterator[tuple[InforSimulator, str]]:
    faults = sim_options.pop("faults", None)
    rules = sim_options.pop("rules", None)
    simulator = InforSimulator(faults, rules, SIM_CREDENTIALS, **sim_options)
    running = start(simulator)
    try:
        yield simulator, running.url
    finally:
        running.stop()


def adapter(url: str, timeout: float = 3.0, **credential_overrides: str) -> InforAdapter:
    ionapi = {
        "ti": TENANT,
        "ci": SIM_CREDENTIALS["ci"],
        "cs": SECRETS["cs"],
        "iu": url,
        "pu": f"{url}/{TENANT}/as/",
        "ot": "token.oauth2",
        "saak": SIM_CREDENTIALS["saak"],
        "sask": SECRETS["sask"],
        **credential_overrides,
    }
    target = ErpTarget("infor-ln", "infor", url, ionapi, timeout_seconds=timeout, options={"poll_seconds": "0.02"})
    return InforAdapter(target)


def test_post_books_one_document_and_find_posted_sees_it() -> None:
    with ion() as (sim, url):
        client = adapter(url)
        invoice = make_invoice()
        assert client.find_posted(invoice) is None
        document = client.post(invoice)
        assert (document.erp_system, document.document_number, document.fiscal_year) == (
            "infor-ln",
            "PIN26000001",
            2026,
        )
        [booked] = sim.documents
        assert (booked.supplier, booked.invoice_reference, booked.company_code) == ("V100", "INV-1", "1000")
        assert (booked.gross_amount, booked.currency) == ("119.00", "EUR")
        assert client.find_posted(invoice) == document
        assert sim.stats["tokens_issued"] == 1  # one token serves every call


def test_credit_note_posts_as_credit_type() -> None:
    with ion() as (sim, url):
        credit = make_invoice("AP-CN", "CN-9", document_type="credit_note", po_number=None, lines=[])
        document = adapter(url).post(credit)
        [booked] = sim.documents
        assert booked.gross_amount == "-119.00"
        assert etree.fromstring(booked.body.encode(), PARSER).find(f".//{{{NS}}}SupplierInvoice").get("typeCode") == (
            "CreditNote"
        )
        assert document.document_number == booked.document_number


@pytest.mark.parametrize(
    ("rules", "overrides", "words"),
    [
        (Rules(blocked_suppliers=frozenset({"V100"})), {}, "Invoice-from business partner V100 is blocked"),
        (Rules(closed_before=date(2026, 11, 5)), {}, "Period for date 2026-11-03 is closed for company 1000"),
        (Rules(), {"due_date": "2026-10-01"}, "Due date 2026-10-01 is before document date 2026-11-03"),
    ],
)
def test_refusals_come_back_in_the_acknowledge(rules: Rules, overrides: dict[str, Any], words: str) -> None:
    with ion(rules=rules) as (sim, url):
        with pytest.raises(ErpRejected) as caught:
            adapter(url).post(make_invoice(**overrides))
        assert words in caught.value.message
        assert caught.value.code == "Rejected"
        assert sim.documents == []


def test_lines_not_adding_up_are_refused_by_the_erp() -> None:
    with ion() as (sim, url):
        client = adapter(url)
        invoice = make_invoice()
        body = process_bod(invoice, sender=client.logical_id, tenant=TENANT, bod_id=bod_id_for(invoice), created="c1")
        tampered = body.replace(b">60.00<", b">61.00<")  # the first line's ExtendedAmount
        client._send_bod(tampered, message_id="m-1")
        ack = client._await_acknowledgement(
            bod_id_for(invoice), "c1", since=datetime(2000, 1, 1, tzinfo=UTC), deadline=time.monotonic() + 2
        )
        assert not ack.accepted
        assert ack.message == "Total of invoice lines 101.00 EUR differs from net amount 100.00 EUR"
        assert sim.documents == []


def test_second_invoice_with_same_supplier_and_number_is_refused_as_duplicate() -> None:
    with ion() as (sim, url):
        client = adapter(url)
        client.post(make_invoice("AP-1", "INV-1"))
        with pytest.raises(
            ErpRejected, match="Supplier invoice INV-1 already exists for invoice-from business partner"
        ):
            client.post(make_invoice("AP-2", "INV-1"))
        assert len(sim.documents) == 1


def test_wrong_credentials_are_auth_failures_without_the_secret() -> None:
    with ion() as (sim, url):
        wrongs: tuple[dict[str, Any], ...] = ({"sask": "not-the-secret-0000"}, {"cs": "not-the-client-secret-1111"})
        for wrong in wrongs:  # credential overrides only, by name
            with pytest.raises(ErpUnavailable) as caught:
                adapter(url, **wrong).post(make_invoice())
            assert caught.value.cause is Cause.AUTH
            text = f"{caught.value} {caught.value.detail}"
            for secret in (*SECRETS.values(), *wrong.values()):
                assert secret not in text
        assert sim.documents == [] and sim.messages == []


def test_an_expired_token_is_renewed_once() -> None:
    with ion() as (sim, url):
        client = adapter(url)
        client.post(make_invoice("AP-1", "INV-1"))
        sim.expire_tokens()  # the gateway now refuses the token the adapter holds
        client.post(make_invoice("AP-2", "INV-2"))
        assert sim.stats["tokens_issued"] == 2
        assert sim.stats["unauthorised"] == 1
        assert len(sim.documents) == 2


def test_throttled_with_retry_after() -> None:
    with ion(faults=Faults(throttle_rate=1.0, retry_after_seconds=7)) as (sim, url):
        with pytest.raises(ErpUnavailable) as caught:
            adapter(url).post(make_invoice())
        assert caught.value.cause is Cause.THROTTLED
        assert caught.value.retry_after == 7.0
        assert sim.documents == []


def test_server_error() -> None:
    with ion(faults=Faults(server_error_rate=1.0)) as (sim, url):
        with pytest.raises(ErpUnavailable) as caught:
            adapter(url).post(make_invoice())
        assert caught.value.cause is Cause.SERVER_ERROR
        assert not caught.value.maybe_committed
        assert sim.documents == []


def test_dropped_answer_then_look_up_finds_the_one_document() -> None:
    with ion(faults=Faults(drop_after_commit_rate=1.0)) as (sim, url):
        client = adapter(url)
        invoice = make_invoice()
        with pytest.raises(ErpUnavailable) as caught:
            client.post(invoice)
        assert caught.value.cause is Cause.CONNECTION and caught.value.maybe_committed
        sim.faults.drop_after_commit_rate = 0.0
        found = client.find_posted(invoice)
        assert found is not None and found.document_number == sim.documents[0].document_number
        assert (client.find_posted(invoice) or client.post(invoice)) == found  # the retry, via the look-up
        assert len(sim.documents) == 1
        with pytest.raises(ErpRejected, match="already exists"):  # a retry without the look-up is refused
            client.post(invoice)
        assert len(sim.documents) == 1
        assert client.find_posted(invoice) == found  # the Rejected duplicate does not hide the Accepted one


def test_a_refusal_whose_answer_was_lost_is_found_by_the_look_up() -> None:
    """ION took the BOD and the answer was lost; the ERP refused it and published a Rejected Acknowledge. The
    look-up before a retry (or before giving up) reads that refusal as the verdict, with the ERP's message,
    instead of "not booked" (post again) or "no verdict" (an erp_timeout)."""
    with ion(faults=Faults(drop_after_commit_rate=1.0), rules=Rules(blocked_suppliers=frozenset({"V100"}))) as (
        sim,
        url,
    ):
        client = adapter(url)
        invoice = make_invoice()
        sent = datetime.now(UTC)
        with pytest.raises(ErpUnavailable) as caught:
            client.post(invoice)
        assert caught.value.maybe_committed
        with pytest.raises(ErpRejected) as refused:
            client.find_posted(invoice, sent)
        assert "Invoice-from business partner V100 is blocked" in refused.value.message
        assert refused.value.code == "Rejected"
        # A refusal older than the posting answers an earlier one (the BOD id is the invoice's), and without
        # the posting's first send nothing tells whose it is: neither is this posting's verdict.
        assert client.find_posted(invoice, datetime.now(UTC) + timedelta(seconds=1)) is None
        assert client.find_posted(invoice) is None
        assert sim.documents == []


@pytest.mark.parametrize("max_attempts", [1, 2])  # the last look before giving up; the look-up before a retry
def test_the_service_decides_a_refusal_found_by_a_look_up_as_refused(tmp_path: Path, max_attempts: int) -> None:
    """Every attempt's answer lost, the ERP refusing each: the posting is refused with the ERP's message, not
    timed out."""
    with ion(faults=Faults(drop_after_commit_rate=1.0), rules=Rules(blocked_suppliers=frozenset({"V100"}))) as (
        sim,
        url,
    ):
        request = PostingRequest(
            posting_id="ap-1",
            invoice_id="AP-1",
            company_code="1000",
            approved_at=datetime(2026, 11, 4, 9, 0, tzinfo=UTC),
            due_date=date(2026, 12, 3),
            invoice=make_invoice(),
        )
        queue = PostingQueue(tmp_path / "queue.sqlite")
        queue.enqueue([new_posting(request, request.model_dump_json().encode(), {"1000": "infor"})], time.time())
        client = adapter(url)
        policy = LanePolicy(
            max_attempts=max_attempts, max_backoff_seconds=0.05, breaker_threshold=1000, rate_per_second=500
        )
        verdicts = [json.loads(verdict.event) for verdict in drain_lane(queue, Lane("infor", client, policy), 60)]
        queue.close()
    assert len(verdicts) == 1
    assert verdicts[0]["payload"]["status"] == "posting_failed", verdicts[0]
    assert "V100 is blocked" in json.dumps(verdicts[0])
    assert sim.documents == []


def fill_the_lake(sim: InforSimulator, created: str, count: int) -> None:
    """`count` Accepted Acknowledges of another supplier's invoice, published as the ERP publishes them (one
    payload for all: each is still its own data object, listed and read on its own)."""
    other = make_invoice("AP-OTHER", "INV-OTHER", vendor_id="V200")
    other_bod = process_bod(other, sender="lid://other", tenant=TENANT, bod_id=bod_id_for(other), created=created)
    filler = acknowledge(
        etree.fromstring(other_bod, PARSER),
        accepted=True,
        document_number="PIN26999999",
        document_date=other.invoice_date,
    )
    for _ in range(count):
        sim._publish(filler)


def test_more_acknowledges_than_one_list_reaches_is_no_answer_while_a_recent_one_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Data Lake holds more Acknowledges since the invoice date than one query lists (LAKE_MAX_PAGES pages of
    LAKE_PAGE_RECORDS): an invoice whose Acknowledge is past those pages is not "not posted", which would make the
    service post it again, but ErpUnavailable; one whose accepted Acknowledge is recent is found, newest first."""
    with ion() as (sim, url):
        client = adapter(url, timeout=10.0)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        early = make_invoice("AP-EARLY", "INV-EARLY")
        booked = client.post(early)  # its Accepted Acknowledge is the lake's oldest
        # Then more Acknowledges than one list reaches, of another supplier's invoice.
        fill_the_lake(sim, now, LAKE_MAX_PAGES * LAKE_PAGE_RECORDS)

        read: list[str] = []

        def read_from_the_lake(dl_id: str) -> Acknowledgement | None:
            read.append(dl_id)
            return parse_acknowledgement(sim._lake_by_id[dl_id].payload)

        with monkeypatch.context() as patched:
            # Each Acknowledge listed is read once, a streambyid call of ~1 ms: 10,000 of them are read straight
            # from the simulator's lake instead. The lists, their pages and the decision are the adapter's, over HTTP.
            patched.setattr(client, "_read_acknowledgement", read_from_the_lake)
            with pytest.raises(ErpUnavailable) as caught:  # never None: the early invoice is booked
                client.find_posted(early)
        assert caught.value.cause is Cause.SERVER_ERROR and "cannot decide" in str(caught.value)
        assert len(set(read)) == LAKE_MAX_PAGES * LAKE_PAGE_RECORDS  # every page listed was read before deciding
        assert len(sim.documents) == 1

        # A recent invoice, booked and acknowledged by the ERP now (the adapter's own post would wait on a list
        # of the last seconds, which the filler fills past one query too): its Acknowledge is on the first page.
        recent = make_invoice("AP-RECENT", "INV-RECENT")
        recent_bod = process_bod(
            recent, sender=client.logical_id, tenant=TENANT, bod_id=bod_id_for(recent), created=now
        )
        sim._erp_processes(etree.fromstring(recent_bod, PARSER))
        found = client.find_posted(recent)
        assert found is not None and found.document_number == sim.documents[-1].document_number
        assert found.document_number != booked.document_number and len(sim.documents) == 2


def test_slow_answer_times_out_maybe_committed() -> None:
    with ion(faults=Faults(slow_rate=1.0, slow_seconds=1.2)) as (sim, url):
        client = adapter(url, timeout=0.4)
        invoice = make_invoice()
        with pytest.raises(ErpUnavailable) as caught:
            client.post(invoice)
        assert caught.value.cause is Cause.TIMEOUT and caught.value.maybe_committed
        sim.faults.slow_rate = 0.0
        found = client.find_posted(invoice)
        assert found is not None and len(sim.documents) == 1


def test_acknowledge_indexed_late_is_waited_for_or_times_out() -> None:
    with ion(index_lag_seconds=0.3) as (sim, url):
        assert adapter(url, timeout=3.0).post(make_invoice("AP-1", "INV-1")).document_number == "PIN26000001"
    with ion(index_lag_seconds=5.0) as (sim, url):
        with pytest.raises(ErpUnavailable) as caught:
            adapter(url, timeout=0.5).post(make_invoice("AP-1", "INV-1"))
        assert caught.value.cause is Cause.TIMEOUT and caught.value.maybe_committed
        assert len(sim.documents) == 1  # booked; only its Acknowledge was not indexed yet


def test_concurrency_limit_is_answered_429() -> None:
    with ion(faults=Faults(concurrency_limit=1, slow_rate=1.0, slow_seconds=0.5)) as (sim, url):
        client = adapter(url)
        client._bearer()  # the token first, so both threads race on the posting itself
        outcomes: list[Any] = []

        def post(invoice: Invoice) -> None:
            try:
                outcomes.append(client.post(invoice))
            except ErpUnavailable as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=post, args=(make_invoice(f"AP-{n}", f"INV-{n}"),)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refused = [o for o in outcomes if isinstance(o, ErpUnavailable)]
        assert len(refused) == 1 and refused[0].cause is Cause.THROTTLED
        assert sim.stats["over_concurrency_limit"] >= 1
        assert len(sim.documents) == 1


def test_eight_threads_post_each_invoice_once() -> None:
    with ion() as (sim, url):
        client = adapter(url, timeout=5.0)
        invoices = [make_invoice(f"AP-{n}", f"INV-{n}") for n in range(8)]
        results: dict[str, str] = {}

        def post(invoice: Invoice) -> None:
            results[invoice.invoice_id] = client.post(invoice).document_number

        threads = [threading.Thread(target=post, args=(invoice,)) for invoice in invoices]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 8 and len(set(results.values())) == 8
        assert sorted(d.invoice_reference for d in sim.documents) == sorted(i.supplier_invoice_number for i in invoices)
        assert sim.stats["tokens_issued"] == 1


# -- the shape of what is sent, against the OAGIS 10.4 excerpt ---------------------------------------------
# Infor's BODs (namespace InforOAGIS/2) keep OAGIS 9 spellings that OAGIS 10 renamed or flattened; this map is
# the derivation recorded in SOURCE.md.
RENAMED = {
    "ProcessSupplierInvoice": "ProcessInvoice",
    "AcknowledgeSupplierInvoice": "AcknowledgeInvoice",
    "SupplierInvoice": "Invoice",
    "SupplierInvoiceHeader": "InvoiceHeader",
    "SupplierInvoiceLine": "InvoiceLine",
    "AlternateDocumentID": "DocumentIDSet",
    "RateNumeric": "RateNumber",
}
FLATTENED = {"DocumentID", "PartyIDs"}  # OAGIS 9 X/DocumentID/ID and X/PartyIDs/ID are OAGIS 10 X/ID
IN_CONTEXT = {("UnitPrice", "Amount"): "UnitAmount"}
ATTRIBUTES = {"currencyID": "currencyCode"}
INFOR_ADDITIONS = {  # Infor's own elements and attributes, outside OAGIS (SOURCE.md)
    ("Process", "TenantID"),
    ("Process", "AccountingEntityID"),
    ("InvoiceHeader", "AccountingPeriod"),
    ("DataArea", "BODFailureMessage"),
}
INFOR_ATTRIBUTES = {"accountingEntity"}
IMS_PARAMETERS = {"documentName", "fromLogicalId", "toLogicalId", "messageId", "encoding", "characterSet"}


def oagis() -> dict[str, Any]:
    return json.loads((FIXTURES / "oagis_10_4_invoice_excerpt.json").read_text())


def check(element: etree._Element, node: dict[str, Any], parent: str, problems: list[str], path: str) -> None:
    for name in element.attrib:
        mapped = ATTRIBUTES.get(name, name)
        if mapped not in node.get("attributes", []) and name not in INFOR_ATTRIBUTES:
            problems.append(f"{path}/@{name}")
    present = set()
    for child in element:
        local = etree.QName(child).localname
        if local in FLATTENED:
            inner = child.find(f"{{{NS}}}ID")
            if inner is None or len(child) != 1:
                problems.append(f"{path}/{local} is not a plain ID wrapper")
                continue
            child, local = inner, "ID"
        mapped = IN_CONTEXT.get((parent, local), RENAMED.get(local, local))
        present.add(mapped)
        if (parent, mapped) in INFOR_ADDITIONS:
            continue
        if mapped not in node.get("children", {}):
            problems.append(f"{path}/{local}")
            continue
        check(child, node["children"][mapped], mapped, problems, f"{path}/{local}")
    for name, entry in node.get("children", {}).items():
        if entry.get("required") and name not in present and (element.text or "").strip() == "":
            problems.append(f"{path}: required {name} missing")


def test_bods_match_the_oagis_invoice_and_acknowledge_structure() -> None:
    excerpt = oagis()
    with ion() as (sim, url):
        client = adapter(url)
        client.post(make_invoice())
        with pytest.raises(ErpRejected):
            client.post(make_invoice("AP-2"))  # a Rejected Acknowledge, with its failure message
        [sent] = sim.documents
        assert all(set(m) == IMS_PARAMETERS for m in sim.messages)
        acks = [o.payload for o in sim.data_lake]
    problems: list[str] = []
    process = etree.fromstring(sent.body.encode(), PARSER)
    check(process, excerpt["ProcessInvoice"], "ProcessInvoice", problems, "ProcessSupplierInvoice")
    for payload in acks:
        ack = etree.fromstring(payload, PARSER)
        check(ack, excerpt["AcknowledgeInvoice"], "AcknowledgeInvoice", problems, "AcknowledgeSupplierInvoice")
        failure = ack.find(f"{{{NS}}}DataArea/{{{NS}}}BODFailureMessage")
        if failure is not None:
            check(failure, excerpt["BODFailureMessage"], "BODFailureMessage", problems, "BODFailureMessage")
    assert problems == []
    # what the adapter must fill in, beyond what OAGIS makes required
    header = process.find(f"{{{NS}}}DataArea/{{{NS}}}SupplierInvoice/{{{NS}}}SupplierInvoiceHeader")
    for path in ("DocumentID/ID", "DocumentDateTime", "TotalAmount", "SupplierParty/PartyIDs/ID", "Tax/Amount"):
        assert header.find("/".join(f"{{{NS}}}{part}" for part in path.split("/"))) is not None, path
    assert header.find(f"{{{NS}}}TotalAmount").text == "119.00"  # the Decimal as is, never through float
    assert Decimal(header.find(f"{{{NS}}}ExtendedAmount").text) == Decimal("100.00")


def test_a_look_up_reads_back_only_to_the_postings_first_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """At month-end the lake holds more Acknowledges since an invoice's date than one list reaches; the service
    passes when the posting was first sent, and the look-up reads no further back, so an invoice never booked is
    "not posted" (posted now) rather than no answer (an attempt spent, at last a false erp_timeout)."""
    monkeypatch.setattr(infor_module, "CLOCK_MARGIN", timedelta(0))  # the test's clock is the simulator's
    with ion() as (sim, url):
        client = adapter(url, timeout=10.0)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        fill_the_lake(sim, now, LAKE_MAX_PAGES * LAKE_PAGE_RECORDS + 1)
        time.sleep(0.01)
        first_sent = datetime.now(UTC)

        never_sent = make_invoice("AP-NEVER", "INV-NEVER")
        # Each Acknowledge listed is read straight from the simulator's lake, as in the test above.
        monkeypatch.setattr(
            client, "_read_acknowledgement", lambda dl_id: parse_acknowledgement(sim._lake_by_id[dl_id].payload)
        )
        with pytest.raises(ErpUnavailable):
            client.find_posted(never_sent)  # from the invoice date: past what one list reaches
        assert client.find_posted(never_sent, first_sent) is None
        # Then booked by the ERP as its Process BOD arrives (the adapter's own post waits on a list of the last
        # seconds, which the filler fills past one query too).
        bod = process_bod(
            never_sent, sender=client.logical_id, tenant=TENANT, bod_id=bod_id_for(never_sent), created=now
        )
        sim._erp_processes(etree.fromstring(bod, PARSER))
        found = client.find_posted(never_sent, first_sent)
        assert found is not None and found.document_number == sim.documents[-1].document_number
        assert len(sim.documents) == 1


def test_an_answer_unread_after_ion_took_the_bod_leaves_the_posting_uncertain() -> None:
    """ION accepted the Process BOD, then the Data Lake read failed (a connection reset under month-end load):
    the ERP books the invoice regardless, so the failure must say "maybe committed", and the retry's look-up
    finds the document instead of posting again into the ERP's duplicate refusal."""
    with ion() as (sim, url):
        client = adapter(url)
        refused_reads: list[str] = []

        def reset_the_first_lake_read(request: httpx.Request) -> None:
            if "datalakeapi" in request.url.path and not refused_reads:
                refused_reads.append(request.url.path)
                raise httpx.ReadError("connection reset by peer", request=request)

        client.client.event_hooks["request"].append(reset_the_first_lake_read)
        invoice = make_invoice("AP-RESET", "INV-RESET")
        with pytest.raises(ErpUnavailable) as caught:
            client.post(invoice)
        assert caught.value.cause is Cause.CONNECTION and caught.value.maybe_committed
        assert refused_reads
        found = client.find_posted(invoice)  # what the service asks before the retry of an uncertain posting
        assert found is not None and found.document_number == sim.documents[0].document_number
        assert len(sim.documents) == 1
