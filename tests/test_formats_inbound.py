"""Inbound formats on hand-written bank and AP files: pain.002, camt.053/054, MT940/942, BAI2, UBL, CSV."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from reconstream.models.events import validate
from reconstream.shells.formats import IngestOptions, IngestResult, ingest_file
from reconstream.shells.formats.detect import detect

BANK = Path(__file__).parent / "fixtures" / "bank"
OPTIONS = IngestOptions(
    accounts={"0001234567": "DE54100200301234567890"},
    vendors={"DE123456789": "V1"},
    default_company_code="1000",
)


def convert(name: str, fmt: str = "auto", options: IngestOptions = OPTIONS) -> list[IngestResult]:
    results = list(ingest_file(BANK / name, fmt, options))
    for result in results:
        if result.event is not None:
            validate(result.event)  # the exact envelope the engine reads
    return results


def payloads(results: list[IngestResult]) -> list[dict[str, Any]]:
    """The payloads of the documents a file carries (its balances are checked in test_bank_corpus.py)."""
    return [r.event["payload"] for r in results if r.event is not None and r.event["event_type"] != "balance.reported"]


def only_events(name: str, fmt: str = "auto") -> list[dict[str, Any]]:
    results = convert(name, fmt)
    assert [str(r.error) for r in results if r.error] == []
    return [r.event for r in results if r.event is not None and r.event["event_type"] != "balance.reported"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("pain002_v03_part_rjct.xml", "pain002"),
        ("pain002_v10_group_only.xml", "pain002"),
        ("camt054_v02_batched_debit.xml", "camt054"),
        ("camt054_v08_credit.xml", "camt054"),
        ("camt053_v02_statement.xml", "camt053"),
        ("mt940_bank_de.sta", "mt940"),
        ("mt942_intraday.sta", "mt942"),
        ("bai2_us_bank.bai", "bai2"),
        ("ubl_invoice_peppol.xml", "ubl"),
        ("ubl_creditnote_peppol.xml", "ubl"),
        ("ap_export_invoices.csv", "csv"),
    ],
)
def test_format_detection(name: str, fmt: str) -> None:
    assert detect(BANK / name) == fmt


def test_pain002_transaction_level_rejections_with_reason_codes() -> None:
    [event] = only_events("pain002_v03_part_rjct.xml")
    assert event["event_type"] == "bank_ack.received" and event["batch_correlation_id"] == "PAY-2026-11-04-001"
    assert event["event_time"] == "2026-11-04T05:42:17Z"  # +01:00 offset honoured
    ack = event["payload"]
    assert ack["ack_id"] == "PSR-20261104-000183" and ack["group_status"] == "PART"
    statuses = [(t["end_to_end_id"], t["status"], t.get("reason_code")) for t in ack["transactions"]]
    assert statuses == [
        ("E2E-20261104-0001", "ACCP", None),
        ("E2E-20261104-0002", "RJCT", "AC04"),
        ("E2E-20261104-0003", "RJCT", "AM04"),
    ]
    assert ack["transactions"][2]["reason_text"] == "Insufficient funds on debtor account"


def test_pain002_group_only_and_payment_information_level() -> None:
    [group] = payloads(convert("pain002_v10_group_only.xml"))
    assert group["group_status"] == "ACCP" and group["transactions"] == []
    [info] = payloads(convert("pain002_v09_pmtinf_rjct.xml"))
    assert (info["group_status"], info["group_reason_code"]) == ("RJCT", "AC01")


def test_camt054_batched_entry_is_split_per_transaction_with_charges_apart() -> None:
    events = only_events("camt054_v02_batched_debit.xml")
    settlements = [e["payload"] for e in events]
    assert [(s["entry_id"], s.get("end_to_end_id"), s["amount"]) for s in settlements] == [
        ("2026110400012345/1", "E2E-20261103-0101", "1500.00"),
        ("2026110400012345/2", "E2E-20261103-0102", "2380.00"),
        ("2026110400012345/3", "E2E-20261103-0103", "119.00"),
        ("2026110400012345/CHRG", None, "2.50"),
        ("2026110400012346", "E2E-20261103-0104", "560.00"),
    ]
    assert sum(Decimal(s["amount"]) for s in settlements[:4]) == Decimal("4001.50")  # the booked entry, split exactly
    assert {s["account"]["id"] for s in settlements} == {"DE12500105170648489890"}
    assert settlements[0]["bank_transaction_code"]["subfamily"] == "ESCT"
    assert settlements[3]["charges"] == [{"amount": "2.50", "currency": "EUR"}]
    assert settlements[0]["counterparty_name"] == "Nordwind Logistik GmbH"
    assert settlements[0]["remittance_info"] == "NW-2026-0042 NW-2026-0043"
    assert settlements[4]["creditor_reference"] == "RF18539007547034" and settlements[4]["value_date"] == "2026-11-05"
    assert events[0]["batch_correlation_id"] == "PAY-2026-11-03-007"
    assert events[0]["source_system"] == "camt.054:camt054_v02_batched_debit.xml"
    assert events[0]["event_id"].endswith("-Ntfctn1.Ntry1.Tx1")


def test_camt054_v08_credit_reads_new_layout_and_skips_pending_entries() -> None:
    [credit] = payloads(convert("camt054_v08_credit.xml"))
    assert credit["credit_debit"] == "CRDT" and credit["counterparty_name"] == "Seeblick Handels KG"
    assert credit["counterparty_account"] == {"scheme": "iban", "id": "DE45700202700015004455"}
    assert credit["creditor_reference"] == "RF18539007547034"  # found inside unstructured text


def test_camt053_statement_entries_without_details_and_with_deducted_charges() -> None:
    settlements = payloads(convert("camt053_v02_statement.xml"))
    by_id = {s["entry_id"]: s for s in settlements}
    assert by_id["DE54-0218-0001"]["remittance_info"].startswith("LASTSCHRIFT")
    assert (by_id["DE54-0218-0002"]["amount"], by_id["DE54-0218-0002"]["credit_debit"]) == ("3000.00", "CRDT")
    assert (by_id["DE54-0218-0002/CHRG"]["amount"], by_id["DE54-0218-0002/CHRG"]["credit_debit"]) == ("5.00", "DBIT")
    assert by_id["DE54-0218-0003"]["end_to_end_id"] == "E2E-20261104-0201"


def test_explicit_format_must_match_the_message() -> None:
    [result] = convert("camt054_v02_batched_debit.xml", "camt053")
    assert result.error is not None and result.error.field == "namespace" and "camt.053" in result.error.reason


def test_mt940_structured_86_and_two_statements() -> None:
    events = only_events("mt940_bank_de.sta")
    first = events[0]["payload"]
    assert first["entry_id"] == "2026110400012345/261104"  # the bank reference and value date: one entry per day
    assert first["end_to_end_id"] == "E2E-20261103-0101"
    assert first["counterparty_account"]["id"] == "DE89370400440532013000"
    assert first["counterparty_name"] == "NORDWIND LOGISTIK GMBH"
    assert events[1]["payload"]["creditor_reference"] == "RF18539007547034"
    assert events[2]["payload"]["credit_debit"] == "CRDT" and "end_to_end_id" not in events[2]["payload"]
    assert events[3]["event_id"].endswith("-Stmt2.Tx1") and events[3]["event_time"] == "2026-11-05T23:59:59Z"


def test_mt942_uses_its_creation_time() -> None:
    [event] = only_events("mt942_intraday.sta")
    assert event["event_time"] == "2026-11-05T09:15:00Z" and event["source_system"].startswith("mt942:")


def test_bai2_continuations_minor_units_and_account_mapping() -> None:
    settlements = payloads(convert("bai2_us_bank.bai"))
    assert [(s["amount"], s["currency"], s["credit_debit"]) for s in settlements] == [
        ("125.00", "USD", "DBIT"),
        ("562.50", "USD", "CRDT"),
        ("10.00", "USD", "DBIT"),
        ("119.00", "EUR", "DBIT"),
    ]
    assert "STERNCHEN SUPPLY" in settlements[0]["remittance_info"]  # from the 88 continuation
    assert settlements[1]["creditor_reference"] == "RF18539007547034"
    assert settlements[2]["value_date"] == "2026-11-05"  # value-dated funds type
    assert settlements[0]["account"]["id"] == "DE54100200301234567890"


def test_bai2_unmapped_us_account_keeps_its_routing_number() -> None:
    results = convert("bai2_us_bank.bai", options=IngestOptions())
    assert [r.error for r in results if r.error] == []
    accounts = {p["account"]["scheme"] + ":" + p["account"]["id"] for p in payloads(results)}
    assert "us_aba:0001234567" in accounts


def test_ubl_invoice_with_lines_and_mapped_vendor() -> None:
    [event] = only_events("ubl_invoice_peppol.xml")
    invoice = event["payload"]
    assert (invoice["vendor_id"], invoice["invoice_id"], invoice["company_code"]) == ("V1", "V1/NW-2026-0042", "1000")
    assert (invoice["net_amount"], invoice["tax_amount"], invoice["gross_amount"]) == ("1000.00", "190.00", "1190.00")
    assert invoice["po_number"] == "PO-4500000042" and invoice["due_date"] == "2026-12-02"
    assert [(line["line_no"], line["net_amount"], line["po_line_no"]) for line in invoice["lines"]] == [
        (1, "800.00", 10),
        (2, "200.00", 20),
    ]


def test_ubl_credit_note_keeps_totals_when_an_allowance_breaks_the_line_sum() -> None:
    [note] = payloads(convert("ubl_creditnote_peppol.xml"))
    assert note["document_type"] == "credit_note" and note["gross_amount"] == "130.90"
    assert "lines" not in note


def test_csv_export_through_the_mapping_template() -> None:
    results = convert("ap_export_invoices.csv")
    good = payloads(results)
    assert [(p["invoice_id"], p["document_type"], p["gross_amount"]) for p in good] == [
        ("AP-00000101", "invoice", "1190.00"),
        ("AP-00000102", "credit_note", "59.50"),
    ]
    [error] = [r.error for r in results if r.error]
    assert (error.position, error.field) == ("row4", "payload.gross_amount")


def test_same_file_same_event_ids() -> None:
    first = [r.event["event_id"] for r in convert("camt053_v02_statement.xml") if r.event]
    again = [r.event["event_id"] for r in convert("camt053_v02_statement.xml") if r.event]
    assert first == again and len(set(first)) == len(first)


RETURN_053 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-01-19T21:31:00Z</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><CreDtTm>2026-01-19T21:31:00Z</CreDtTm>
<Acct><Id><IBAN>DE75426501500578308629</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Ntry><Amt Ccy="EUR">23261.65</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-01-19</Dt></BookgDt><ValDt><Dt>2026-01-19</Dt></ValDt><AcctSvcrRef>R1</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>RRTN</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
<RltdPties><Dbtr><Nm>NORDHAFEN INDUSTRIE GMBH</Nm></Dbtr>
<DbtrAcct><Id><IBAN>DE75426501500578308629</IBAN></Id></DbtrAcct>
<Cdtr><Nm>Ruiz Componentes SL</Nm></Cdtr><CdtrAcct><Id><IBAN>ES7101827463335939491500</IBAN></Id></CdtrAcct></RltdPties>
<RtrInf><Rsn><Cd>AC01</Cd></Rsn></RtrInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""


def test_a_returned_transfer_names_the_creditor_it_did_not_reach_not_ourselves(tmp_path: Path) -> None:
    # The bank reports a return with the original payment's parties: the debtor is our own account.
    path = tmp_path / "return.xml"
    path.write_text(RETURN_053, encoding="utf-8")
    (entry,) = [
        r.event["payload"]
        for r in ingest_file(path, "auto", OPTIONS)
        if r.event is not None and r.event["event_type"] == "settlement.booked"
    ]
    assert entry["credit_debit"] == "CRDT"
    assert entry["counterparty_account"]["id"] == "ES7101827463335939491500"
    assert entry["counterparty_name"] == "Ruiz Componentes SL"


def _booked(path: Path) -> list[dict[str, Any]]:
    return [
        r.event["payload"]
        for r in ingest_file(path, "auto", OPTIONS)
        if r.event is not None and r.event["event_type"] == "settlement.booked"
    ]


# Shaped as Bank of Ireland reports a SEPA direct debit returned unpaid (OCA/account-payment's test file): the
# creditor, us, named by its SEPA creditor id without an account; the debtor with the account that did not pay.
UNPAID_DD_054 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>
<GrpHdr><MsgId>M2</MsgId><CreDtTm>2026-03-21T08:00:00Z</CreDtTm></GrpHdr>
<Ntfctn><Id>N1</Id><Acct><Id><IBAN>DE75426501500578308629</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Ntry><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-03-21</Dt></BookgDt><ValDt><Dt>2026-03-21</Dt></ValDt><AcctSvcrRef>R2</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd><SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><TxDtls><Refs><EndToEndId>DD-2026-0042</EndToEndId></Refs>
<AmtDtls><TxAmt><Amt Ccy="EUR">100.00</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>DEBTOR4</Nm></Dbtr><DbtrAcct><Id><IBAN>IE29AIBK93115212345678</IBAN></Id></DbtrAcct>
<Cdtr><Nm>CREDITOR</Nm><Id><PrvtId><Othr><Id>DE98ZZZ09999999999</Id>
<SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId></Id></Cdtr>
</RltdPties><RtrInf><Rsn><Cd>AC06</Cd></Rsn></RtrInf></TxDtls></NtryDtls></Ntry>
</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>
"""


