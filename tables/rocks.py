"""Persistent store on rocksdict (RocksDB): every table in one database, committed in one WriteBatch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from reconstream.models.errors import InvariantBroken
from rocksdict import BlockBasedOptions, Cache, DBCompressionType, Options, Rdict, WriteBatch

from .journal import Journal
from .memory import Holding
from .store import JSON, Codec, DocumentCodec

V = TypeVar("V")

_SEP = b"\x00"
_DELETED = object()
_NOT_PENDING = object()
_CHECKPOINT_KEY = b"__meta__" + _SEP + b"checkpoint"


def _never(value: Any) -> bool:
    return False  # a table whose store was not told which values are seldom read caches them all decoded


def _options(block_cache_mb: int, write_buffer_mb: int) -> Options:
    # RocksDB's defaults assume a dedicated server; bound memory so month-end volume cannot grow it.
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(write_buffer_mb * 1024 * 1024)
    options.set_max_write_buffer_number(2)
    # A lookup of an absent key (most of them, below) would search both memtables' skip lists before the
    # files' bloom filters: a bloom filter of each memtable's keys (a tenth of its size) answers it instead,
    # 5 % of the engine's thread at 200,000 invoices with 64 MiB memtables.
    options.set_memtable_whole_key_filtering(True)
    options.set_memtable_prefix_bloom_ratio(0.1)
    # LZ4 rather than the default Snappy: the same size on disk for less of RocksDB's own CPU, which
    # flushes and compacts in threads of its own (docs/performance.md). Files written with Snappy read on.
    options.set_compression_type(DBCompressionType.lz4())
    table_options = BlockBasedOptions()
    table_options.set_block_cache(Cache(block_cache_mb * 1024 * 1024))
    # Most lookups ask for a key that is not there (an event id not seen yet, an index key no document
    # has): a bloom filter answers those from memory instead of reading blocks. 10 bits a key: ~1 %
    # false positives, about 1.2 bytes per key, held with each file's index (RocksDB's default), not in
    # the block cache: there, at 200,000 invoices, data blocks pushed them out and every lookup paid twice.
    table_options.set_bloom_filter(10, False)
    options.set_block_based_table_factory(table_options)
    return options


class RocksTable(Generic[V]):
    """A dict-like view of one key prefix. Reads see pending writes; a bounded cache keeps hot values decoded.

    Values `held_encoded` (closed items: a paid invoice, a settled instruction) are cached as their encoding,
    compressed as the in-memory store holds them (`Holding`), and decoded when read: decoded, they were
    half the peak RSS at 200,000 invoices (docs/performance.md), and a RocksDB read instead costs more than
    the decoding.
    """

    def __init__(
        self,
        db: Rdict,
        name: str,
        codec: Codec[V],
        cache_size: int,
        journal: Journal,
        held_encoded: Callable[[V], bool] | None = None,
    ) -> None:
        self.name = name
        self.journal = journal
        self._db = db
        self._codec = codec
        self._holding = Holding(codec, held_encoded or _never)
        self._prefix = name.encode() + _SEP
        self._pending: dict[str, Any] = {}
        # Pending values a changelog has encoded already, for the commit (a DocumentTable keeps each key's
        # list of stored changes here instead).
        self._encoded: dict[str, Any] = {}
        self._cache: dict[str, Any] = {}  # a value, or its encoding held compressed
        self._cache_size = cache_size
        # Keys the database was asked for and does not hold, until the next commit: an invoice's duplicate
        # keys are read by its check and again by its filing, and most are new (each read a RocksDB lookup).
        self._absent: set[str] = set()

    def _key(self, key: str) -> bytes:
        return self._prefix + key.encode()

    def get(self, key: str, default: V | None = None) -> V | None:
        value = self._pending.get(key, None)
        if value is not None:
            return default if value is _DELETED else value
        cached = self._cache.get(key)
        if cached is not None:
            return self._holding.read(cached)
        if key in self._absent:
            return default
        data = self._db.get(self._key(key))
        if data is None:
            self._absent.add(key)
            return default
        decoded = self._decode_stored(key, data)
        self._remember(key, self._holding.hold(decoded))
        return decoded

    def _decode_stored(self, key: str, data: bytes) -> V:
        return self._codec.decode(data)

    def _remember(self, key: str, value: Any) -> None:
        if len(self._cache) >= self._cache_size:
            # Drop the oldest half: cheaper than strict LRU and good enough for a hot working set.
            for old in list(self._cache)[: self._cache_size // 2]:
                del self._cache[old]
        self._cache[key] = value

    def __getitem__(self, key: str) -> V:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: V) -> None:
        if self.journal.active:
            self.journal.note(self, key)
        self._pending[key] = value
        self._encoded.pop(key, None)

    def __delitem__(self, key: str) -> None:
        if self.journal.active:
            self.journal.note(self, key)
        self._pending[key] = _DELETED
        self._encoded.pop(key, None)

    def prior(self, key: str) -> Any:
        # What the pending writes said of the key, or nothing: the database and the cache are untouched
        # until a commit, so putting the pending entry back is the whole rollback.
        return self._pending.get(key, _NOT_PENDING)

    def put_back(self, key: str, prior: Any) -> None:
        self._encoded.pop(key, None)
        if prior is _NOT_PENDING:
            self._pending.pop(key, None)
        else:
            self._pending[key] = prior

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def items(self) -> Iterator[tuple[str, V]]:
        merged: dict[str, Any] = {}
        for stored_key, data in self._db.items(from_key=self._prefix):
            raw_key = cast(bytes, stored_key)  # the store is opened in raw mode: keys are bytes
            if not raw_key.startswith(self._prefix):
                break
            merged[raw_key[len(self._prefix) :].decode()] = data
        for key, value in self._pending.items():
            merged[key] = value
        for key in sorted(merged):
            value = merged[key]
            if value is _DELETED:
                continue
            yield key, (self._decode_stored(key, value) if isinstance(value, bytes) else value)

    def pending_changes(self) -> Iterator[tuple[bytes, bytes | None]]:
        """Each pending write as (stored key, encoded value), None for a delete: what a changelog carries.

        The encodings are kept for the commit that follows, so a change is encoded once for both."""
        for key, value in self._pending.items():
            yield self._key(key), None if value is _DELETED else self._encode(key, value)

    def _encode(self, key: str, value: V) -> bytes:
        data = self._encoded.get(key)
        if data is None:
            data = self._encoded[key] = self._codec.encode(value)
        return data

    def write_pending(self, batch: WriteBatch) -> None:
        for key, value in self._pending.items():
            if value is _DELETED:
                batch.delete(self._key(key))
                self._cache.pop(key, None)
            else:
                encoding = self._encode(key, value)
                batch.put(self._key(key), encoding)
                self._remember(key, self._holding.hold(value, encoding))
        self.discard_pending()

    def discard_pending(self) -> None:
        self._pending.clear()
        self._encoded.clear()
        self._absent.clear()  # what a commit wrote is there now


class DocumentTable(RocksTable[V]):
    """A table whose records' captured document is stored under a key of its own, written only when it changed.

    An invoice's state is written at each step of its lifecycle and its document (most of its bytes) at
    the first: a third fewer bytes encoded and written on a month (docs/performance.md). Records are
    frozen and a copy shares the fields it does not change, so "changed" is an identity test against the
    value last committed, which the decoded cache holds; a key the cache has let go writes its document
    again, which costs a write and is never wrong. Values written before documents had keys of their own
    are read whole and their document is written at their next change.
    """

    def __init__(
        self,
        db: Rdict,
        name: str,
        codec: DocumentCodec[Any],
        cache_size: int,
        journal: Journal,
        held_encoded: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__(db, name, codec, cache_size, journal, held_encoded)
        self._documents = codec
        self._document_prefix = name.encode() + b"#document" + _SEP
        self._whole: set[str] = set()  # keys read whole, in the layout of before

    def _document_key(self, key: str) -> bytes:
        return self._document_prefix + key.encode()

    def _decode_stored(self, key: str, data: bytes) -> V:
        document = self._db.get(self._document_key(key))
        if document is None:
            self._whole.add(key)
            return self._codec.decode(data)
        return self._documents.decode_parts(data, document)  # type: ignore[no-any-return]

    def _changes(self, key: str, value: Any) -> list[tuple[bytes, bytes | None]]:
        # Worked out once per commit and kept, so the changelog and the database get the same changes.
        changes: list[tuple[bytes, bytes | None]] | None = self._encoded.get(key)
        if changes is None:
            if value is _DELETED:
                changes = [(self._key(key), None), (self._document_key(key), None)]
            else:
                changes = [(self._key(key), self._documents.encode_rest(value))]
                if self._document_changed(key, value):
                    changes.append((self._document_key(key), self._documents.encode_document(value)))
            self._encoded[key] = changes
        return changes

    def _document_changed(self, key: str, value: Any) -> bool:
        # A value cached as its encoding (a closed item) says nothing of identity: its document is written again.
        committed = self._cache.get(key)
        return (
            committed is None
            or type(committed) is bytes
            or key in self._whole
            or self._documents.document_of(committed) is not self._documents.document_of(value)
        )

    def pending_changes(self) -> Iterator[tuple[bytes, bytes | None]]:
        for key, value in self._pending.items():
            yield from self._changes(key, value)

    def write_pending(self, batch: WriteBatch) -> None:
        for key, value in self._pending.items():
            for stored_key, data in self._changes(key, value):
                if data is None:
                    batch.delete(stored_key)
                else:
                    batch.put(stored_key, data)
            if value is _DELETED:
                self._cache.pop(key, None)
            else:
                self._remember(key, self._holding.hold(value))
            self._whole.discard(key)
        self.discard_pending()


class RocksStore:
    def __init__(
        self, path: str | Path, block_cache_mb: int = 64, write_buffer_mb: int = 64, cache_size: int = 200_000
    ) -> None:
        # 64 MiB write buffers rather than 16: a quarter of the flushes, and of the small files compacted
        # again and again (docs/performance.md).
        Path(path).mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path), _options(block_cache_mb, write_buffer_mb))
        self._tables: dict[str, RocksTable[Any]] = {}
        self._cache_size = cache_size
        self.journal = Journal()

    def table(
        self, name: str, codec: Codec[Any], held_encoded: Callable[[Any], bool] | None = None, listed: bool = True
    ) -> RocksTable[Any]:
        # The keys themselves are kept (`listed` changes nothing). Closed items stay in the cache, as their
        # encoding: left out of it, they saved a third of the peak RSS at 200,000 invoices but the
        # 20,000-invoice month ran at 0.72x the in-memory rate instead of 0.88x (2026-11-26).
        if name not in self._tables:
            if isinstance(codec, DocumentCodec):
                table: RocksTable[Any] = DocumentTable(
                    self._db, name, codec, self._cache_size, self.journal, held_encoded
                )
            else:
                table = RocksTable(self._db, name, codec, self._cache_size, self.journal, held_encoded)
            self._tables[name] = table
        return self._tables[name]

    def id_table(self, name: str) -> RocksTable[Any]:
        # The ids themselves, as JSON numbers: state dirs and changelogs of earlier versions read on.
        return self.table(name, JSON)

    def drop(self, name: str) -> None:
        # Row by row: each delete goes into the batch and into the changelog a Kafka worker restores from.
        table = self.table(name, JSON)
        for key in [key for key, _ in table.items()]:
            del table[key]

    def commit(self, extra: dict[str, Any] | None = None) -> None:
        """Persist all pending writes, and the checkpoint if given, atomically."""
        batch = WriteBatch(raw_mode=True)
        for table in self._tables.values():
            table.write_pending(batch)
        if extra is not None:
            batch.put(_CHECKPOINT_KEY, JSON.encode(extra))
        self._db.write(batch)

    def checkpoint(self) -> dict[str, Any] | None:
        data = self._db.get(_CHECKPOINT_KEY)
        return None if data is None else JSON.decode(data)

    def pending_changes(self) -> list[tuple[bytes, bytes | None]]:
        return [change for table in self._tables.values() for change in table.pending_changes()]

    def restore(self, changes: Iterable[tuple[bytes, bytes | None]], extra: dict[str, Any]) -> None:
        """Apply changes read back from a changelog, with the checkpoint that says how far it got, atomically.

        Only for a store whose tables are not open yet: their decoded caches would not see these writes.
        """
        if self._tables:
            raise InvariantBroken(f"restore into a store whose tables are open already ({', '.join(self._tables)})")
        batch = WriteBatch(raw_mode=True)
        for key, value in changes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(_CHECKPOINT_KEY, JSON.encode(extra))
        self._db.write(batch)

    def close(self) -> None:
        for table in self._tables.values():
            table.discard_pending()
        self._db.close()
