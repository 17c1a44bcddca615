"""All-or-nothing per event: an event a rule fails on is set aside as a dead letter, the state as if it
never came, and the stream goes on; a resume reads on past it instead of failing on it forever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from factories import paid_invoice_flow, record_of
from reconstream.models.events import Event
from reconstream.models.exceptions import ReconException
from reconstream.models.outputs import DeadLetter
from reconstream.shells.embedded import run
from reconstream.streams import Engine, engine
from reconstream.streams.context import Context
from reconstream.synthetic import generate
from reconstream.tables import MemoryStore, RocksStore, Store
from reconstream.tables.seen_slots import SeenSlotTable
from reconstream.tables.state import EngineState


class RuleFailed(RuntimeError):
    """What a rule's bug looks like from the engine: an exception half way through a handler."""


def failing_after(handler_name: str, event_id: str) -> Any:
    """The real handler, which writes state and emits outputs, then fails: the worst case for atomicity."""
    real = engine.HANDLERS[handler_name]

    def handler(event: Event, ctx: Context) -> None:
        real(event, ctx)
        if event.event_id == event_id:
            raise RuleFailed("a rule failed after writing")

    return handler


def rows(table: Any) -> Any:
    """A table's rows as it holds them: an in-memory index or table of ids is never listed, it holds digests."""
    if isinstance(table, SeenSlotTable):
        return table.held().items()
    return dict.items(table) if isinstance(table, dict) else table.items()


def snapshot(state: EngineState) -> dict[str, Any]:
    """Every table's rows as stored values (encoded, so a changed record in place would show too)."""
    tables = state.store._tables  # type: ignore[attr-defined]
    return {name: {key: repr(value) for key, value in rows(table)} for name, table in sorted(tables.items())}


def stores(tmp_path: Path) -> dict[str, Store]:
    return {"memory": MemoryStore(), "rocksdb": RocksStore(tmp_path / "state")}


@pytest.mark.parametrize("kind", ["memory", "rocksdb"])
def test_a_failing_rule_leaves_the_state_as_if_the_event_never_came(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = paid_invoice_flow()
    settlement = flow[-1]
    monkeypatch.setitem(engine.HANDLERS, "settlement.booked", failing_after("settlement.booked", settlement.event_id))
    state = EngineState(stores(tmp_path)[kind])
    subject = Engine(state)
    for event in flow[:-1]:
        subject.process(event, "test")
    before, watermark, timers = snapshot(state), subject.watermark_us, len(state.timers)

    outputs = subject.process(settlement, "settlements.jsonl:9")

    assert [o.stream for o in outputs] == ["dead_letters", "exceptions"]  # no match, no status update
    letter = outputs[0].record
    assert isinstance(letter, DeadLetter)
    assert (letter.field, letter.event_id, letter.source) == ("payload", settlement.event_id, "settlements.jsonl:9")
    assert "RuleFailed: a rule failed after writing" in letter.reason
    after = snapshot(state)
    refused = outputs[1].record
    assert isinstance(refused, ReconException)
    assert after.pop("exceptions") == {**before.pop("exceptions"), refused.exception_id: repr(refused)}
    assert after == before
    assert (subject.watermark_us, len(state.timers)) == (watermark, timers)
    assert settlement.event_id not in state.seen_events  # the same event again, once fixed, is applied


def test_timers_a_failed_event_fired_fire_again_with_the_next_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """The failed event moved event time past a deadline: undone, the timer must still be due, once."""
    flow = paid_invoice_flow()[:-1]  # sent and acknowledged, never settled: missing_settlement after 5 days
    late = paid_invoice_flow()[-1].model_copy(update={"event_time": flow[-1].event_time.replace(day=20)})
    monkeypatch.setitem(engine.HANDLERS, "settlement.booked", failing_after("settlement.booked", late.event_id))
    subject = Engine(EngineState(MemoryStore()))
    for event in flow:
        subject.process(event, "test")

    failed = subject.process(late, "late")
    raised = [record_of(ReconException, o.record) for o in failed if o.stream == "exceptions"]
    assert not [e for e in raised if e.category == "missing_settlement"]

    monkeypatch.setitem(engine.HANDLERS, "settlement.booked", engine.on_settlement)
    again = subject.advance_to(int(late.event_time.timestamp() * 1_000_000))
    raised = [record_of(ReconException, o.record) for o in again if o.stream == "exceptions"]
    fired = [e for e in raised if e.category == "missing_settlement"]
    assert len(fired) == 1


def test_a_run_goes_on_past_a_failing_event_and_a_resume_does_not_fail_on_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "in", invoices=200, seed=5)
    victim = orjson.loads((tmp_path / "in" / "settlements.jsonl").read_bytes().splitlines()[10])["event_id"]
    monkeypatch.setitem(engine.HANDLERS, "settlement.booked", failing_after("settlement.booked", victim))

    first = run(tmp_path / "in", tmp_path / "out", tmp_path / "state", checkpoint_every=50)
    letters = [orjson.loads(line) for line in (tmp_path / "out" / "dead_letters.jsonl").read_bytes().splitlines()]
    assert [letter["event_id"] for letter in letters if "RuleFailed" in letter["reason"]] == [victim]
    assert first.outcomes["applied"] > 1000

    outputs = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    again = run(tmp_path / "in", tmp_path / "out", tmp_path / "state", checkpoint_every=50)
    assert again.events == first.events  # everything was applied or set aside: nothing is read again
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == outputs
