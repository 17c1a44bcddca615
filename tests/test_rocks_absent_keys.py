"""RocksDB state remembers, until its next commit, which keys it was asked for and does not hold: a second
read of a missing key costs no lookup, and nothing written, committed or rolled back is ever hidden."""

from __future__ import annotations

import tempfile
from pathlib import Path

from dict_model import visible
from hypothesis import given, settings
from hypothesis import strategies as st
from reconstream.tables import JSON, RocksStore

KEYS = [f"dup:N|V{n % 3}|INV{n}" for n in range(8)]
OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["put", "delete", "commit", "rolled back put", "reopen"]), st.sampled_from(KEYS)),
    max_size=40,
)


def test_a_missing_key_stays_missing_only_until_it_is_written(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state")
    table = store.table("invoice_index", JSON)
    assert table.get("dup:N|V1|INV1") is None and "dup:N|V1|INV1" not in table
    store.journal.begin()
    table["dup:N|V1|INV1"] = ["I1"]
    assert table.get("dup:N|V1|INV1") == ["I1"]
    store.journal.rollback()
    assert table.get("dup:N|V1|INV1") is None  # rolled back: missing again
    table["dup:N|V1|INV1"] = ["I1"]
    store.commit()
    assert table.get("dup:N|V1|INV1") == ["I1"]
    store.close()

    reopened = RocksStore(tmp_path / "state")
    assert reopened.table("invoice_index", JSON).get("dup:N|V1|INV1") == ["I1"]
    reopened.close()


def test_a_key_deleted_and_committed_reads_as_missing(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state")
    table = store.table("meta", JSON)
    table["k"] = 1
    store.commit()
    del table["k"]
    store.commit()
    assert table.get("k") is None and table.get("k", 7) == 7
    store.close()


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_the_table_reads_as_a_dict_would_through_commits_rollbacks_and_reopens(
    operations: list[tuple[str, str]],
) -> None:
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
                committed = visible(committed, pending)
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
            expected = visible(committed, pending)
            assert {key: table.get(key) for key in KEYS} == {key: expected.get(key) for key in KEYS}
        store.close()
