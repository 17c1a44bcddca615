"""Bank files in a run: the files of `<input>/bank/` join the JSONL streams in the embedded runner and in
`recon produce`.

The bank files are written here from a generated scenario's own acknowledgments and bank entries, the
way a bank reports them (one pain.002 per status report, camt.054 notifications), and those JSONL lines
are blanked. The run must then give the results of the JSONL run; a bad bank file must end as dead
letters naming file, position and field; a SIGKILL and a resume must give the uninterrupted outputs.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from case_dump import dump
from crashes import kill_mid_run_then_finish, kill_rng
from lxml import etree
from lxml.builder import ElementMaker
from reconstream.models.events import MALFORMED, SCHEMA_VIOLATION, EventError, Stream, decode, validate
from reconstream.shells.embedded import source_name
from reconstream.shells.formats.canonical import IngestError
from reconstream.shells.inputs import Position, carried_error, classify, conversion_error, merged
from reconstream.shells.kafka.producer import house_accounts
from reconstream.shells.kafka.routing import BROADCAST, LedgerRouter
from reconstream.synthetic import generate, load_labels, score
from reconstream.tables import RocksStore

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
PAIN002 = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
CAMT054 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
BANK_STREAMS = ("bank_acks.jsonl", "settlements.jsonl")
SAME = ["matches.jsonl", "status_updates.jsonl", "cash_positions.json"]
Json = dict[str, Any]


# -- a bank writing its reports --------------------------------------------------------------------------


def xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def status_report(ack: Json) -> bytes:
    """A pain.002 that says what one bank_ack.received event says: MsgId, OrgnlMsgId, statuses, reasons."""
    e = ElementMaker(namespace=PAIN002, nsmap={None: PAIN002})
    payload = ack["payload"]

    def reasons(code: str | None, text: str | None) -> list[etree._Element]:
        parts = ([e.Rsn(e.Cd(code))] if code else []) + ([e.AddtlInf(text)] if text else [])
        return [e.StsRsnInf(*parts)] if parts else []

    group = [e.OrgnlMsgId(payload["original_batch_id"]), e.OrgnlMsgNmId("pain.001.001.09")]
    if payload.get("group_status"):
        group.append(e.GrpSts(payload["group_status"]))
    group += reasons(payload.get("group_reason_code"), None)
    transactions = [
        e.TxInfAndSts(
            e.OrgnlEndToEndId(tx["end_to_end_id"]),
            e.TxSts(tx["status"]),
            *reasons(tx.get("reason_code"), tx.get("reason_text")),
        )
        for tx in payload.get("transactions", [])
    ]
    info = e.OrgnlPmtInfAndSts(e.OrgnlPmtInfId(f"{payload['original_batch_id']}-PI1"), *transactions)
    report = e.CstmrPmtStsRpt(
        e.GrpHdr(e.MsgId(payload["ack_id"]), e.CreDtTm(ack["event_time"])),
        e.OrgnlGrpInfAndSts(*group),
        *([info] if transactions else []),
    )
    return xml(e.Document(report))


def notification(settlements: list[Json], created: str) -> bytes:
    """A camt.054 with one booked entry (one transaction detail) per settlement.booked event, one account."""
    e = ElementMaker(namespace=CAMT054, nsmap={None: CAMT054})

    def entry(p: Json) -> etree._Element:
        party, account = ("Cdtr", "CdtrAcct") if p["credit_debit"] == "DBIT" else ("Dbtr", "DbtrAcct")
        parties = [getattr(e, party)(e.Pty(e.Nm(p["counterparty_name"])))] if p.get("counterparty_name") else []
        if p.get("counterparty_iban"):
            parties.append(getattr(e, account)(e.Id(e.IBAN(p["counterparty_iban"]))))
        remittance = [e.Ustrd(p["remittance_info"])] if p.get("remittance_info") else []
        if p.get("creditor_reference"):
            remittance.append(e.Strd(e.CdtrRefInf(e.Ref(p["creditor_reference"]))))
        detail = e.TxDtls(
            *([e.Refs(e.EndToEndId(p["end_to_end_id"]))] if p.get("end_to_end_id") else []),
            e.Amt(p["amount"], Ccy=p["currency"]),
            e.CdtDbtInd(p["credit_debit"]),
            *([e.RltdPties(*parties)] if parties else []),
            *([e.Purp(e.Cd(p["purpose"]))] if p.get("purpose") else []),
            *([e.RmtInf(*remittance)] if remittance else []),
        )
        code = p.get("bank_transaction_code")
        domain = (
            [e.Domn(e.Cd(code["domain"]), e.Fmly(e.Cd(code["family"]), e.SubFmlyCd(code["subfamily"])))] if code else []
        )
        return e.Ntry(
            e.Amt(p["amount"], Ccy=p["currency"]),
            e.CdtDbtInd(p["credit_debit"]),
            e.Sts(e.Cd("BOOK")),
            e.BookgDt(e.Dt(p["booking_date"])),
            e.ValDt(e.Dt(p["value_date"])),
            e.AcctSvcrRef(p["entry_id"]),
            *([e.BkTxCd(*domain)] if code else []),
            e.NtryDtls(detail),
        )

    payloads = [s["payload"] for s in settlements]
    first = payloads[0]["entry_id"]
    account = e.Acct(e.Id(e.IBAN(payloads[0]["account_iban"])), e.Ccy(payloads[0]["currency"]))
    body = e.Ntfctn(e.Id(f"N-{first}"), account, *(entry(p) for p in payloads))
    header = e.GrpHdr(e.MsgId(f"C54-{first}"), e.CreDtTm(created))
    return xml(e.Document(e.BkToCstmrDbtCdtNtfctn(header, body)))


def move_bank_streams_to_files(folder: Path, grouped: bool = False) -> int:
    """Each valid bank_acks / settlements line becomes a bank file in folder/bank and is blanked in place
    (so the line numbers of what stays do not move). `grouped`: one camt.054 per account and booking day,
    created at the day's last bank time, instead of one per entry. Returns the number of files written."""
    bank = folder / "bank"
    bank.mkdir(exist_ok=True)
    files = 0

    def valid_lines(stream: str) -> list[Json]:
        events, kept = [], []
        for raw in (folder / f"{stream}.jsonl").read_bytes().splitlines():
            try:
                validate(decode(raw), Stream(stream))
            except EventError:
                kept.append(raw)  # a planted bad line stays where it was
                continue
            events.append(orjson.loads(raw))
            kept.append(b"")
        (folder / f"{stream}.jsonl").write_bytes(b"\n".join(kept) + b"\n")
        return events

    for ack in valid_lines("bank_acks"):
        files += 1
        (bank / f"psr-{files:05d}.xml").write_bytes(status_report(ack))
    groups: dict[tuple[str, ...], list[Json]] = defaultdict(list)
    for n, settlement in enumerate(valid_lines("settlements")):
        p = settlement["payload"]
        groups[(p["account_iban"], p["currency"], p["booking_date"]) if grouped else (str(n),)].append(settlement)
    for group in groups.values():
        files += 1
        created = max(s["event_time"] for s in group)
        (bank / f"c54-{files:05d}.xml").write_bytes(notification(group, created))
    return files


