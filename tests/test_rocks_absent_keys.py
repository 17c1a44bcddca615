"""RocksDB state remembers, until its next commit, which keys it was asked for and does not hold: a second
read of a missing key costs no lookup, and nothing written, committed or rolled back is ever hidden."""

from __future__ import annotations

from pathlib import Path

from reconstream.tables import JSON, RocksStore


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
