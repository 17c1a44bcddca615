"""An index held in memory under digests of its keys reads, writes, rolls back and refuses a listing like
the index it stands for, and is smaller; the engine finds the same duplicates with it as with RocksDB."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from factories import invoice, record_of, vendor
from hypothesis import given
from hypothesis import strategies as st
from reconstream.models.exceptions import Category, ReconException
from reconstream.models.outputs import OutputStream
from reconstream.streams import Engine
from reconstream.tables import JSON, MemoryStore, RocksStore, Store
from reconstream.tables.index import SMALL_BUCKETS, file_under, filed_under, unfile
from reconstream.tables.memory import DigestKeyedTable, MemoryTable
from reconstream.tables.state import EngineState

keys = st.text(min_size=0, max_size=60)


@given(st.lists(st.tuples(st.sampled_from(["set", "del"]), keys, st.integers()), max_size=40))
def test_it_answers_every_lookup_as_a_dict_of_its_keys_would(operations: list[tuple[str, str, int]]) -> None:
    table: DigestKeyedTable[int] = DigestKeyedTable("index", MemoryStore().journal)
    expected: dict[str, int] = {}
    for operation, key, value in operations:
        if operation == "set":
            table[key] = expected[key] = value
        elif key in expected:
            del table[key]
            del expected[key]
        else:
            with pytest.raises(KeyError):
                del table[key]
    for _, key, _ in operations:
        assert (key in table) == (key in expected)
        assert table.get(key) == expected.get(key)
        if key in expected:
            assert table[key] == expected[key]
    assert len(table) == len(expected)


def test_a_rollback_puts_back_what_each_key_held() -> None:
    store: Store = MemoryStore()
    index = store.table("invoice_index", SMALL_BUCKETS, listed=False)
    file_under(index, ["dup:N|V1|INV1", "dup:A|V1|100.00"], "I1")
    store.journal.begin()
    file_under(index, ["dup:N|V1|INV1"], "I2")
    unfile(index, ["dup:A|V1|100.00"], "I1")
    store.journal.rollback()
    assert filed_under(index, "dup:N|V1|INV1") == ("I1",)
    assert filed_under(index, "dup:A|V1|100.00") == ("I1",)


def test_it_refuses_a_listing_rather_than_give_digests_for_keys() -> None:
    index = MemoryStore().table("returns_index", JSON, listed=False)
    index["e2e:PMT-1"] = ["E1"]
    with pytest.raises(TypeError, match="never listed"):
        list(index.items())


def test_it_holds_two_thousand_blocking_keys_in_under_three_quarters_of_the_memory() -> None:
    def held(table: MemoryTable[str]) -> int:
        tracemalloc.start()
        try:
            for n in range(2_000):
                table[f"dup:A|B:DE1950010517682503{n:04d}|EUR|{n}.67"] = "AP-00000001"
            return tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()

    journal = MemoryStore().journal
    assert held(DigestKeyedTable("index", journal)) * 4 < held(MemoryTable("index", journal)) * 3


def test_the_engine_finds_the_same_duplicates_with_digests_in_memory_as_with_keys_in_rocksdb(tmp_path: Path) -> None:
    events = [
        vendor(),
        invoice(invoice_id="I1", number="INV-2026-001", net="1000.00", tax="190.00"),
        invoice(invoice_id="I2", number="INV2026001", net="1000.00", tax="190.00"),  # the number written otherwise
        invoice(invoice_id="I3", number="INV-2026-002", net="500.00", tax="95.00"),
        invoice(invoice_id="I4", number="INV-2026-001", net="1000.00", tax="190.00"),  # an exact repeat
    ]
    found = []
    for store in (MemoryStore(), RocksStore(tmp_path / "state")):
        engine = Engine(EngineState(store))
        outputs = [output for event in events for output in engine.process(event, source="test")]
        raised = [record_of(ReconException, o.record) for o in outputs if o.stream is OutputStream.EXCEPTIONS]
        found.append([(e.category, e.refs) for e in raised])
        store.close()
    assert found[0] == found[1]
    assert [(category, refs[0]) for category, refs in found[0]] == [
        (Category.DUPLICATE_INVOICE, "I2"),
        (Category.DUPLICATE_INVOICE, "I4"),
    ], found[0]
