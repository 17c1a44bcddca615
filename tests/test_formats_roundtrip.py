"""Round trip: PaymentBatch -> pain.001 (XSD-valid) -> the bank's pain.002 and camt.054 -> ingest -> engine.

The bank side is written here from the pain.001 content, the way a bank builds its reports: it echoes
MsgId, PmtInfId and EndToEndId, rejects two payments with reason codes and books the rest as one
batched debit. Every accepted payment must match by EndToEndId; the rejections must surface as
payment_rejected exceptions with their reason codes; nothing else may be raised.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from factories import HOUSE_IBAN, event, record_of
from lxml import etree
from reconstream.models.events import Event, validate
from reconstream.models.exceptions import ReconException
from reconstream.models.invoices import Invoice
from reconstream.models.outputs import Match, StatusUpdate
from reconstream.models.payments import PaymentBatch
from reconstream.shells.formats import build_pain001, ingest_paths, validate_pain001
from reconstream.streams import Engine, Output
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState
from schwifty import IBAN

VENDORS = [
    ("V1", "Nordwind Logistik GmbH", str(IBAN.generate("DE", bank_code="37040044", account_code="532013000"))),
    ("V2", "Kranich Buerobedarf AG", str(IBAN.generate("DE", bank_code="37040044", account_code="532013001"))),
    ("V3", "Tulpenveld Verpakking BV", str(IBAN.generate("NL", bank_code="ABNA", account_code="0417164300"))),
    ("V4", "Atelier Mistral SARL", str(IBAN.generate("FR", bank_code="3000600001", account_code="12345678901"))),
    ("V5", "Alpenglanz Reinigung GmbH", str(IBAN.generate("AT", bank_code="19043", account_code="00234573201"))),
]
NET = ["1000.00", "250.00", "80.00", "4200.00", "15.50"]
REJECTED = {"E2E-RT-0003": "AC04", "E2E-RT-0005": "AM04"}
PAIN001 = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}"


def master_and_invoices() -> list[Event]:
    events: list[Event] = []
    for number, ((vendor_id, name, iban), net) in enumerate(zip(VENDORS, NET, strict=True), 1):
        tax = (Decimal(net) * Decimal("0.19")).quantize(Decimal("0.01"))
        events.append(
            event(
                "vendor.upserted",
                "2026-11-01T00:00:00Z",
                {"vendor_id": vendor_id, "name": name, "bank_accounts": [{"iban": iban}]},
            )
        )
        invoice_id = f"RT-I{number}"
        payload = {
            "invoice_id": invoice_id,
            "supplier_invoice_number": f"SUP-{number:04d}",
            "vendor_id": vendor_id,
            "company_code": "1000",
            "invoice_date": "2026-11-02",
            "currency": "EUR",
            "net_amount": net,
            "tax_amount": str(tax),
            "gross_amount": str(Decimal(net) + tax),
        }
        events.append(event("invoice.captured", "2026-11-02T08:00:00Z", payload, correlation_id=f"corr-{invoice_id}"))
        events.append(
            event("invoice.status_changed", "2026-11-02T09:00:00Z", {"invoice_id": invoice_id, "status": "approved"})
        )
        posted = {
            "invoice_id": invoice_id,
            "status": "posted",
            "erp_system": "sap-s4hana",
            "erp_document_number": f"51000000{number:02d}",
            "fiscal_year": 2026,
        }
        events.append(event("invoice.status_changed", "2026-11-02T10:00:00Z", posted))
    return events


def released_batch(invoices: list[Event]) -> Event:
    captured = [record_of(Invoice, inv.payload) for inv in invoices]
    instructions = [
        {
            "end_to_end_id": f"E2E-RT-{number:04d}",
            "invoice_ids": [inv.invoice_id],
            "vendor_id": inv.vendor_id,
            "amount": str(inv.gross_amount),
            "currency": "EUR",
            "creditor_iban": VENDORS[number - 1][2],
            "creditor_name": VENDORS[number - 1][1],
            "remittance_info": inv.supplier_invoice_number,
        }
        for number, inv in enumerate(captured, 1)
    ]
    payload = {
        "batch_id": "PAY-RT-2026-11-04",
        "company_code": "1000",
        "debtor_iban": HOUSE_IBAN,
        "requested_execution_date": "2026-11-04",
        "instructions": instructions,
    }
    return event("payment_batch.released", "2026-11-04T06:00:00Z", payload, batch_correlation_id="PAY-RT-2026-11-04")


def bank_reads(pain001: bytes) -> tuple[str, str, list[dict[str, str]]]:
    root = etree.fromstring(pain001)
    msg_id = root.findtext(f"{PAIN001}CstmrCdtTrfInitn/{PAIN001}GrpHdr/{PAIN001}MsgId")
    info = root.find(f"{PAIN001}CstmrCdtTrfInitn/{PAIN001}PmtInf")
    payments = [
        {
            "e2e": tx.findtext(f"{PAIN001}PmtId/{PAIN001}EndToEndId"),
            "amount": tx.findtext(f"{PAIN001}Amt/{PAIN001}InstdAmt"),
            "iban": tx.findtext(f"{PAIN001}CdtrAcct/{PAIN001}Id/{PAIN001}IBAN"),
            "name": tx.findtext(f"{PAIN001}Cdtr/{PAIN001}Nm"),
        }
        for tx in info.findall(f"{PAIN001}CdtTrfTxInf")
    ]
    return msg_id, info.findtext(f"{PAIN001}PmtInfId"), payments


def bank_status_report(msg_id: str, pmt_inf_id: str, payments: list[dict[str, str]]) -> str:
    txs = []
    for payment in payments:
        code = REJECTED.get(payment["e2e"])
        reason = f"<StsRsnInf><Rsn><Cd>{code}</Cd></Rsn><AddtlInf>planted</AddtlInf></StsRsnInf>" if code else ""
        txs.append(
            f"<TxInfAndSts><OrgnlEndToEndId>{payment['e2e']}</OrgnlEndToEndId>"
            f"<TxSts>{'RJCT' if code else 'ACCP'}</TxSts>{reason}</TxInfAndSts>"
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>PSR-{msg_id}</MsgId><CreDtTm>2026-11-04T06:30:00Z</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>{msg_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
<GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>{pmt_inf_id}</OrgnlPmtInfId><PmtInfSts>PART</PmtInfSts>{"".join(txs)}
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"""


