"""Real bank files of many banks and countries, against facts read from each file by someone else.

`tests/fixtures/bank/real/` holds public sample files of banks, standards bodies and parser projects
(sources and licences in SOURCES.md). `manifest.json` beside them records, per file, what a person read
from it without our converters: the number of booked entries, every balance, spot checks of amounts,
signs, dates, references and remittance, and where the bank's own figures disagree. Each file must
convert into exactly its entries (none dropped, none merged), each balance must come through, and a run
over the file must leave every account at the bank's closing balance.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree
from reconstream.models.money import MINOR_UNITS
from reconstream.shells import embedded
from reconstream.shells.formats import IngestOptions, IngestResult, ingest_file

REAL = Path(__file__).parent / "fixtures" / "bank" / "real"
MANIFEST: list[dict[str, Any]] = json.loads((REAL / "manifest.json").read_text(encoding="utf-8"))
OPTIONS = IngestOptions(default_company_code="1000")

# Files the converters refuse in part, and why (each a real defect of the file, named by field).
EXPECTED_ERRORS: dict[str, list[str]] = {
    # Deutsche Mark statements from 1999: DEM left ISO 4217's current list in 2002.
    "wolph-mt940/cmxl/mt940.sta": ["payload.currency"] * 13,
    # Goldman Sachs' trailers disagree with their own records: converted, and each disagreement reported.
    "moov-bai2/sample5-issue113.txt": [
        "49.control_total",
        "49.records",
        "49.control_total",
        "49.records",
        "98.control_total",
        "98.count",
        "98.records",
        "99.control_total",
        "99.records",
    ],
}
# Balance types as the manifest names them (ISO codes, MT940 tags, BAI2 codes) -> ours; None: not a day balance.
MT940_TAGS = {"60F": "PRCD", "62F": "CLBD", "64": "CLAV", "65": "FWAV", "60M": "PRCD", "62M": "CLBD"}
BAI2_CODES = {"010": "OPBD", "015": "CLBD", "030": "ITBD", "040": "OPAV", "045": "CLAV", "060": "ITAV"}
ISO_TYPES = {"OPBD", "CLBD", "PRCD", "ITBD", "OPAV", "CLAV", "ITAV", "FWAV"}

STATEMENT_FILES = [
    e
    for e in MANIFEST
    if e.get("entries") is not None
    and "UBL" not in e["format"]
    and "pain.002" not in e["format"]
    and "members" not in e
]


def convert(path: str) -> list[IngestResult]:
    return list(ingest_file(REAL / path, "auto", OPTIONS))


def entry_of(event: dict[str, Any]) -> str:
    """The booked entry an event came from: its position less the detail (`.TxN`) or charges suffix."""
    position = event["event_id"].split("-", 2)[2]
    return re.sub(r"\.(Tx\d+|Chrg)$", "", position) if ".Ntry" in position else position


def signed(payload: dict[str, Any]) -> Decimal:
    amount = Decimal(payload["amount"])
    return amount if payload["credit_debit"] == "CRDT" else -amount


@pytest.mark.parametrize("case", STATEMENT_FILES, ids=lambda case: case["path"])
def test_statement_converts_into_exactly_its_entries(case: dict[str, Any]) -> None:
    results = convert(case["path"])
    errors = [r.error.field for r in results if r.error is not None]
    assert errors == EXPECTED_ERRORS.get(case["path"], []), [str(r.error) for r in results if r.error]
    settlements = [r.event for r in results if r.event and r.event["event_type"] == "settlement.booked"]
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in settlements:
        entries[entry_of(event)].append(event["payload"])
    refused = [r.error.position for r in results if r.error is not None and ".Tx" in r.error.position]
    assert len(entries) + len(refused) == case["entries"]
    keys = camt_entry_keys(REAL / case["path"]) if "camt" in case["format"] else in_file_order(results)
    for check in case.get("spot_checks", []):
        key = keys[check["index"] - 1]
        if check.get("status") in ("PDNG", "INFO") or any(position.startswith(key) for position in refused):
            continue  # not a booking, or refused with its reason above
        spot(entries[key], check)


def in_file_order(results: list[IngestResult]) -> list[str]:
    """Entry positions of a file's transactions, converted or refused, in the order the file has them."""
    positions = [
        r.event["event_id"].split("-", 2)[2] if r.event else r.position.split(" (line")[0]
        for r in results
        if (r.event and r.event["event_type"] == "settlement.booked") or (r.error and ".Tx" in r.position)
    ]
    return list(dict.fromkeys(positions))


