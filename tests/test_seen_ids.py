"""Applied ids are remembered for a window of event time: a replay inside it changes nothing, state stays bounded."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from factories import OTHER_IBAN, event, settlement, vendor
from reconstream.models.base import to_micros
from reconstream.streams import Engine
from reconstream.streams.context import Settings
from reconstream.tables import JSON, MemoryStore, RocksStore, Store
from reconstream.tables.seen import SeenIds
from reconstream.tables.state import EngineState

DAY_US = 86_400 * 1_000_000


def seen(store: Store, window_days: int | None = 10) -> SeenIds:
    return SeenIds(store, "seen_events", store.table("meta", JSON), window_days * DAY_US if window_days else None)


def test_an_id_is_remembered_for_at_least_one_window_and_forgotten_within_two() -> None:
    ids = seen(MemoryStore())
    ids.add("ev-day0", 0)
    for day in range(1, 10):
        ids.advance(day * DAY_US)
        assert "ev-day0" in ids
    ids.advance(10 * DAY_US)  # a window since the generation began: it becomes the previous one
    ids.add("ev-day10", 10 * DAY_US)
    assert "ev-day0" in ids and "ev-day10" in ids
    ids.advance(19 * DAY_US)
    assert "ev-day0" in ids
    ids.advance(20 * DAY_US)  # two windows after day 0, one after day 10
    assert "ev-day0" not in ids and "ev-day10" in ids
    assert len(ids) == 1


def test_without_a_window_nothing_is_forgotten() -> None:
    ids = seen(MemoryStore(), window_days=None)
    ids.add("ev-1", 0)
    ids.advance(10_000 * DAY_US)
    assert "ev-1" in ids


def test_generations_survive_a_restart_and_state_from_before_windows_reads_on(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    store.table("seen_events", JSON)["ev-old"] = 1  # written before windows existed: generation 0's table
    store.commit()
    store.close()
    store = RocksStore(tmp_path)
    ids = seen(store)
    assert "ev-old" in ids
    ids.add("ev-1", 0)
    ids.advance(10 * DAY_US)
    ids.add("ev-2", 10 * DAY_US)
    store.commit()
    store.close()
    store = RocksStore(tmp_path)
    ids = seen(store)
    assert all(key in ids for key in ("ev-old", "ev-1", "ev-2"))
    ids.advance(20 * DAY_US)  # forgets generation 0, the original table included
    store.commit()
    store.close()
    store = RocksStore(tmp_path)
    ids = seen(store)
    assert "ev-old" not in ids and "ev-1" not in ids and "ev-2" in ids
    assert list(store.table("seen_events", JSON).items()) == []
    store.close()


def run_replays(window: timedelta) -> list[list[str]]:
    """The same vendor event applied on day 0, replayed on day 5 and on day 30; output streams of each."""
    engine = Engine(EngineState(MemoryStore()), Settings(event_id_window=window))
    upsert = vendor(at="2026-01-01T00:00:00Z")
    streams = []
    for day in ("2026-01-01", "2026-01-06", "2026-01-31"):
        engine.advance_to(to_micros(datetime.fromisoformat(f"{day}T12:00:00+00:00")))
        before = upsert.event_id in engine.state.seen_events
        outputs = engine.process(upsert)
        streams.append([*(["seen"] if before else []), *(o.stream for o in outputs)])
    return streams


def test_a_replay_inside_the_window_changes_nothing_and_one_after_two_windows_is_applied_again() -> None:
    assert run_replays(timedelta(days=10)) == [[], ["seen"], []]  # day 30: forgotten, applied again (silently)
    assert run_replays(timedelta(days=90)) == [[], ["seen"], ["seen"]]


def test_a_bank_line_in_a_statement_re_sent_inside_its_window_is_booked_once() -> None:
    engine = Engine(EngineState(MemoryStore()), Settings(bank_entry_window=timedelta(days=30)))
    engine.process(settlement("2026-01-05T10:00:00Z", entry_id="STMT-1/1", e2e=None))
    again = settlement("2026-01-20T10:00:00Z", entry_id="STMT-1/1", e2e=None)  # same line, new event id
    assert engine.process(again) == []
    account = again.payload.account.key  # type: ignore[union-attr]
    assert f"{account}|STMT-1/1" in engine.state.seen_entries


def test_one_reference_on_two_accounts_is_two_lines_and_a_reference_remembered_alone_still_counts() -> None:
    engine = Engine(EngineState(MemoryStore()), Settings(bank_entry_window=timedelta(days=30)))
    # An internal transfer: the bank books its debit and its credit, on two of our accounts, under one reference.
    debit = settlement("2026-01-05T10:00:00Z", entry_id="TRF-7", e2e=None)
    credit = event("settlement.booked", "2026-01-05T10:00:01Z", {**debit.payload.model_dump(mode="json"),
                   "account": {"scheme": "iban", "id": OTHER_IBAN}, "credit_debit": "CRDT"})  # fmt: skip
    engine.process(debit)
    engine.process(credit)
    keys = [f"{e.payload.account.key}|TRF-7" for e in (debit, credit)]  # type: ignore[union-attr]
    assert keys[0] != keys[1] and all(key in engine.state.seen_entries for key in keys)  # both booked
    # A line remembered by its reference alone, as state written before the account was part of the key.
    engine.state.seen_entries.add("OLD-1", to_micros(datetime(2026, 1, 6, 10)))
    old = settlement("2026-01-06T10:00:00Z", entry_id="OLD-1", e2e=None)
    assert engine.process(old) == []
    assert f"{old.payload.account.key}|OLD-1" not in engine.state.seen_entries  # type: ignore[union-attr]


def test_a_lookup_answered_from_the_last_one_never_outlives_a_change(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state")
    ids = seen(store)
    assert "ev-1" not in ids and ids.digest_of("ev-1") is None  # asked twice: one read of the store
    store.journal.begin()
    ids.add("ev-1", 0, digest=6)
    assert "ev-1" in ids and ids.digest_of("ev-1") == 6
    store.journal.rollback()
    ids.reload()  # as EngineState.rollback does
    assert "ev-1" not in ids
    ids.add("ev-1", 0, digest=6)
    ids.advance(25 * DAY_US)  # forgotten two windows on
    assert ids.digest_of("ev-1") is None
    store.close()


@pytest.mark.parametrize("kind", ["memory", "rocksdb"])
def test_a_rolled_back_unit_that_dropped_generations_leaves_every_id_as_it_was(kind: str, tmp_path: Path) -> None:
    store: Store = MemoryStore() if kind == "memory" else RocksStore(tmp_path)
    ids = seen(store)
    ids.add("ev-day0", 0, 11)
    ids.advance(10 * DAY_US)
    ids.add("ev-day10", 10 * DAY_US, 12)
    store.commit()
    store.journal.begin()
    ids.add("ev-day15", 15 * DAY_US, 13)  # written before the drop in the same unit
    ids.advance(40 * DAY_US)  # event time jumped: both generations dropped
    ids.add("ev-day40", 40 * DAY_US, 14)
    assert [ids.digest_of(key) for key in ("ev-day0", "ev-day10", "ev-day15", "ev-day40")] == [None, None, None, 14]
    store.journal.rollback()
    ids.reload()
    assert [ids.digest_of(key) for key in ("ev-day0", "ev-day10", "ev-day15", "ev-day40")] == [11, 12, None, None]
    assert len(ids) == 2
    ids.advance(20 * DAY_US)  # the same generations drop as if the unit never came
    assert [ids.digest_of(key) for key in ("ev-day0", "ev-day10")] == [None, 12]
    store.close()
