"""What a run reads from its input folder: a misnamed input file is reported, never silently ignored, and a
refused line before its stream's first valid event is dated in the run's time, not at the epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from reconstream.shells.embedded import run
from reconstream.synthetic import generate


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_misnamed_stream_file_and_a_bank_file_out_of_place_are_dead_lettered_by_name(tmp_path: Path) -> None:
    generate(tmp_path / "in", invoices=100, seed=4)
    (tmp_path / "in" / "invoices.jsonl").rename(tmp_path / "in" / "invoice.jsonl")
    (tmp_path / "in" / "statement.xml").write_text("<Document/>")

    run(tmp_path / "in", tmp_path / "out", tmp_path / "state")

    letters = {letter["source"]: letter for letter in records(tmp_path / "out" / "dead_letters.jsonl")}
    misnamed = letters["invoice.jsonl:0"]
    assert misnamed["field"] == "<file>"
    assert "did you mean invoices.jsonl?" in str(misnamed["reason"])
    assert "bank/" in str(letters["statement.xml:0"]["reason"])
    raised = [e for e in records(tmp_path / "out" / "exceptions.jsonl") if "invoice.jsonl:0" in e["refs"]]
    assert raised and raised[0]["owner_queue"] == "integration"

    before = (tmp_path / "out" / "dead_letters.jsonl").read_bytes()
    run(tmp_path / "in", tmp_path / "out", tmp_path / "state")  # a resume reports it once, not again
    assert (tmp_path / "out" / "dead_letters.jsonl").read_bytes() == before


def test_a_refused_first_line_is_dated_at_its_streams_first_event_not_1970(tmp_path: Path) -> None:
    generate(tmp_path / "in", invoices=100, seed=4)
    batches = tmp_path / "in" / "payment_batches.jsonl"
    first_valid = orjson.loads(batches.read_bytes().splitlines()[0])["event_time"]
    batches.write_bytes(b'{"event_id": "broken-1", "event_type": "payment_batch.released"}\n' + batches.read_bytes())

    run(tmp_path / "in", tmp_path / "out")

    [raised] = [e for e in records(tmp_path / "out" / "exceptions.jsonl") if "payment_batches.jsonl:1" in e["refs"]]
    assert raised["first_seen"] == first_valid