def camt_entry_keys(path: Path) -> list[str]:
    """Every entry of a camt file in file order (booked or not), named as the converter names positions."""
    containers: Counter[str] = Counter()
    keys = []
    for element in etree.parse(str(path)).iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name in ("Stmt", "Ntfctn", "Rpt") and element.find("{*}Acct") is not None:
            containers[name] += 1
            entries = element.findall("{*}Ntry")
            keys += [f"{name}{containers[name]}.Ntry{n}" for n in range(1, len(entries) + 1)]
    return keys


def spot(payloads: list[dict[str, Any]], check: dict[str, Any]) -> None:
    expected = Decimal(check["amount"]) * (1 if check["credit_debit"] == "CRDT" else -1)
    assert sum((signed(p) for p in payloads), Decimal(0)) == expected
    first = payloads[0]
    if check.get("booking_date"):
        assert first["booking_date"] == check["booking_date"][:10]
    if check.get("value_date"):
        assert first["value_date"] == check["value_date"][:10]
    wanted_ids = check.get("end_to_end_id")
    for wanted_id in wanted_ids if isinstance(wanted_ids, list) else [wanted_ids]:
        if wanted_id and wanted_id != "NOTPROVIDED":  # NOTPROVIDED is the absence of an id, read as none
            ids = {p.get("end_to_end_id") for p in payloads}
            ids |= {i for p in payloads for i in (p.get("batch") or {}).get("end_to_end_ids", ())}
            assert wanted_id in ids
    wanted_accounts = check.get("counterparty_account")
    accounts = {compact(p.get("counterparty_account", {}).get("id", "")) for p in payloads} - {""}
    for wanted in wanted_accounts if isinstance(wanted_accounts, list) else [wanted_accounts]:
        if wanted:
            found = any(compact(wanted) in account or account in compact(wanted) for account in accounts)
            assert found, (wanted, accounts)
    wanted_texts = check.get("remittance_contains")
    text = " ".join(remittance_text(p) for p in payloads)
    for wanted in wanted_texts if isinstance(wanted_texts, list) else [wanted_texts]:
        if wanted:
            assert words(wanted) in words(text) or compact(wanted) in compact(text), (wanted, text)


def remittance_text(payload: dict[str, Any]) -> str:
    """Everything a payer or bank wrote about the payment: free text, pieces, references, documents."""
    documents = payload.get("referred_documents") or ()
    return " ".join(
        [
            payload.get("remittance_info") or "",
            *(payload.get("remittance_lines") or ()),
            payload.get("additional_info") or "",
            payload.get("creditor_reference") or "",
            *(str(d.get(key) or "") for d in documents for key in ("number", "creditor_reference", "additional_info")),
        ]
    )


def compact(text: str) -> str:
    return re.sub(r"[\s\-./]", "", text).upper()


def words(text: str) -> str:
    return " ".join(text.split())


def our_type(case: dict[str, Any], balance: dict[str, Any]) -> str | None:
    if "tag" in balance:
        return MT940_TAGS.get(balance["tag"])
    if case["format"].startswith("bai2"):
        return BAI2_CODES.get(balance["type"])
    return balance["type"] if balance["type"] in ISO_TYPES else None


@pytest.mark.parametrize(
    "case",
    [c for c in STATEMENT_FILES if any(a.get("balances") for a in c.get("accounts", []))],
    ids=lambda case: case["path"],
)
def test_every_balance_comes_through(case: dict[str, Any]) -> None:
    ours = Counter(
        (r.event["payload"]["type"], Decimal(r.event["payload"]["amount"]), r.event["payload"]["date"])
        for r in convert(case["path"])
        if r.event and r.event["event_type"] == "balance.reported"
    )
    wanted = Counter(
        (kind, Decimal(balance["amount"]), balance["date"][:10])
        for account in case["accounts"]
        for balance in account["balances"]
        if (kind := our_type(case, balance)) is not None
        and (balance.get("currency") or account.get("currency") or "EUR") in MINOR_UNITS  # refused with a reason
    )
    assert wanted - ours == Counter(), f"missing: {wanted - ours}"


