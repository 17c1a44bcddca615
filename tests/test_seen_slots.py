"""Applied ids held as 24-byte slots answer, are deleted and roll back like the dict of ids they stand for,
in under a third of its memory; the engine decides the same with them as with RocksDB's ids. Dropping a
generation of them, and its rollback, is tested with `SeenIds` (test_seen_ids.py)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from factories import paid_invoice_flow
from hypothesis import given, settings
from hypothesis import strategies as st
from reconstream.streams import Engine
from reconstream.tables import MemoryStore, RocksStore
from reconstream.tables.seen_slots import SeenSlotTable
from reconstream.tables.state import EngineState

ids = st.text(min_size=0, max_size=12)
numbers = st.integers(min_value=0, max_value=2**64 - 1)
operation = st.one_of(
    st.tuples(st.just("set"), ids, numbers),
    st.tuples(st.just("del"), ids, st.just(0)),
    st.tuples(st.sampled_from(["begin", "rollback", "end"]), st.just(""), st.just(0)),
)


@settings(max_examples=300)
@given(st.lists(operation, max_size=80))
def test_it_answers_as_a_dict_of_ids_through_writes_deletes_and_rollbacks(
    operations: list[tuple[str, str, int]],
) -> None:
    # Two buckets: most writes land beside others, deletes take slots out of the middle of a bucket.
    journal = MemoryStore().journal
    table = SeenSlotTable("seen_events", journal, buckets=2)
    expected: dict[str, int] = {}
    before_unit: dict[str, int] = {}
    for kind, key, number in operations:
        if kind == "set":
            table[key] = expected[key] = number
        elif kind == "del" and key in expected:
            del table[key]
            del expected[key]
        elif kind == "del":
            with pytest.raises(KeyError):
                del table[key]
        elif kind == "begin":
            journal.begin()
            before_unit = dict(expected)
        elif kind == "rollback" and journal.active:
            journal.rollback()
            expected = before_unit
        elif kind == "end":
            journal.end()
        for seen in {key for _, key, _ in operations}:
            assert table.get(seen) == expected.get(seen)
            assert (seen in table) == (seen in expected)
        assert len(table) == len(expected) == len(table.held())


def test_it_refuses_what_is_not_an_unsigned_64_bit_number_and_a_listing() -> None:
    table = SeenSlotTable("seen_events", MemoryStore().journal)
    with pytest.raises(OverflowError):
        table["ev-1"] = 2**64
    with pytest.raises(OverflowError):
        table["ev-1"] = -1
    assert "ev-1" not in table and len(table) == 0
    with pytest.raises(TypeError, match="never listed"):
        table.items()
    with pytest.raises(ValueError, match="power of two"):
        SeenSlotTable("seen_events", MemoryStore().journal, buckets=1000)


def test_a_digest_found_across_two_slots_is_no_match() -> None:
    # 16 bytes spanning one slot's number and the next slot's digest: about never by chance, so built here.
    digest = bytes(range(16))
    across = b"\xaa" * 16 + digest[:8] + digest[8:] + b"\xbb" * 8 + b"\xcc" * 8
    assert SeenSlotTable._slot(bytearray(across), digest) == -1
    assert SeenSlotTable._slot(bytearray(across + digest + b"\x01" * 8), digest) == 48


def test_ids_take_under_a_third_of_what_a_dict_of_them_does() -> None:
    count = 100_000
    table = SeenSlotTable("seen_events", MemoryStore().journal)
    as_dict: dict[str, int] = {}
    for n in range(count):
        key = f"ap-coupa-2026-11-30-{n:09d}"  # an event id's usual length
        number = (n * 0x9E3779B97F4A7C15) % 2**64 | 2
        table[key] = as_dict[key] = number
    slots = sys.getsizeof(table._buckets) + sum(sys.getsizeof(bucket) for bucket in table._buckets)
    in_dict = sys.getsizeof(as_dict) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in as_dict.items())
    # 24 bytes a slot, what a bytearray allots ahead, and 16,384 bytearrays (27 bytes an id at a million)
    assert slots / count <= 40
    assert slots * 3 < in_dict
    assert all(table.get(key) == number for key, number in as_dict.items())


def test_the_engine_decides_replays_the_same_with_slots_as_with_rocksdb(tmp_path: Path) -> None:
    flow = paid_invoice_flow()
    altered = flow[1].model_copy(update={"event_time": flow[1].event_time + timedelta(hours=1)})
    decided = []
    for store in (MemoryStore(), RocksStore(tmp_path)):
        engine = Engine(EngineState(store))
        outputs = [engine.process(event) for event in [*flow, *flow, altered]]
        decided.append([[(o.stream, o.record.model_dump_json()) for o in batch] for batch in outputs])
        assert len(engine.state.seen_events) == len(flow)
        store.close()
    assert decided[0] == decided[1]
    assert any(decided[0][: len(flow)])
    assert decided[0][len(flow) : 2 * len(flow)] == [[]] * len(flow)  # a replay changes nothing, emits nothing
    assert "exceptions" in {stream for stream, _ in decided[0][-1]}  # the same id saying something else