# -- fixtures and helpers -----------------------------------------------------------------------------------


def records(path: Path) -> list[Json]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def business(exceptions: list[Json]) -> list[Json]:
    return [x for x in exceptions if x["kind"] == "business"]


def refused(exceptions: list[Json]) -> Counter[tuple[str, str]]:
    return Counter((x["category"], x["reason"]) for x in exceptions if x["kind"] == "technical")


def recon_run(input_dir: Path, out_dir: Path, *extra: str, open_files: int | None = None) -> None:
    def limit() -> None:  # fewer open files allowed than there are bank files: none may stay open while queued
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    command = [*RECON, "run", "--input", str(input_dir), "--out", str(out_dir), "--quiet", *extra]
    subprocess.run(command, check=True, preexec_fn=limit)


@pytest.fixture(scope="module")
def jsonl_month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("jsonl-month")
    generate(directory, invoices=400, seed=7)
    return directory


@pytest.fixture(scope="module")
def bank_month(jsonl_month: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bank-month") / "in"
    shutil.copytree(jsonl_month, directory)
    assert move_bank_streams_to_files(directory) > 250
    return directory


# -- the tests ----------------------------------------------------------------------------------------------


def test_bank_files_in_the_folder_give_the_results_of_the_same_events_as_jsonl(
    jsonl_month: Path, bank_month: Path, tmp_path: Path
) -> None:
    recon_run(jsonl_month, tmp_path / "jsonl")
    recon_run(bank_month, tmp_path / "bank", open_files=128)
    for name in SAME:
        assert (tmp_path / "bank" / name).read_bytes() == (tmp_path / "jsonl" / name).read_bytes(), name
    exceptions = records(tmp_path / "bank" / "exceptions.jsonl")
    assert business(exceptions) == business(records(tmp_path / "jsonl" / "exceptions.jsonl"))
    # A planted bad line stays in its JSONL file; its neighbours moved to bank files, so it may sort elsewhere.
    assert refused(exceptions) == refused(records(tmp_path / "jsonl" / "exceptions.jsonl"))
    result = score(load_labels(bank_month), exceptions)
    assert result["missed"] == 0 and result["false_exceptions"] == 0, result
    assert {"payment_rejected", "settlement_amount_mismatch", "missing_ack"} <= set(result["detected"])

    # The bank events were read from the files: every file's events are in the audit trail, applied.
    audit = [a for a in records(tmp_path / "bank" / "audit.jsonl") if a["source"].startswith("bank/")]
    files = {a["source"].split(":", 1)[0] for a in audit}
    assert files == {f"bank/{p.name}" for p in (bank_month / "bank").iterdir()}
    jsonl_audit = records(tmp_path / "jsonl" / "audit.jsonl")
    moved = [a for a in jsonl_audit if a["source"].split(":")[0] in BANK_STREAMS and a["outcome"] != "dead_letter"]
    assert Counter(a["outcome"] for a in audit) == Counter(a["outcome"] for a in moved)  # a re-sent file is a duplicate
    assert {a["event_id"].split("-", 1)[0] for a in audit} == {"pain002", "camt054"}
    emitted_by = {output: a["source"] for a in audit for output in a["outputs"]}
    matches = records(tmp_path / "bank" / "matches.jsonl")
    assert len(matches) > 200 and all(emitted_by[m["match_id"]].startswith("bank/c54-") for m in matches)
    rejected = [x for x in exceptions if x["category"] == "payment_rejected"]
    assert rejected and all(emitted_by[x["exception_id"]].startswith("bank/psr-") for x in rejected)


def write_bad_bank_files(bank: Path) -> dict[str, tuple[str, str]]:
    """Five bad files; returns the dead letters each must give: source -> (field, words of the reason)."""
    e = ElementMaker(namespace=CAMT054, nsmap={None: CAMT054})

    def bad_entry(amount: str, direction: str) -> etree._Element:
        return e.Ntry(
            e.Amt(amount, Ccy="EUR"),
            e.CdtDbtInd(direction),
            e.Sts(e.Cd("BOOK")),
            e.BookgDt(e.Dt("2026-11-20")),
            e.AcctSvcrRef(f"BAD-{direction}"),
        )

    account = e.Acct(e.Id(e.IBAN("DE66100100105071050724")), e.Ccy("EUR"))
    header = e.GrpHdr(e.MsgId("C54-BAD"), e.CreDtTm("2026-11-20T10:00:00Z"))
    body = e.Ntfctn(e.Id("N-BAD"), account, bad_entry("12,50", "DBIT"), bad_entry("12.50", "DEBIT"))
    (bank / "c54-bad-entries.xml").write_bytes(xml(e.Document(e.BkToCstmrDbtCdtNtfctn(header, body))))
    psr = status_report(
        {
            "event_time": "2026-11-20T10:00:00Z",
            "payload": {
                "ack_id": "PSR-BAD",
                "original_batch_id": "PMT-1000-20261104",
                "group_status": "PART",
                "transactions": [{"end_to_end_id": "PMT-1000-20261104-00001", "status": "XXXX"}],
            },
        }
    )
    (bank / "psr-bad-status.xml").write_bytes(psr)
    good = sorted(bank.glob("c54-0*.xml"))[0].read_bytes()
    (bank / "c54-truncated.xml").write_bytes(good[: len(good) // 2])
    # A bad entry before good ones (booked already, under the same AcctSvcrRef: applied once, so no effect).
    at = good.index(b"<Ntry>")
    unreadable = (
        b"<Ntry><Amt Ccy='EUR'>abc</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2026-11-20</Dt></BookgDt></Ntry>"
    )
    (bank / "c54-bad-then-good.xml").write_bytes(good[:at] + unreadable + good[at:])
    line = good[:at].count(b"\n") + 1
    (bank / "notes.txt").write_text("call the bank about the November charges\n")
    return {
        f"bank/c54-bad-then-good.xml:Ntfctn1.Ntry1 (line {line})": ("Ntry/Amt", "abc"),
        "bank/c54-bad-entries.xml:Ntfctn1.Ntry1 (line 16)": ("Ntry/Amt", "12,50"),
        "bank/c54-bad-entries.xml:Ntfctn1.Ntry2 (line 27)": ("Ntry/CdtDbtInd", "DEBIT"),
        "bank/psr-bad-status.xml:message": ("OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/TxSts", "XXXX"),
        "bank/c54-truncated.xml:file": ("<xml>", ""),
        "bank/notes.txt:file": ("<format>", "unknown file format"),
    }


def test_a_bad_bank_file_is_dead_lettered_with_file_position_and_field_and_the_rest_goes_on(
    bank_month: Path, tmp_path: Path
) -> None:
    recon_run(bank_month, tmp_path / "clean")
    dirty = tmp_path / "dirty"
    shutil.copytree(bank_month, dirty)
    expected = write_bad_bank_files(dirty / "bank")
    recon_run(dirty, tmp_path / "dirty-out")

    clean_dead = records(tmp_path / "clean" / "dead_letters.jsonl")
    new = [d for d in records(tmp_path / "dirty-out" / "dead_letters.jsonl") if d["source"].startswith("bank/")]
    assert len(records(tmp_path / "dirty-out" / "dead_letters.jsonl")) == len(clean_dead) + len(new)
    assert {d["source"] for d in new} == set(expected)
    for dead in new:
        field, words = expected[dead["source"]]
        assert dead["field"] == field and words in dead["reason"], dead
        assert dead["category"] in (MALFORMED, SCHEMA_VIOLATION)
        carried = orjson.loads(dead["raw"])["ingest_error"]  # the raw record names file and position too
        assert f"{carried['file']}:{carried['position']}" == dead["source"]
    assert {d["stream"] for d in new} == {"settlements", "bank_acks"}
    integration = [x for x in records(tmp_path / "dirty-out" / "exceptions.jsonl") if x["owner_queue"] == "integration"]
    assert {x["refs"][0] for x in integration} >= set(expected)
    # Everything else was processed as before.
    for name in SAME:
        assert (tmp_path / "dirty-out" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name


def test_a_sigkill_mid_run_with_bank_files_then_resume_gives_the_uninterrupted_outputs(tmp_path: Path) -> None:
    month = tmp_path / "in"
    generate(month, invoices=3000, seed=3)
    move_bank_streams_to_files(month, grouped=True)  # multi-entry files: a checkpoint can fall inside one
    write_bad_bank_files(month / "bank")
    recon_run(month, tmp_path / "reference")
    # Every output file byte for byte; the case store (a database file) by its content.
    compared = [p.name for p in (tmp_path / "reference").iterdir() if not p.name.startswith("cases.sqlite")]
    expected = {name: (tmp_path / "reference" / name).read_bytes() for name in compared}
    rng = kill_rng()
    out, state = tmp_path / "out", tmp_path / "state"
    command = [
        *RECON,
        "run",
        "--input",
        str(month),
        "--out",
        str(out),
        "--state-dir",
        str(state),
        "--checkpoint-every",
        "97",
        "--quiet",
    ]
    kill_mid_run_then_finish(command, out, rng, kills=3)
    for name in compared:
        assert (out / name).read_bytes() == expected[name], f"{name}: resumed outputs differ"
    assert dump(f"sqlite:///{out / 'cases.sqlite'}") == dump(f"sqlite:///{tmp_path / 'reference' / 'cases.sqlite'}")
    store = RocksStore(state)
    try:
        checkpoint = store.checkpoint()
    finally:
        store.close()
    assert checkpoint is not None and sum(key.startswith("bank/") for key in checkpoint["inputs"]) > 100


def test_resuming_at_any_position_continues_the_merge_exactly(jsonl_month: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(jsonl_month, folder)
    move_bank_streams_to_files(folder, grouped=True)
    write_bad_bank_files(folder / "bank")
    full = [(line.source, line.raw) for line in merged(folder, {})]
    positions: dict[str, Position] = {}
    consumed = list(merged(folder, {}))
    assert len(consumed) == len(full) and any(s.startswith("bank/c54-bad") for s, _ in full)
    inside = [n for n, line in enumerate(consumed) if line.name.startswith("bank/") and line.after.line > 1]
    early = [n for n, line in enumerate(consumed) if line.name == "bank/c54-bad-then-good.xml"]
    assert consumed[early[0]].error is not None and consumed[early[1]].event is not None  # error sorts with the event
    points = sorted({*range(0, len(full), 97), *inside[:: max(1, len(inside) // 15)], *early, len(full)})
    done = 0
    for point in points:
        for line in consumed[done:point]:
            positions[line.name] = line.after
        done = point
        rest = [(line.source, line.raw) for line in merged(folder, positions)]
        assert rest == full[point:], f"resume after {point} lines differs"


def test_bank_events_route_to_the_ledgers_their_jsonl_lines_went_to(jsonl_month: Path, bank_month: Path) -> None:
    """`recon produce` keys by ledger; a bank file's events must find their company code like JSONL ones."""

    def keys(folder: Path) -> list[tuple[str, str]]:
        router = LedgerRouter(house_accounts(folder))
        return [(line.stream.value, router.key_for(line.event)) for line in merged(folder, {}) if line.event]

    from_jsonl, from_files = keys(jsonl_month), keys(bank_month)
    assert from_files == from_jsonl
    bank_keys = {key for stream, key in from_files if stream in (Stream.BANK_ACKS, Stream.SETTLEMENTS)}
    assert bank_keys and not any(":" in key or key == BROADCAST for key in bank_keys)  # no orphan keys


def test_a_conversion_error_is_carried_as_a_record_both_shells_refuse_the_same_way() -> None:
    error = IngestError("c54.xml", "Ntfctn1.Ntry2 (line 27)", "Ntry/CdtDbtInd", "expected CRDT or DBIT")
    raw = conversion_error("bank/c54.xml", error)
    event, refused, sort_time = classify(raw, Stream.SETTLEMENTS, 42)
    assert event is None and sort_time == 42 and refused is not None
    assert (refused.category, refused.field, refused.reason) == (SCHEMA_VIOLATION, "Ntry/CdtDbtInd", error.reason)
    forged = b'{"ingest_error":{"category":"not_a_category","field":"x","reason":"y"}}'
    assert carried_error(forged) is None
    _, ordinary, _ = classify(forged, Stream.SETTLEMENTS, 0)
    assert ordinary is not None and ordinary.field != "x"  # refused like any bad line, never with a forged category


@pytest.mark.kafka
def test_recon_produce_sends_bank_files_and_a_worker_gives_the_embedded_results(
    bank_month: Path, kafka_bootstrap: str, tmp_path: Path
) -> None:
    from test_kafka_worker import (  # the parity helpers of the Kafka tests, loaded only when these run
        assert_same,
        embedded_results,
        finish,
        fresh_topics,
        kafka_results,
        produce,
        start_worker,
    )

    month = tmp_path / "in"
    shutil.copytree(bank_month, month)
    write_bad_bank_files(month / "bank")
    recon_run(month, tmp_path / "embedded")
    topics = fresh_topics()
    produce(month, kafka_bootstrap, topics)
    finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1"))
    results = kafka_results(kafka_bootstrap, topics)
    assert len(results.matches) > 200
    assert_same(results, embedded_results(tmp_path / "embedded"))  # bad bank records too: same field, reason, raw


def test_a_checkpoint_written_before_bank_files_resumes_its_jsonl_files() -> None:
    assert source_name("invoices") == "invoices.jsonl"  # older checkpoints keyed positions by stream
    assert source_name("settlements.jsonl") == "settlements.jsonl"
    assert source_name("bank/invoices") == "bank/invoices"