def closing_balances(case: dict[str, Any]) -> Counter[tuple[str, Decimal]]:
    """The last closing booked balance of each account (and currency), as the bank reported it.

    The last one in the file: banks write odd dates on statements (a closing dated before its opening).
    """
    last: dict[tuple[str, str], tuple[str, Decimal]] = {}
    for account in case["accounts"]:
        for balance in account["balances"]:
            currency = balance.get("currency") or account.get("currency") or ""
            kind = our_type(case, balance)
            if kind not in ("CLBD", "ITBD") or currency not in MINOR_UNITS:
                continue
            key, day = (account["id"], currency), balance["date"][:10]
            # The latest booked balance: an interim one counts only when dated after the close it follows.
            if kind == "CLBD" or day > last.get(key, ("", Decimal(0)))[0]:
                last[key] = (day, Decimal(balance["amount"]))
    return Counter((currency, amount) for (_, currency), (_, amount) in last.items())


# Files whose own figures disagree, as the person who read them found (manifest notes): each disagreement
# is one balance_mismatch for treasury. Every other file must raise none.
BALANCE_MISMATCHES: dict[str, int] = {
    "fruitl00p-php-mt940/Rabo/sample": 31,  # demo data: most statements do not balance or continue
    "wolph-mt940/jejik/rabobank.sta": 4,
    "wolph-mt940/jejik/abnamro.sta": 3,  # 62F 876.84 against 2914.84; 60M/62M of a second page disagree too
    "wolph-mt940/jejik/knab.sta": 2,  # statement 2 closes 798.98 against -3701.02, and opens off statement 1
    "genkgo-camt/camt053.v2.all-balance-types.xml": 2,  # PRCD beside OPBD, CLBD 4.04 against 9.86
    "moov-bai2/sample3.txt": 2,  # anonymised: several accounts share one number and one another's balances
    "viafintech-sepa-file-parser/camt053/valid_example_with_batch.xml": 1,  # an excerpt of 3 of 35 entries
    "viafintech-sepa-file-parser/camt053/valid_example_with_instdamt.xml": 1,
    "zilverline-mt940/deutsche_bank.txt": 1,
    "zilverline-mt940/abn/anb_sepa_overboeking_belastingdienst.txt": 1,  # closing 95350,00 for 9350,00
    "wolph-mt940/self-provided/raiffeisen-cmi.sta": 1,
    "wolph-mt940/jejik/triodos.sta": 1,
    "wolph-mt940/jejik/postfinance.sta": 1,  # 0.20 off
    "wolph-mt940/jejik/ing.sta": 1,
    "wolph-mt940/betterplace/sepa_snippet.sta": 1,
    "gingerpayments-libmt94x/ming-ing-provided-example-single-message.txt": 1,  # 540.00 off
    "genkgo-camt/camt053.v2.five.decimals.xml": 1,  # 27.00 against 27.05
    "fruitl00p-php-mt940/Hsbc/sample": 1,  # a 20000.00 debit between two zero balances
    "moov-bai2/sample5-issue113.txt": 1,
    "moj-bai2/citi_example.bai2": 1,  # 010 100.00 + a 0.01 credit against 015 100.00
    "assembled/LT625883379695428516_CAMT_053_2024-03.zip": 1,  # the 2024-03-14 statement is not in the archive
    "sandermarechal-jejik-mt940/commerzbank.txt": 1,  # opens and closes at 0.00 around a 12.35 debit
    "sandermarechal-jejik-mt940/deutschebank.txt": 1,  # the same statement, another account
    "sandermarechal-jejik-mt940/bug-core-5401.txt": 1,  # opens and closes at 0.00 around a 50.00 credit
    "fruitl00p-php-mt940/Ing/sample": 1,  # a 3.68 entry the bank's own closing balance leaves out
    "fruitl00p-php-mt940/Knab/sample3": 1,  # closes at 0.00 after a 100,000.00 credit
    # PostFinance's CLBD leaves out an entry booked that day and value-dated the next (its FWAV has it)
    "moov-io-iso20022/camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml": 1,
}
RUN_FILES = [c for c in MANIFEST if not c["format"].startswith(("UBL", "pain"))]


