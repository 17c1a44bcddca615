"""Index tables: a blocking key to the ids of the documents filed under it, in filing order.

Two kinds of bucket. The duplicate index's buckets hold a few invoices each (nine keys in ten hold one)
and are replaced, never changed in place (a table holds values a store may still encode); a bucket of
one is the ref itself, not a list around it, which is a third of the index's memory.

The payment index's buckets hold a counterparty's open items, hundreds for a large supplier at month-end,
filed and unfiled as invoices are booked and paid: copying such a bucket for each change made an
invoice's cost grow with the ledger. They are ordered dicts (ref -> filing number) changed in place in
O(1), each change noting its undo with the journal, and stored as the plain list of refs they were before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from operator import itemgetter

import orjson

from .store import Table, dumps

Bucket = dict[str, int]  # ref -> its filing number within the bucket: iteration is filing order


SmallBucket = str | list[str]  # one ref, or two and more in filing order


def filed_under(index: Table[SmallBucket], key: str) -> Sequence[str]:
    """The refs filed under a key, in filing order."""
    refs = index.get(key)
    return () if refs is None else (refs,) if type(refs) is str else refs


def file_under(index: Table[SmallBucket], keys: Iterable[str], ref: str) -> None:
    for key in keys:
        refs = filed_under(index, key)
        if not refs:
            index[key] = ref
        elif ref not in refs:
            index[key] = [*refs, ref]


def unfile(index: Table[SmallBucket], keys: Iterable[str], ref: str) -> None:
    for key in keys:
        refs = filed_under(index, key)
        if ref not in refs:
            continue
        if len(refs) == 1:
            del index[key]
        else:
            left = [other for other in refs if other != ref]  # a new bucket: the stored one is left as it was
            index[key] = left[0] if len(left) == 1 else left


def enter(index: Table[Bucket], keys: Iterable[str], ref: str) -> None:
    """File `ref` last in each key's bucket, in place."""
    for key in keys:
        bucket = index.get(key)
        if bucket is None:
            index[key] = {ref: 0}
        elif ref not in bucket:
            index[key] = bucket  # the same bucket, written: a store encodes it at its next commit
            bucket[ref] = next(reversed(bucket.values()), -1) + 1
            if index.journal.active:
                index.journal.undo(partial(bucket.pop, ref))


def withdraw(index: Table[Bucket], keys: Iterable[str], ref: str) -> None:
    """Take `ref` out of each key's bucket, in place; a bucket left empty goes."""
    for key in keys:
        bucket = index.get(key)
        if bucket is None or ref not in bucket:
            continue
        if len(bucket) == 1:
            del index[key]  # the journal keeps the bucket itself, unchanged, as the key's prior
            continue
        index[key] = bucket
        number = bucket.pop(ref)
        if index.journal.active:
            index.journal.undo(partial(_refile, bucket, ref, number))


def _refile(bucket: Bucket, ref: str, number: int) -> None:
    """A rollback puts a ref back where it was: at the end it is there already, else the bucket is re-sorted."""
    last = next(reversed(bucket.values()), -1)
    bucket[ref] = number
    if number > last:
        return
    ordered = sorted(bucket.items(), key=itemgetter(1))
    bucket.clear()
    bucket.update(ordered)


class SmallBucketCodec:
    """Stored as a JSON list of refs, a bucket of one too: the format every version has written."""

    def encode(self, refs: SmallBucket) -> bytes:
        return dumps([refs] if type(refs) is str else refs)

    def decode(self, data: bytes) -> SmallBucket:
        refs = orjson.loads(data)
        return refs[0] if len(refs) == 1 else refs


class BucketCodec:
    """A bucket as stored and sent to a changelog: its refs in filing order, a JSON list as before."""

    def encode(self, bucket: Bucket) -> bytes:
        return dumps(list(bucket))

    def decode(self, data: bytes) -> Bucket:
        return {ref: number for number, ref in enumerate(orjson.loads(data))}


SMALL_BUCKETS = SmallBucketCodec()
BUCKETS = BucketCodec()