def bank_debit_notification(msg_id: str, payments: list[dict[str, str]]) -> str:
    booked = [p for p in payments if p["e2e"] not in REJECTED]
    total = sum((Decimal(p["amount"]) for p in booked), Decimal(0))
    details = "".join(
        f"<TxDtls><Refs><MsgId>{msg_id}</MsgId><EndToEndId>{p['e2e']}</EndToEndId></Refs>"
        f'<Amt Ccy="EUR">{p["amount"]}</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
        f"<RltdPties><Cdtr><Pty><Nm>{p['name']}</Nm></Pty></Cdtr>"
        f"<CdtrAcct><Id><IBAN>{p['iban']}</IBAN></Id></CdtrAcct></RltdPties></TxDtls>"
        for p in booked
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>
<GrpHdr><MsgId>C54-{msg_id}</MsgId><CreDtTm>2026-11-04T15:00:00Z</CreDtTm></GrpHdr>
<Ntfctn><Id>C54-{msg_id}-1</Id><Acct><Id><IBAN>{HOUSE_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Ntry><Amt Ccy="EUR">{total}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2026-11-04</Dt></BookgDt><ValDt><Dt>2026-11-04</Dt></ValDt><AcctSvcrRef>RT-BOOK-1</AcctSvcrRef>
<NtryDtls><Btch><MsgId>{msg_id}</MsgId><NbOfTxs>{len(booked)}</NbOfTxs></Btch>{details}</NtryDtls></Ntry>
</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"""


def test_batch_to_bank_and_back_matches_every_payment_and_raises_the_rejections(tmp_path: Path) -> None:
    master = master_and_invoices()
    release = released_batch([e for e in master if e.event_type == "invoice.captured"])
    document = build_pain001(record_of(PaymentBatch, release.payload), "09", release.event_time)
    validate_pain001(document, "09")

    msg_id, pmt_inf_id, payments = bank_reads(document)
    assert msg_id == "PAY-RT-2026-11-04" and pmt_inf_id == "PAY-RT-2026-11-04-PI1"
    (tmp_path / "psr.xml").write_text(bank_status_report(msg_id, pmt_inf_id, payments))
    (tmp_path / "c54.xml").write_text(bank_debit_notification(msg_id, payments))

    results = list(ingest_paths([tmp_path]))
    assert [r.error for r in results if r.error] == []
    converted = sorted((validate(r.event) for r in results if r.event), key=lambda e: e.event_time)

    engine = Engine(EngineState(MemoryStore()))
    outputs: list[Output] = []
    for item in [*master, release, *converted]:
        outputs += engine.process(item, source="roundtrip")

    matches = [record_of(Match, o.record) for o in outputs if o.stream == "matches"]
    assert sorted((m.end_to_end_id for m in matches), key=str) == ["E2E-RT-0001", "E2E-RT-0002", "E2E-RT-0004"]
    assert {m.method for m in matches} == {"end_to_end_id"} and {m.batch_id for m in matches} == {msg_id}
    exceptions = [record_of(ReconException, o.record) for o in outputs if o.stream == "exceptions"]
    opened = [e for e in exceptions if e.status == "open"]
    assert sorted(e.category for e in opened) == ["payment_rejected", "payment_rejected"]
    reasons = " ".join(e.reason for e in opened)
    assert "E2E-RT-0003 (AC04" in reasons and "E2E-RT-0005 (AM04" in reasons
    updates = (record_of(StatusUpdate, o.record) for o in outputs if o.stream == "status_updates")
    paid = {u.invoice_id for u in updates if u.status == "paid"}
    assert paid == {"RT-I1", "RT-I2", "RT-I4"}