def run_file(case: dict[str, Any], tmp_path: Path) -> Path:
    """`recon run` over a folder whose bank/ holds only this file; the output folder."""
    bank = tmp_path / "input" / "bank"
    bank.mkdir(parents=True)
    source = REAL / case["path"]
    (bank / source.name).write_bytes(source.read_bytes())
    embedded.run(tmp_path / "input", tmp_path / "out", ingest_options=OPTIONS)
    return tmp_path / "out"


@pytest.mark.parametrize("case", RUN_FILES, ids=lambda case: case["path"])
def test_positions_end_at_the_banks_balances_and_every_disagreement_is_raised(
    case: dict[str, Any], tmp_path: Path
) -> None:
    out = run_file(case, tmp_path)
    positions = orjson.loads((out / "cash_positions.json").read_bytes())["positions"]
    if case.get("accounts") and closing_balances(case):
        reported = Counter(
            (p["currency"], Decimal(p["booked_balance"]))
            for p in positions
            if p.get("bank_balance_type") in ("CLBD", "ITBD")
        )
        assert closing_balances(case) - reported == Counter(), positions
    exceptions = [orjson.loads(line) for line in (out / "exceptions.jsonl").read_bytes().splitlines()]
    mismatches = [e for e in exceptions if e["category"] == "balance_mismatch"]
    assert len(mismatches) == BALANCE_MISMATCHES.get(case["path"], 0), [e["reason"] for e in mismatches]
    assert all(" but " in e["reason"] and e["owner_queue"] == "treasury" for e in mismatches)


@pytest.mark.parametrize("case", [c for c in MANIFEST if c["format"].startswith("UBL")], ids=lambda c: c["path"])
def test_e_invoices_keep_their_totals_payee_account_and_sign(case: dict[str, Any]) -> None:
    [result] = convert(case["path"])
    assert result.event is not None, str(result.error)
    invoice = result.event["payload"]
    negative = case["gross_total"].startswith("-")
    # A negative (corrective) invoice takes money back: it is read as a credit note for the same amounts.
    expected_type = "credit_note" if negative or case["document_type"] == "CreditNote" else "invoice"
    assert (invoice["supplier_invoice_number"], invoice["currency"], invoice["document_type"]) == (
        case["invoice_number"],
        case["currency"],
        expected_type,
    )
    assert Decimal(invoice["gross_amount"]) == abs(Decimal(case["gross_total"]))
    assert Decimal(invoice["net_amount"]) == abs(Decimal(case["net_total"]))
    means = case["payment_means"][0]
    assert compact(invoice["payee_account"]["id"]) == compact(means["payee_account"])
    flagged = [flag["field"] for flag in invoice.get("data_quality", ())]
    if means["payee_account_is_valid_iban"] or not means["payee_account"][:2].isalpha():
        assert flagged == []  # a valid IBAN, or a domestic account number that claims to be none
    else:
        assert flagged == ["PaymentMeans/PayeeFinancialAccount/ID"]  # kept as written, and flagged


@pytest.mark.parametrize("case", [c for c in MANIFEST if c["format"].startswith("pain")], ids=lambda c: c["path"])
def test_payment_status_reports_of_every_version_and_community(case: dict[str, Any]) -> None:
    [result] = convert(case["path"])
    assert result.event is not None, str(result.error)
    ack = result.event["payload"]
    assert (ack["ack_id"], ack["original_batch_id"]) == (case["message_id"], case["original_message_id"])
    assert ack.get("group_status") == case["group_status"]
    assert [(t["end_to_end_id"], t["status"], t.get("reason_code")) for t in ack["transactions"]] == [
        (t["end_to_end_id"], t["status"], t["reason_code"]) for t in case["transactions"]
    ]