def test_a_direct_debit_returned_unpaid_names_the_debtor_who_did_not_pay(tmp_path: Path) -> None:
    path = tmp_path / "unpaid.xml"
    path.write_text(UNPAID_DD_054, encoding="utf-8")
    (entry,) = _booked(path)
    assert entry["credit_debit"] == "DBIT" and entry["amount"] == "100.00"
    assert entry["counterparty_account"]["id"] == "IE29AIBK93115212345678"
    assert entry["counterparty_name"] == "DEBTOR4"


def test_a_statement_without_its_account_refuses_each_entry_and_balance_naming_the_field(tmp_path: Path) -> None:
    # libeufin's trimmed GLS and PostFinance samples: no Acct at all. Skipping them would lose the entries unseen.
    path = tmp_path / "no_account.xml"
    path.write_text(RETURN_053.replace("<Acct><Id><IBAN>DE75426501500578308629</IBAN></Id><Ccy>EUR</Ccy></Acct>", ""))
    results = list(ingest_file(path, "auto", OPTIONS))
    assert [r.event for r in results] == [None]
    assert [(r.error.field, r.error.reason) for r in results if r.error is not None] == [
        ("Stmt/Acct", "the Stmt names no account (Acct), which ISO 20022 makes mandatory")
    ]


def test_bai2_trailer_counts_padded_with_zeros_are_the_same_numbers(tmp_path: Path) -> None:
    # Bank of America writes "0001284" for 1,284 records (nexial-core's sample): a number, not a mismatch.
    citi = (BANK / "real" / "moj-bai2" / "citi_example.bai2").read_text()
    padded = citi.replace("49,20001,10/", "49,20001,0000010/").replace("98,20001,1,12/", "98,20001,001,000012/")
    path = tmp_path / "padded.bai2"
    path.write_text(padded)
    assert [r.error for r in ingest_file(path, "auto", OPTIONS) if r.error is not None] == []
    path.write_text(citi.replace("49,20001,10/", "49,20001,0000011/"))
    (error,) = [r.error for r in ingest_file(path, "auto", OPTIONS) if r.error is not None]
    assert error.field == "49.records" and "says 0000011 records, found 10" in error.reason


