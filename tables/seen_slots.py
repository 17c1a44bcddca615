"""Applied ids held in memory as 24-byte slots of bytearrays, not as dict entries of two Python objects.

An applied event id costs a dict 140 bytes (the id as a str, its content digest as an int, the slot): about
140 MB for a month-end of 200,000 invoices, a million events. Here an id is 16 bytes of BLAKE2b and its
digest 8, appended to one of 16,384 bytearrays chosen by the id's digest and found there by `find`, a
search in C over some 60 slots at a million ids: about 26 bytes an id, no table to rehash as it grows. For
two of a million ids to share a 128-bit digest is a chance of about 1e-27. A table is never listed:
generations of ids are dropped whole (`MemoryStore.drop`), so nothing needs the ids back. A persistent store
keeps the ids themselves, so nothing stored or sent changes.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any

from .journal import Journal

_ABSENT = object()
_KEY = 16
_SLOT = 24
_BUCKETS = 1 << 14  # a power of two, so a bucket is a mask of the digest


def key_digest_bytes(key: str) -> bytes:
    """128 bits of BLAKE2b: for two of a month-end's two million keys to share one is a chance of about 1e-26."""
    return blake2b(key.encode(), digest_size=_KEY).digest()


class SeenSlotTable:
    """Ids, each with an unsigned 64-bit number (what its event said), looked up by id and never listed."""

    def __init__(self, name: str, journal: Journal, buckets: int = _BUCKETS) -> None:
        if buckets < 1 or buckets & (buckets - 1):
            raise ValueError(f"buckets must be a power of two, not {buckets}")
        self.name = name
        self.journal = journal
        self._buckets: list[bytearray | None] = [None] * buckets  # each made at its first id: a small table makes few
        self._mask = buckets - 1
        self._count = 0
        # The last id digested: the engine asks for an id's number and then writes it, one digest for both.
        self._last_key: str | None = None
        self._last_digest = b""
        self._where: tuple[bytes, int, bytearray | None, int] | None = None

    def _digest(self, key: str) -> bytes:
        if key != self._last_key:
            self._last_key, self._last_digest = key, key_digest_bytes(key)
        return self._last_digest

    def _locate(self, digest: bytes) -> tuple[int, bytearray | None, int]:
        """The index of `digest`'s bucket, the bucket (None when none was made) and its slot's offset there,
        or -1.

        The last answer is kept until a write: the engine looks an id up, the journal asks what it held,
        and the write finds where it goes, one search for the three. A digest is the same object each time
        (`_digest` keeps the last), so an identity test recognises it."""
        where = self._where
        if where is not None and where[0] is digest:
            return where[1], where[2], where[3]
        index = int.from_bytes(digest[:4], "little") & self._mask
        bucket = self._buckets[index]
        at = -1 if bucket is None else self._slot(bucket, digest)
        self._where = (digest, index, bucket, at)
        return index, bucket, at

    @staticmethod
    def _slot(bucket: bytearray, digest: bytes) -> int:
        """Offset of the slot holding `digest` in its bucket, or -1. A match off a slot's start (16 bytes
        spanning two slots, about never) is no match: the search goes on past it."""
        at = bucket.find(digest)
        while at > 0 and at % _SLOT:
            at = bucket.find(digest, at + 1)
        return at

    def _number(self, digest: bytes) -> Any:
        _, bucket, at = self._locate(digest)
        return _ABSENT if bucket is None or at < 0 else int.from_bytes(bucket[at + _KEY : at + _SLOT], "little")

    def get(self, key: str, default: Any = None) -> Any:
        found = self._number(self._digest(key))
        return default if found is _ABSENT else found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._number(self._digest(key)) is not _ABSENT

    def __getitem__(self, key: str) -> int:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return int(found)

    def __setitem__(self, key: str, number: int) -> None:
        digest = self._digest(key)
        value = number.to_bytes(_SLOT - _KEY, "little")  # OverflowError for what is not an unsigned 64-bit number
        if self.journal.active:
            self.journal.note(self, digest)  # type: ignore[arg-type]
        self._put(digest, value)

    def __delitem__(self, key: str) -> None:
        digest = self._digest(key)
        if self._number(digest) is _ABSENT:
            raise KeyError(key)
        if self.journal.active:
            self.journal.note(self, digest)  # type: ignore[arg-type]
        self._remove(digest)

    def __len__(self) -> int:
        return self._count

    def items(self) -> Any:
        raise TypeError(f"{self.name} is looked up by id and never listed: it holds digests of its ids")

    def held(self) -> dict[bytes, int]:
        """Every digest held with its number, whatever the buckets' order: for tests comparing states."""
        return {
            bytes(bucket[at : at + _KEY]): int.from_bytes(bucket[at + _KEY : at + _SLOT], "little")
            for bucket in self._buckets
            if bucket
            for at in range(0, len(bucket), _SLOT)
        }

    # The journal's side (tables/journal.py): it notes and puts back digests, as it does DigestKeyedTable's.
    def prior(self, digest: bytes) -> Any:
        return self._number(digest)

    def put_back(self, digest: bytes, prior: Any) -> None:
        if prior is _ABSENT:
            self._remove(digest)
        else:
            self._put(digest, prior.to_bytes(_SLOT - _KEY, "little"))

    def _put(self, digest: bytes, value: bytes) -> None:
        index, bucket, at = self._locate(digest)
        self._where = None
        if bucket is None:
            bucket = self._buckets[index] = bytearray()
        if at < 0:
            bucket += digest + value
            self._count += 1
        else:
            bucket[at + _KEY : at + _SLOT] = value

    def _remove(self, digest: bytes) -> None:
        _, bucket, at = self._locate(digest)
        self._where = None
        if bucket is not None and at >= 0:
            del bucket[at : at + _SLOT]
            self._count -= 1
