"""pain.001 out: both versions validate against the official ISO 20022 XSDs and carry the canonical ids."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from factories import batch, instruction
from lxml import etree
from reconstream.models.payments import PaymentBatch
from reconstream.shells.formats import build_pain001, validate_pain001
from reconstream.shells.formats.cli import cmd_pain001
from reconstream.shells.formats.pain001 import namespace, payment_info_id

CREATED = datetime(2026, 11, 4, 6, 0, tzinfo=UTC)


def sample_batch(**fields: object) -> PaymentBatch:
    released = batch(
        "2026-11-04T06:00:00Z",
        batch_id="PAY-2026-11-04-001",
        instructions=[
            {**instruction("E2E-0001", ("I1",), "1190.00"), "creditor_name": "Nordwind Logistik GmbH"},
            {**instruction("E2E-0002", ("I2", "I3"), "15.50"), "remittance_info": "RF18539007547034"},
        ],
    )
    assert isinstance(released.payload, PaymentBatch)
    return released.payload.model_copy(update=fields)


def parsed(document: bytes, version: str) -> tuple[etree._Element, str]:
    return etree.fromstring(document), f"{{{namespace(version)}}}"


@pytest.mark.parametrize("version", ["03", "09"])
def test_pain001_is_schema_valid_and_carries_the_ids(version: str) -> None:
    document = build_pain001(sample_batch(), version, CREATED)
    validate_pain001(document, version)
    root, ns = parsed(document, version)
    assert root.findtext(f".//{ns}GrpHdr/{ns}MsgId") == "PAY-2026-11-04-001"
    assert root.findtext(f".//{ns}GrpHdr/{ns}CtrlSum") == "1205.50"
    assert root.findtext(f".//{ns}PmtInf/{ns}PmtInfId") == "PAY-2026-11-04-001-PI1"
    assert [e.text for e in root.iter(f"{ns}EndToEndId")] == ["E2E-0001", "E2E-0002"]
    assert root.findtext(f".//{ns}CdtrRefInf/{ns}Ref") == "RF18539007547034"
    assert root.findtext(f".//{ns}CreDtTm") == "2026-11-04T06:00:00"


def test_version_09_dates_and_bic_use_the_newer_elements() -> None:
    document = build_pain001(sample_batch(), "09", CREATED, debtor_bic="MUSTDEFFXXX")
    validate_pain001(document, "09")
    root, ns = parsed(document, "09")
    assert root.findtext(f".//{ns}ReqdExctnDt/{ns}Dt") == "2026-11-04"
    assert root.findtext(f".//{ns}DbtrAgt/{ns}FinInstnId/{ns}BICFI") == "MUSTDEFFXXX"


def test_own_payment_info_id_wins_and_derived_one_is_stable() -> None:
    assert payment_info_id(sample_batch(payment_info_id="PI-77")) == "PI-77"
    long_id = sample_batch(batch_id="B" * 35)
    assert payment_info_id(long_id) == payment_info_id(long_id) and len(payment_info_id(long_id)) <= 35


def test_same_batch_same_bytes() -> None:
    assert build_pain001(sample_batch(), "03", CREATED) == build_pain001(sample_batch(), "03", CREATED)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        build_pain001(sample_batch(), "12", CREATED)


def test_cmd_pain001_from_a_released_event_and_from_a_bare_payload(tmp_path: Path) -> None:
    released = batch("2026-11-04T06:00:00Z", batch_id="PAY-CLI-1")
    event_file = tmp_path / "batch.jsonl"
    event_file.write_bytes(orjson.dumps(released.model_dump(mode="json")) + b"\n")
    out = tmp_path / "pain001.xml"
    assert cmd_pain001(event_file, "09", out) == 0
    validate_pain001(out.read_bytes(), "09")
    assert b"<CreDtTm>2026-11-04T06:00:00</CreDtTm>" in out.read_bytes()  # the release time, reproducible

    bare = tmp_path / "payload.json"
    bare.write_bytes(orjson.dumps(released.payload.model_dump(mode="json")))
    assert cmd_pain001(bare, "03", tmp_path / "bare.xml") == 0
    validate_pain001((tmp_path / "bare.xml").read_bytes(), "03")


def test_cmd_pain001_names_the_bad_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    released = batch("2026-11-04T06:00:00Z").model_dump(mode="json")
    released["payload"]["debtor_account"] = {"scheme": "iban", "id": "DE00500105170648489890"}
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(released))
    assert cmd_pain001(bad, "03", tmp_path / "never.xml") == 1
    assert "payload.debtor_account" in capsys.readouterr().err
    assert not (tmp_path / "never.xml").exists()