# Shaped as German banks answer a credit transfer file with Verification of Payee (pain.002.001.10, as in
# hbci4java's HypoVereinsbank sample): the file received, one payee's name not matching its IBAN.
PAYEE_CHECKED_002 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>VOP-1</MsgId><CreDtTm>2026-11-02T18:33:13+01:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>B-2026-11-02</OrgnlMsgId><OrgnlMsgNmId>pain.001</OrgnlMsgNmId><GrpSts>RVMC</GrpSts>
<StsRsnInf><AddtlInf>RVNM Der Name des Kontoinhabers zur angegebenen IBAN stimmt nicht ueberein.</AddtlInf></StsRsnInf>
</OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>B-2026-11-02</OrgnlPmtInfId>
<TxInfAndSts><OrgnlEndToEndId>E2E-7</OrgnlEndToEndId><TxSts>RVNM</TxSts></TxInfAndSts>
<TxInfAndSts><OrgnlEndToEndId>E2E-8</OrgnlEndToEndId><TxSts>RCVC</TxSts></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>
"""


def test_payee_verification_answers_are_pending_with_the_outcome_as_their_reason(tmp_path: Path) -> None:
    path = tmp_path / "vop.xml"
    path.write_text(PAYEE_CHECKED_002, encoding="utf-8")
    (result,) = list(ingest_file(path, "auto", OPTIONS))
    assert result.event is not None, result.error
    ack = result.event["payload"]
    assert (ack["group_status"], ack["group_reason_code"]) == ("PDNG", "RVMC")
    assert [(t["end_to_end_id"], t["status"], t["reason_code"]) for t in ack["transactions"]] == [
        ("E2E-7", "PDNG", "RVNM"),
        ("E2E-8", "PDNG", "RCVC"),
    ]
    validate(result.event)


@pytest.mark.parametrize(
    ("written", "encoding"),
    [
        ("TYT.: OPŁATA ZA PRZELEW ŚRODKÓW, URZĄD SKARBOWY", "iso-8859-2"),  # a Polish bank's file
        ("TYT.: MIETE MÜLLER STRAßE, GEBÜHR £ 10", "latin-1"),  # Latin-1 with a pound sign beside a space
    ],
)
def test_an_mt940_not_in_utf8_is_read_in_the_character_set_its_words_need(
    tmp_path: Path, written: str, encoding: str
) -> None:
    # mBank's statement (WoLpH/mt940) with its ASCII remittance replaced by one in the bank's own 8-bit set.
    sample = (BANK / "real" / "wolph-mt940" / "mBank" / "mt940.sta").read_text(encoding="ascii")
    path = tmp_path / "statement.sta"
    path.write_bytes(sample.replace("TYT.: PRZELEW SRODKOW", written, 1).encode(encoding))
    texts = [p.get("remittance_info") or "" for p in payloads(list(ingest_file(path, "auto", OPTIONS)))]
    assert any(written.removeprefix("TYT.: ") in text for text in texts), texts


def test_a_reference_repeated_on_one_account_in_one_file_names_two_lines(tmp_path: Path) -> None:
    # PostFinance books two entries under one AcctSvcrRef (moov-io/iso20022's camt.053 sample): the second is
    # <ref>/2, else the engine, which books a reference once per account, would leave it unbooked.
    entry = RETURN_053[RETURN_053.index("<Ntry>") : RETURN_053.index("</Ntry>") + len("</Ntry>")]
    path = tmp_path / "repeated.xml"
    path.write_text(RETURN_053.replace(entry, entry + "\n" + entry), encoding="utf-8")
    assert [line["entry_id"] for line in _booked(path)] == ["R1", "R1/2"]
    assert [line["entry_id"] for line in _booked(path)] == ["R1", "R1/2"]  # read again: the same ids


def test_a_single_detail_moves_the_account_the_way_its_entry_was_booked() -> None:
    # PostFinance writes the only detail of a 77.70 debit as CRDT: booked as the debit it is, the disagreement
    # flagged, no difference line invented (it was a CRDT 77.70 and a DBIT 155.40 "charges" line).
    path = BANK / "real" / "moov-io-iso20022" / "camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml"
    lines = [line for line in _booked(path) if line["entry_id"].startswith("0758103031480977")]
    assert [(line["entry_id"], line["credit_debit"], line["amount"]) for line in lines] == [
        ("0758103031480977", "DBIT", "77.70")
    ]
    assert lines[0]["data_quality"] == [
        {"field": "TxDtls/CdtDbtInd", "reason": "the detail says CRDT, the entry booked DBIT"}
    ]


def test_a_difference_the_named_charges_do_not_explain_is_booked_and_flagged(tmp_path: Path) -> None:
    # Goldman Sachs' sample books 100.00 credits whose detail says 64.00: a credit is never a charge.
    detail = '<AmtDtls><TxAmt><Amt Ccy="EUR">23000.00</Amt></TxAmt></AmtDtls>'
    path = tmp_path / "difference.xml"
    path.write_text(RETURN_053.replace("</Refs>", "</Refs>" + detail, 1), encoding="utf-8")
    detail_line, difference = _booked(path)
    assert (detail_line["amount"], difference["amount"], difference["credit_debit"]) == ("23000.00", "261.65", "CRDT")
    assert difference["data_quality"] == [
        {"field": "Ntry/Amt", "reason": "the entry books 23261.65, its details add up to 23000.00, charges named: 0"}
    ]


def test_a_detail_with_only_a_proprietary_code_keeps_its_entrys_iso_code(tmp_path: Path) -> None:
    # ABN AMRO (svapnil/iso20022.js's sample): PMNT/RCDT/ESCT on the entry, the bank's own code on the detail.
    own = "<BkTxCd><Prtry><Cd>N655</Cd><Issr>ABNAMRO</Issr></Prtry></BkTxCd>"
    path = tmp_path / "codes.xml"
    path.write_text(RETURN_053.replace("</Refs>", "</Refs>" + own, 1), encoding="utf-8")
    (line,) = _booked(path)
    assert line["bank_transaction_code"] == {
        "domain": "PMNT",
        "family": "ICDT",
        "subfamily": "RRTN",
        "proprietary": "N655",
        "issuer": "ABNAMRO",
    }


def test_a_remittance_piece_wrapped_by_the_files_layout_reads_as_one_line(tmp_path: Path) -> None:
    # ABN AMRO's sample (svapnil/iso20022.js) pretty-prints its XML, a line break and indentation inside Ustrd.
    text = "<RmtInf><Ustrd>2305271368 0050001248302363 Mud Masters Mud\n                Masters</Ustrd></RmtInf>"
    path = tmp_path / "wrapped.xml"
    path.write_text(RETURN_053.replace("<RtrInf>", text + "<RtrInf>", 1), encoding="utf-8")
    (line,) = _booked(path)
    assert line["remittance_info"] == "2305271368 0050001248302363 Mud Masters Mud Masters"
