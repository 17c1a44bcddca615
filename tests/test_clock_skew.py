"""An event dated ahead of its own ingest time by more than a clock's error never moves event time: it is
refused with an integration exception, and no timer fires because of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
from factories import paid_invoice_flow, record_of, settlement
from reconstream.models.exceptions import ReconException
from reconstream.models.outputs import DeadLetter
from reconstream.shells.embedded import run
from reconstream.streams import Engine, Settings
from reconstream.synthetic import generate
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState


def test_an_event_from_the_future_is_refused_and_moves_no_timer() -> None:
    subject = Engine(EngineState(MemoryStore()))
    flow = paid_invoice_flow()[:-1]
    for event in flow:
        subject.process(event, "test")
    watermark, timers = subject.watermark_us, len(subject.state.timers)
    ahead = settlement("2026-12-20T00:00:00Z").model_copy(update={"ingest_time": flow[-1].event_time})

    outputs = subject.process(ahead, "settlements.jsonl:1")

    letter = next(o.record for o in outputs if o.stream == "dead_letters")
    assert isinstance(letter, DeadLetter)
    assert letter.field == "event_time"
    assert "[windows] clock_skew" in letter.reason
    raised = [record_of(ReconException, o.record).category for o in outputs if o.stream == "exceptions"]
    assert raised == ["schema_violation"]
    assert (subject.watermark_us, len(subject.state.timers)) == (watermark, timers)


def test_a_clock_a_little_ahead_is_within_the_skew() -> None:
    subject = Engine(EngineState(MemoryStore()), Settings(clock_skew=timedelta(hours=2)))
    event = settlement("2026-11-05T09:00:00Z")
    early = event.model_copy(update={"ingest_time": event.event_time - timedelta(hours=1)})
    assert not [o for o in subject.process(early, "test") if o.stream == "dead_letters"]


def test_one_event_a_month_ahead_does_not_fire_a_month_of_timers(tmp_path: Path) -> None:
    """The issue's case: one valid invoice dated a month ahead took open exceptions from 355 to 9,329."""
    generate(tmp_path / "in", invoices=300, seed=9)
    clean = run(tmp_path / "in", tmp_path / "clean")
    invoices = tmp_path / "in" / "invoices.jsonl"
    lines = invoices.read_bytes().splitlines()
    ahead = orjson.loads(lines[0])
    ahead.update(event_id="ahead-1", event_time="2026-12-31T09:00:00Z")
    ahead["payload"]["invoice_id"] = "AP-AHEAD"
    invoices.write_bytes(b"\n".join([*lines, orjson.dumps(ahead)]) + b"\n")

    skewed = run(tmp_path / "in", tmp_path / "skewed")

    assert skewed.outcomes["dead_letter"] == clean.outcomes["dead_letter"] + 1
    for name in ("matches", "status_updates", "classified_lines"):
        assert (tmp_path / "skewed" / f"{name}.jsonl").read_bytes() == (
            tmp_path / "clean" / f"{name}.jsonl"
        ).read_bytes()
    added = len((tmp_path / "skewed" / "exceptions.jsonl").read_bytes().splitlines()) - len(
        (tmp_path / "clean" / "exceptions.jsonl").read_bytes().splitlines()
    )
    assert added == 1  # the refusal's own integration exception, nothing else
