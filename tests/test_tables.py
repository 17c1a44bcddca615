"""Both stores behave like dicts; only committed state survives a reopen; timers survive a restart."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from reconstream.models.errors import InvariantBroken
from reconstream.models.master_data import Vendor
from reconstream.tables import JSON, MemoryStore, ModelCodec, RocksStore, Store
from reconstream.tables.index import BUCKETS, SMALL_BUCKETS
from reconstream.tables.store import JsonCodec
from reconstream.tables.timers import TimerKind, TimerQueue


@pytest.fixture(params=["memory", "rocks"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else RocksStore(tmp_path / "state")


def test_dict_like_api(store: Store) -> None:
    table = store.table("vendors", ModelCodec(Vendor))
    vendor = Vendor(vendor_id="V1", name="Alder Supplies")
    table["V1"] = vendor
    assert table["V1"] == vendor and "V1" in table and table.get("V2") is None
    store.commit()
    assert table["V1"] == vendor
    del table["V1"]
    assert "V1" not in table
    with pytest.raises(KeyError):
        table["V1"]


def test_items_are_sorted_and_tables_do_not_leak_into_each_other(store: Store) -> None:
    a, ab = store.table("a", JSON), store.table("ab", JSON)
    a["y"], a["x"], ab["z"] = 2, 1, 3
    store.commit()
    a["w"] = 0
    assert list(a.items()) == [("w", 0), ("x", 1), ("y", 2)]
    assert list(ab.items()) == [("z", 3)]


def test_only_committed_writes_survive_a_reopen(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    table = store.table("t", JSON)
    table["kept"] = 1
    store.commit({"offset": 10})
    table["lost"] = 2
    del table["kept"]
    store.close()  # like a crash between checkpoints
    reopened = RocksStore(tmp_path)
    table = reopened.table("t", JSON)
    assert list(table.items()) == [("kept", 1)]
    assert reopened.checkpoint() == {"offset": 10}


def test_timers_survive_a_restart_and_fire_in_order(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    timers = TimerQueue(store)
    timers.schedule(300, TimerKind.ACK, "E3")
    timers.schedule(100, TimerKind.ACK, "E1")
    timers.schedule(200, TimerKind.SETTLEMENT, "E2")
    timers.cancel(TimerKind.SETTLEMENT, "E2")
    store.commit()
    store.close()
    reopened = RocksStore(tmp_path)
    timers = TimerQueue(reopened)
    assert [t.ref for t in timers.pop_due(250)] == ["E1"]
    assert timers.pop_due(300) == []  # strictly before the watermark
    assert [t.ref for t in timers.pop_due(301)] == ["E3"]


def test_rescheduled_timer_fires_once_at_the_new_deadline() -> None:
    timers = TimerQueue(MemoryStore())
    timers.schedule(100, TimerKind.ACK, "E1")
    timers.schedule(500, TimerKind.ACK, "E1")
    assert timers.pop_due(200) == []
    assert [t.deadline_us for t in timers.pop_due(600)] == [500]


def test_timer_kinds_are_stored_by_name_and_read_back_as_kinds(tmp_path: Path) -> None:
    """The state holds a timer under "<kind>|<ref>": the kind's plain name, as every earlier version wrote it."""
    store = RocksStore(tmp_path)
    TimerQueue(store).schedule(100, TimerKind.POSTING_HOLD, "S1")
    store.table("timers", JSON)["unmatched_expiry|S2"] = 50  # a row as written before the kinds were an enum
    store.commit()
    assert dict(store.table("timers", JSON).items()) == {"posting_hold|S1": 100, "unmatched_expiry|S2": 50}
    store.close()
    due = TimerQueue(RocksStore(tmp_path)).pop_due(200)
    assert [(t.kind, t.ref) for t in due] == [(TimerKind.UNMATCHED_EXPIRY, "S2"), (TimerKind.POSTING_HOLD, "S1")]
    assert all(type(t.kind) is TimerKind for t in due)


def test_a_restore_into_a_store_with_open_tables_is_refused(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    store.table("invoices", JSON)
    with pytest.raises(InvariantBroken, match="tables are open already"):
        store.restore([], {"changelog_offset": 0})
    store.close()


def test_pending_changes_replayed_into_a_fresh_store_give_the_same_tables(tmp_path: Path) -> None:
    """What the Kafka worker ships to its changelog restores a partition on another machine."""
    source = RocksStore(tmp_path / "source")
    table = source.table("invoices", JSON)
    table["AP-1"], table["AP-2"] = {"stage": "booked"}, {"stage": "paid"}
    del table["AP-2"]
    changes = source.pending_changes()
    source.commit()
    replica = RocksStore(tmp_path / "replica")
    replica.restore(changes, {"changelog_offset": 3})
    assert dict(replica.table("invoices", JSON).items()) == {"AP-1": {"stage": "booked"}}
    assert replica.checkpoint() == {"changelog_offset": 3}
    source.close()
    replica.close()


class CountingCodec(JsonCodec):
    """The JSON codec, counting what it encodes."""

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, value: Any) -> bytes:
        self.encoded += 1
        return super().encode(value)


def test_a_change_shipped_to_the_changelog_is_encoded_once_for_both_the_changelog_and_the_store(
    tmp_path: Path,
) -> None:
    store = RocksStore(tmp_path)
    codec = CountingCodec()
    table = store.table("invoices", codec)
    table["AP-1"] = {"stage": "validated"}
    table["AP-1"] = {"stage": "booked"}  # overwritten before the changelog reads it: one value, one encoding
    table["AP-2"] = {"stage": "paid"}
    changes = store.pending_changes()
    store.commit()
    assert codec.encoded == 2
    assert sorted(changes) == [(b"invoices\x00AP-1", b'{"stage":"booked"}'), (b"invoices\x00AP-2", b'{"stage":"paid"}')]
    table["AP-2"] = {"stage": "returned"}  # changed after a commit: encoded anew, never the old bytes
    store.pending_changes()
    store.commit()
    assert codec.encoded == 3
    store.close()
    reopened = RocksStore(tmp_path)
    assert reopened.table("invoices", JSON).get("AP-2") == {"stage": "returned"}
    reopened.close()


@pytest.mark.parametrize(
    "encode",
    [JSON.encode, SMALL_BUCKETS.encode, BUCKETS.encode],
    ids=["json", "duplicate-index bucket", "payment-index bucket"],
)
def test_an_encoding_kept_takes_about_its_own_size(encode: Any) -> None:
    # orjson hands back its ~4 KB write buffer as the bytes; kept in a table or a pending commit that was
    # 390 MB for 100,000 small records. The codecs copy it into an allocation of its own size.
    values = [{f"AP-{n:08d}": n} if encode is BUCKETS.encode else [f"AP-{n:08d}", "200.28"] for n in range(2_000)]
    tracemalloc.start()
    try:
        kept = [encode(value) for value in values]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2_000 * 200, f"{held / len(kept):.0f} bytes an encoding of {len(kept[0])} bytes"
