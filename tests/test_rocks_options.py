"""A state dir written with the RocksDB options of before (Snappy, 16 MiB memtables, no memtable filter) opens
with today's and reads on: compression is recorded per file, and the memtable filter is built as it fills."""

from __future__ import annotations

from pathlib import Path

from reconstream.tables import JSON, RocksStore
from rocksdict import DBCompressionType, Options, Rdict, WriteBatch


def written_with_the_options_before(path: Path, rows: dict[str, int]) -> None:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(16 * 1024 * 1024)
    options.set_compression_type(DBCompressionType.snappy())
    db = Rdict(str(path), options)
    batch = WriteBatch(raw_mode=True)
    for key, value in rows.items():
        batch.put(b"invoice_index\x00" + key.encode(), JSON.encode(value))
    db.write(batch)
    db.flush()  # into a file of its own, compressed with Snappy, as a closed state dir has them
    db.close()


def test_a_state_dir_of_before_reads_writes_and_reopens(tmp_path: Path) -> None:
    rows = {f"dup:N|V{n % 7}|INV{n}": n for n in range(5_000)}
    written_with_the_options_before(tmp_path / "state", rows)

    store = RocksStore(tmp_path / "state")
    index = store.table("invoice_index", JSON)
    assert all(index.get(key) == value for key, value in rows.items())
    assert index.get("dup:N|V1|INV-never") is None
    index["dup:N|V1|INV-new"] = -1
    del index["dup:N|V0|INV0"]
    store.commit()
    store.close()

    reopened = RocksStore(tmp_path / "state")
    index = reopened.table("invoice_index", JSON)
    expected = {key: value for key, value in rows.items() if key != "dup:N|V0|INV0"} | {"dup:N|V1|INV-new": -1}
    assert dict(index.items()) == expected
    reopened.close()
