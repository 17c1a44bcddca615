"""RocksDB state keeps a record's captured document under a key of its own, written only when it changed:
the record reads back whole through commits, rollbacks, reopens, evictions from the decoded cache and a
restore from the changelog, and state written in the layout of before still reads and moves over. Closed
records (`held_encoded`) are cached as their encoding, compressed when large, and read the same."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from dict_model import visible
from hypothesis import given, settings
from hypothesis import strategies as st
from reconstream.models.base import Record
from reconstream.tables import RocksStore
from reconstream.tables.store import DocumentCodec, ModelCodec


class Paper(Record):
    number: str
    amount: Decimal
    memo: str | None = None


class Filing(Record):
    paper: Paper
    stage: str
    posted_as: str | None = None


CODEC = DocumentCodec(Filing, "paper")
KEYS = ["AP-1", "AP-2", "AP-3", "AP-4"]


def filed(number: str, stage: str = "validated", memo: str | None = None) -> Filing:
    return Filing(paper=Paper(number=number, amount=Decimal("1250.50"), memo=memo), stage=stage)


def closed(filing: Filing) -> bool:
    return filing.stage.startswith("closed")


def document_writes(changes: list[tuple[bytes, bytes | None]]) -> list[bytes]:
    return [key for key, value in changes if key.startswith(b"filings#document\x00") and value is not None]


def test_a_document_is_written_at_its_first_commit_and_again_only_when_it_changes(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    table = store.table("filings", CODEC)
    table["AP-1"] = filed("INV-1")
    first = store.pending_changes()
    store.commit()
    table["AP-1"] = table["AP-1"].model_copy(update={"stage": "booked", "posted_as": "5100000001"})
    second = store.pending_changes()
    store.commit()
    corrected = table["AP-1"].paper.model_copy(update={"memo": "credit note 7"})
    table["AP-1"] = table["AP-1"].model_copy(update={"paper": corrected})
    third = store.pending_changes()
    store.commit()
    assert document_writes(first) == [b"filings#document\x00AP-1"]
    assert document_writes(second) == []  # a stage changed, the document did not: the record's rest only
    assert document_writes(third) == [b"filings#document\x00AP-1"]
    rest = dict(second)[b"filings\x00AP-1"]
    assert rest is not None and b"INV-1" not in rest
    store.close()

    reopened = RocksStore(tmp_path).table("filings", CODEC)
    expected = Filing(
        paper=Paper(number="INV-1", amount=Decimal("1250.50"), memo="credit note 7"),
        stage="booked",
        posted_as="5100000001",
    )
    assert reopened.get("AP-1") == expected and dict(reopened.items()) == {"AP-1": expected}


def test_a_key_the_cache_let_go_writes_its_document_again(tmp_path: Path) -> None:
    store = RocksStore(tmp_path, cache_size=2)
    table = store.table("filings", CODEC)
    table["AP-1"], table["AP-2"], table["AP-3"] = filed("INV-1"), filed("INV-2"), filed("INV-3")
    store.commit()  # three values through a cache of two: AP-1 is let go
    table["AP-1"] = filed("INV-1", "approved")
    changes = store.pending_changes()
    store.commit()
    assert document_writes(changes) == [b"filings#document\x00AP-1"]
    assert table["AP-1"] == filed("INV-1", "approved")
    store.close()


def test_a_deleted_record_takes_its_document_with_it(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    table = store.table("filings", CODEC)
    table["AP-1"] = filed("INV-1")
    store.commit()
    del table["AP-1"]
    changes = store.pending_changes()
    store.commit()
    assert changes == [(b"filings\x00AP-1", None), (b"filings#document\x00AP-1", None)]
    table["AP-1"] = filed("INV-9")  # the same key filed anew: its new document is written
    store.commit()
    store.close()
    assert RocksStore(tmp_path).table("filings", CODEC)["AP-1"] == filed("INV-9")


def test_records_written_whole_before_read_whole_and_move_to_the_new_layout_at_their_next_change(
    tmp_path: Path,
) -> None:
    before = RocksStore(tmp_path)
    table = before.table("filings", ModelCodec(Filing))  # the layout of before: the document inside
    table["AP-1"], table["AP-2"] = filed("INV-1"), filed("INV-2")
    before.commit()
    before.close()

    store = RocksStore(tmp_path)
    table = store.table("filings", CODEC)
    assert table["AP-1"] == filed("INV-1")
    table["AP-1"] = table["AP-1"].model_copy(update={"stage": "paid"})  # the same document object
    changes = store.pending_changes()
    store.commit()
    assert document_writes(changes) == [b"filings#document\x00AP-1"]  # moved over at its change
    store.close()

    reopened = RocksStore(tmp_path).table("filings", CODEC)
    assert dict(reopened.items()) == {"AP-1": filed("INV-1", "paid"), "AP-2": filed("INV-2")}


def test_a_rolled_back_change_writes_nothing_of_its_document(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    table = store.table("filings", CODEC)
    table["AP-1"] = filed("INV-1")
    store.commit()
    store.journal.begin()
    table["AP-1"] = filed("INV-7", "booked")
    store.journal.rollback()
    assert store.pending_changes() == []
    store.commit()
    assert table["AP-1"] == filed("INV-1")
    store.close()


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["file", "file closed", "step", "close", "delete", "commit", "rolled back file", "reopen"]),
        st.sampled_from(KEYS),
    ),
    max_size=40,
)


@pytest.mark.parametrize("held_encoded", [None, closed], ids=["every record decoded", "closed ones held encoded"])
@settings(max_examples=80, deadline=None)
@given(OPERATIONS)
def test_records_read_as_a_dict_would_and_the_changelog_restores_the_same(
    held_encoded: Callable[[Filing], bool] | None, operations: list[tuple[str, str]]
) -> None:
    committed: dict[str, Filing] = {}
    pending: dict[str, Filing | None] = {}
    expected: dict[str, Filing] = {}
    changelog: list[tuple[bytes, bytes | None]] = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "state"
        store = RocksStore(path, cache_size=2)  # small enough that the cache lets keys go between their changes
        table = store.table("filings", CODEC, held_encoded)
        for step, (operation, key) in enumerate(operations):
            current = table.get(key)
            if operation == "file":  # a new document
                table[key] = pending[key] = filed(f"INV-{step}")
            elif operation == "file closed":  # closed at once, and large enough to be held compressed
                table[key] = pending[key] = filed(
                    f"INV-{step}", stage=f"closed {step}", memo=f"remittance advice {step} " * 20
                )
            elif operation == "step" and current is not None:  # the same document object, a new stage
                table[key] = pending[key] = current.model_copy(update={"stage": f"stage {step}"})
            elif operation == "close" and current is not None:  # paid: cached as its encoding from here on
                table[key] = pending[key] = current.model_copy(update={"stage": f"closed {step}"})
            elif operation == "delete" and current is not None:
                del table[key]
                pending[key] = None
            elif operation == "commit":
                changelog.extend(store.pending_changes())
                store.commit()
                committed = visible(committed, pending)
                pending.clear()
            elif operation == "rolled back file":
                store.journal.begin()
                table[key] = filed("INV-rolled-back")
                store.journal.rollback()
            elif operation == "reopen":
                store.close()
                pending.clear()
                store = RocksStore(path, cache_size=2)
                table = store.table("filings", CODEC, held_encoded)
            expected = visible(committed, pending)
            assert {k: table.get(k) for k in KEYS} == {k: expected.get(k) for k in KEYS}
        assert dict(table.items()) == expected
        store.close()

        replica = RocksStore(Path(directory) / "replica")
        replica.restore(changelog, {"changelog_offset": len(changelog)})
        assert dict(replica.table("filings", CODEC, held_encoded).items()) == committed
        replica.close()


class Wrapped(Record):
    paper: Paper
    note: str | None = None


def test_a_record_that_is_all_document_reads_back(tmp_path: Path) -> None:
    store = RocksStore(tmp_path)
    table = store.table("wrapped", DocumentCodec(Wrapped, "paper"))
    table["AP-1"] = Wrapped(paper=Paper(number="INV-1", amount=Decimal("0.10")))  # the rest encodes as {}
    store.commit()
    store.close()
    assert RocksStore(tmp_path).table("wrapped", DocumentCodec(Wrapped, "paper"))["AP-1"].paper.number == "INV-1"


def test_a_closed_record_reads_back_from_its_held_encoding_and_writes_its_document_again_when_it_changes(
    tmp_path: Path,
) -> None:
    store = RocksStore(tmp_path)
    table = store.table("filings", CODEC, closed)
    paid = filed("INV-1", stage="closed paid", memo="remittance advice " * 20)
    table["AP-1"] = paid
    store.commit()
    first, second = table["AP-1"], table["AP-1"]
    assert first == second == paid
    assert first is not second  # decoded from the cache's encoding at each read, as in memory
    # A closed record's cache entry says nothing of which document object it had: written again, and right.
    table["AP-1"] = first.model_copy(update={"stage": "reopened"})
    assert document_writes(store.pending_changes()) == [b"filings#document\x00AP-1"]
    store.commit()
    store.close()
    assert RocksStore(tmp_path).table("filings", CODEC, closed)["AP-1"] == paid.model_copy(update={"stage": "reopened"})
