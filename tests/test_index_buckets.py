"""The payment index's buckets change in place (O(1) however many open items a counterparty has), yet a
rolled-back event leaves each bucket exactly as it was, order included, and a store keeps them as the
JSON lists it kept before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from reconstream.tables import MemoryStore
from reconstream.tables.index import BUCKETS, SMALL_BUCKETS, enter, file_under, filed_under, unfile, withdraw
from reconstream.tables.rocks import RocksStore

StoreFactory = Callable[[], Any]


@pytest.fixture(params=["memory", "rocksdict"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    opened = MemoryStore() if request.param == "memory" else RocksStore(tmp_path / "state")
    yield opened
    opened.close()


def contents(index: Any) -> dict[str, list[str]]:
    return {key: list(bucket) for key, bucket in index.items()}


def test_refs_keep_their_filing_order_and_a_ref_is_filed_once(store: Any) -> None:
    index = store.table("payment_index", BUCKETS)
    for ref in ("v:I1", "v:I2", "v:I3", "v:I2"):
        enter(index, ["iban:DE1", "name:ACME"], ref)
    withdraw(index, ["iban:DE1"], "v:I2")
    enter(index, ["iban:DE1"], "v:I2")
    assert contents(index) == {"iban:DE1": ["v:I1", "v:I3", "v:I2"], "name:ACME": ["v:I1", "v:I2", "v:I3"]}
    withdraw(index, ["iban:DE1", "name:ACME"], "v:I9")  # never filed: nothing happens
    for ref in ("v:I1", "v:I2", "v:I3"):
        withdraw(index, ["name:ACME"], ref)
    assert "name:ACME" not in index  # an emptied bucket goes


def test_a_rollback_restores_every_bucket_as_it_was(store: Any) -> None:
    index = store.table("payment_index", BUCKETS)
    for ref in ("v:I1", "v:I2", "v:I3", "v:I4"):
        enter(index, ["iban:DE1"], ref)
    enter(index, ["rf:RF18"], "v:I5")
    store.commit()
    before = contents(index)

    store.journal.begin()
    withdraw(index, ["iban:DE1"], "v:I2")  # from the middle
    withdraw(index, ["iban:DE1"], "v:I4")  # the last
    enter(index, ["iban:DE1"], "v:I6")
    withdraw(index, ["iban:DE1"], "v:I1")  # the first
    withdraw(index, ["rf:RF18"], "v:I5")  # emptied: the key goes...
    enter(index, ["rf:RF18"], "v:I7")  # ...and comes back as a new bucket
    enter(index, ["num:42"], "v:I6")  # a key new in this unit
    assert contents(index) == {"iban:DE1": ["v:I3", "v:I6"], "num:42": ["v:I6"], "rf:RF18": ["v:I7"]}
    store.journal.rollback()

    assert contents(index) == before
    enter(index, ["iban:DE1"], "v:I8")  # filing goes on after the restored order
    assert list(index.get("iban:DE1") or {}) == ["v:I1", "v:I2", "v:I3", "v:I4", "v:I8"]


def test_a_kept_unit_is_what_a_store_commits(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state")
    index = store.table("payment_index", BUCKETS)
    store.journal.begin()
    for ref in ("v:I1", "v:I2", "v:I3"):
        enter(index, ["iban:DE1"], ref)
    store.journal.end()
    store.commit()
    store.journal.begin()
    withdraw(index, ["iban:DE1"], "v:I2")
    store.journal.end()
    changes = dict(store.pending_changes())
    store.commit()
    store.close()
    value = changes[b"payment_index\x00iban:DE1"]
    assert value is not None and orjson.loads(value) == ["v:I1", "v:I3"]  # a changelog's value

    reopened = RocksStore(tmp_path / "state")
    assert list(reopened.table("payment_index", BUCKETS)["iban:DE1"]) == ["v:I1", "v:I3"]
    reopened.close()


def test_buckets_are_stored_as_the_json_lists_of_refs_an_earlier_version_wrote() -> None:
    written_before = orjson.dumps(["v:I1", "i:E2E-7", "v:I3"])  # the index's value before buckets were dicts
    bucket = BUCKETS.decode(written_before)
    assert list(bucket) == ["v:I1", "i:E2E-7", "v:I3"]
    assert BUCKETS.encode(bucket) == written_before


def test_a_duplicate_index_bucket_of_one_is_its_ref_and_is_stored_as_a_list(store: Any) -> None:
    index = store.table("invoice_index", SMALL_BUCKETS)
    file_under(index, ["dup:N|V1|INV1"], "I1")
    assert index.get("dup:N|V1|INV1") == "I1"  # no list around a lone ref
    file_under(index, ["dup:N|V1|INV1"], "I2")
    file_under(index, ["dup:N|V1|INV1"], "I2")
    assert list(filed_under(index, "dup:N|V1|INV1")) == ["I1", "I2"]
    unfile(index, ["dup:N|V1|INV1"], "I1")
    assert list(filed_under(index, "dup:N|V1|INV1")) == ["I2"]
    assert filed_under(index, "dup:nothing") == ()
    assert SMALL_BUCKETS.encode("I1") == b'["I1"]' and SMALL_BUCKETS.decode(b'["I1"]') == "I1"
    assert SMALL_BUCKETS.decode(b'["I1","I2"]') == ["I1", "I2"]
