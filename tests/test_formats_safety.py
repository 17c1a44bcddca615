"""Malicious and broken input: refused with a clear error naming file, position and field; never a crash."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from reconstream.models.events import validate
from reconstream.shells.formats import IngestOptions, ingest_file, ingest_paths, stage_files
from reconstream.shells.formats.cli import cmd_ingest

BANK = Path(__file__).parent / "fixtures" / "bank"
BAD = BANK / "bad"


def errors_of(path: Path, fmt: str = "auto") -> list[str]:
    return [str(r.error) for r in ingest_file(path, fmt) if r.error is not None]


@pytest.mark.parametrize("name", ["xxe_pain002.xml", "billion_laughs_camt053.xml"])
def test_doctype_is_refused_before_parsing(name: str) -> None:
    for fmt in ("auto", "pain002", "camt053", "ubl"):
        [error] = errors_of(BAD / name, fmt)
        assert error.startswith(f"{name}:file: <xml>: DOCTYPE declarations are refused")


def test_doctype_after_a_bom_and_comment_is_still_seen(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.xml"
    sneaky.write_bytes(b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- hi -->\n<!doctype x [<!ENTITY e "x">]><x>&e;</x>')
    [error] = errors_of(sneaky, "pain002")
    assert "DOCTYPE" in error


def test_truncated_statement_keeps_complete_entries_and_names_where_it_broke() -> None:
    results = list(ingest_file(BAD / "truncated_camt054.xml"))
    assert [r.ok for r in results] == [True, True, True, True, False]
    error = results[-1].error
    assert error is not None
    assert error.position == "after Ntfctn1.Ntry1.Chrg" and error.field == "<xml>" and "not well-formed" in error.reason


def test_wrong_namespace_and_garbage() -> None:
    [wrong] = errors_of(BAD / "wrong_namespace_statement.xml")
    assert "unsupported message namespace 'urn:example:bank:statement:v1'" in wrong
    [forced] = errors_of(BAD / "wrong_namespace_statement.xml", "camt053")
    assert "namespace: expected a camt.053 message" in forced
    [garbage] = errors_of(BAD / "garbage.xml", "camt054")
    assert garbage.startswith("garbage.xml:file: <xml>: not well-formed XML")


def test_a_bad_counterparty_iban_keeps_the_booking_and_flags_the_field() -> None:
    results = list(ingest_file(BAD / "bad_iban_camt054.xml"))
    assert [r.error for r in results if r.error] == []  # money moved: the booking is never lost
    first = results[0].event["payload"]  # type: ignore[index]
    assert first["counterparty_account"] == {"scheme": "unverified", "id": "DE89370400440532013001"}
    [flag] = first["data_quality"]
    assert flag["field"] == "TxDtls/RltdPties/CdtrAcct/Id" and "checksum" in flag["reason"].lower()
    assert sum(r.ok for r in results) == 5


def test_bai2_control_total_and_mt940_syntax_errors() -> None:
    [bai2] = errors_of(BAD / "bad_control_total.bai")
    assert "49.control_total" in bai2 and "control total 9488501 but the amounts add up to 9488500" in bai2
    [mt940] = errors_of(BAD / "broken_mt940.sta")
    assert (
        mt940 == "broken_mt940.sta:Stmt1.Tx1 (line 5): :61:: cannot read statement line 'THIS IS NOT A STATEMENT LINE'"
    )


def test_a_bai2_file_cut_off_is_refused_whole_naming_where(tmp_path: Path) -> None:
    full = (BANK / "bai2_us_bank.bai").read_text()
    cut = tmp_path / "cut.bai"
    cut.write_text(full[: full.index("49,1261900")])
    results = list(ingest_file(cut))
    assert [r.ok for r in results] == [False]
    assert (
        str(results[0].error) == "cut.bai:file: 49: after line 11: the file ends where a 49 record was due (cut off?)"
    )


def test_too_deep_and_too_big_documents(tmp_path: Path) -> None:
    deep = tmp_path / "deep.xml"
    ns = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"
    deep.write_text(f'<Document xmlns="{ns}">' + "<a>" * 300 + "</a>" * 300 + "</Document>")
    [error] = errors_of(deep, "pain002")
    assert "<xml>" in error
    big = list(ingest_file(BANK / "ubl_invoice_peppol.xml", "ubl", IngestOptions(max_document_bytes=1000)))
    assert "more than the 1000 allowed" in str(big[0].error)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.xml").write_bytes(b"")
    assert "unknown file format" in errors_of(tmp_path / "empty.xml")[0]
    assert "FileNotFoundError" in errors_of(tmp_path / "absent.xml")[0]


def test_a_folder_with_bad_files_still_converts_the_good_ones(tmp_path: Path) -> None:
    results = list(ingest_paths([BAD, BANK / "camt053_v02_statement.xml"]))
    bad_files = {r.file for r in results if r.error}
    assert {"xxe_pain002.xml", "billion_laughs_camt053.xml", "garbage.xml", "broken_mt940.sta"} <= bad_files
    converted = [r for r in results if r.ok and r.file == "camt053_v02_statement.xml"]
    assert sum(r.event["event_type"] == "settlement.booked" for r in converted) == 4  # type: ignore[index]


def test_cmd_ingest_writes_good_events_and_exits_non_zero_naming_the_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "events.jsonl"
    code = cmd_ingest([BANK / "ap_export_invoices.csv", BAD / "xxe_pain002.xml"], "auto", out)
    assert code == 1
    lines = out.read_bytes().splitlines()
    assert len(lines) == 2 and all(validate(orjson.loads(line)) for line in lines)
    err = capsys.readouterr().err
    assert "ap_export_invoices.csv:row4: payload.gross_amount" in err and "xxe_pain002.xml:file: <xml>" in err
    assert cmd_ingest([BANK / "mt942_intraday.sta"], "mt942", tmp_path / "ok.jsonl") == 0


def test_stage_files_appends_to_the_runner_streams(tmp_path: Path) -> None:
    summary = stage_files([BANK / "pain002_v03_part_rjct.xml", BANK / "camt053_v02_statement.xml"], tmp_path)
    assert dict(summary.events) == {"bank_acks": 1, "settlements": 4, "balances": 2} and summary.errors == []
    assert len((tmp_path / "settlements.jsonl").read_bytes().splitlines()) == 4
