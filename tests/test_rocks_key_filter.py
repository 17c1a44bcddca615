"""RocksDB state answers lookups of absent keys from a filter of its keys kept in the process: it must never
hide a key the table holds, through writes, deletes, commits, rollbacks, reopens and the filter's renewal."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from reconstream.tables import JSON, RocksStore
from reconstream.tables.rocks import RocksTable

KEYS = [f"dup:N|V{n % 3}|INV{n}" for n in range(8)]
OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["put", "delete", "commit", "rolled back put", "reopen"]), st.sampled_from(KEYS)),
    max_size=40,
)


class CountedLookups:
    """The real database, with its point lookups counted."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.gets = 0

    def get(self, key: bytes) -> Any:
        self.gets += 1
        return self._db.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_the_table_reads_as_a_dict_would_whatever_the_filter_holds(operations: list[tuple[str, str]]) -> None:
    committed: dict[str, int] = {}
    pending: dict[str, int | None] = {}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "state"
        store = RocksStore(path)
        table = store.table("invoice_index", JSON)
        for step, (operation, key) in enumerate(operations):
            if operation == "put":
                table[key] = pending[key] = step
            elif operation == "delete":
                if table.get(key) is not None:
                    del table[key]
                    pending[key] = None
            elif operation == "commit":
                store.commit()
                committed = {k: v for k, v in {**committed, **pending}.items() if v is not None}
                pending.clear()
            elif operation == "rolled back put":
                store.journal.begin()
                table[key] = -1
                store.journal.rollback()
            else:
                store.close()
                pending.clear()
                store = RocksStore(path)
                table = store.table("invoice_index", JSON)
            expected = {k: v for k, v in {**committed, **pending}.items() if v is not None}
            assert {key: table.get(key) for key in KEYS} == {key: expected.get(key) for key in KEYS}
        store.close()


def test_an_absent_key_costs_no_database_lookup(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state")
    table = store.table("seen_events", JSON)
    table["evt-1"] = True
    store.commit()
    counted = CountedLookups(table._db)
    table._db = counted
    assert all(table.get(f"evt-{n}") is None for n in range(2, 10_002))
    assert counted.gets < 300  # the filter's false maybes, about 1 %
    table._cache.clear()
    assert table.get("evt-1") is True and counted.gets >= 1  # a key it holds is read from the database
    store.close()


def test_keys_written_before_a_restart_are_found_after_it(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state")
    table = store.table("payment_index", JSON)
    for n in range(5_000):
        table[f"iban:{n}"] = [n]
    store.commit()
    store.close()
    reopened = RocksStore(tmp_path / "state")
    table = reopened.table("payment_index", JSON)
    assert all(table.get(f"iban:{n}") == [n] for n in range(5_000))
    reopened.close()


def test_a_filter_mostly_of_deleted_keys_is_built_anew_and_still_finds_the_live_ones(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state")
    timers: RocksTable[Any] = store.table("timers", JSON)
    for n in range(150_000):
        timers[f"timer:{n}"] = n
    store.commit()
    worn_size = timers._keys.size_bytes
    for n in range(1_000, 150_000):
        del timers[f"timer:{n}"]  # fired
    store.commit()
    assert timers._keys.live == 1_000 and timers._keys.stale == 0  # built again from the 1,000 left
    assert timers._keys.size_bytes < worn_size
    assert all(timers.get(f"timer:{n}") == n for n in range(1_000))
    assert timers.get("timer:2000") is None
    store.close()
