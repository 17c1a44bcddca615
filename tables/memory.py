"""In-memory store: plain dicts, nothing survives the process. The default for demos and tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import zstandard
from reconstream.models.errors import InvariantBroken

from .journal import Journal
from .seen_slots import SeenSlotTable, key_digest_bytes
from .store import Codec

V = TypeVar("V")

_ABSENT = object()


class MemoryTable(dict[str, V], Generic[V]):
    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__()
        self.name = name
        self.journal = journal

    def items(self) -> Iterator[tuple[str, V]]:  # type: ignore[override]
        # Sorted, like the persistent store, so iteration order never depends on the backend.
        return iter(sorted(super().items()))

    def __setitem__(self, key: str, value: V) -> None:
        if self.journal.active:
            self.journal.note(self, key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        if self.journal.active:
            self.journal.note(self, key)
        super().__delitem__(key)

    def prior(self, key: str) -> Any:
        return super().get(key, _ABSENT)

    def put_back(self, key: str, prior: Any) -> None:
        if prior is _ABSENT:
            super().pop(key, None)
        else:
            super().__setitem__(key, prior)


class Compressor:
    """Holds encodings of 200 bytes and more compressed with zstd against a dictionary: the first one it holds.

    Closed items of one table are the same JSON shape with other values, so with one of them as a raw-content
    dictionary most of each next one is found there: a paid invoice's 900 bytes become about 250, a purchase
    order's 260 about 60. A smaller encoding (a goods receipt, what a bank line paid: about 100) would save a
    few dozen bytes, so it is held as it is. In memory only (the dictionary lives and dies with the process),
    so nothing stored or sent changes. zstd, not zlib's deflate: deflate took 20 µs for a paid invoice, 4 % of
    a month-end run; zstd at level 1 takes 7 µs for the same bytes and holds them about 8 % smaller. Magic-less
    frames without a checksum or a dictionary id: the table's own tag says what is compressed, and a frame
    never leaves the process. One per table, used from the engine's thread only (a zstd context is not
    thread-safe; nothing else reads the tables).
    """

    MIN_BYTES = 200
    LEVEL = 1
    DICTIONARY_BYTES = 2048
    TAG = b"\0"  # first byte of what is held compressed: a JSON encoding starts with a token, never with a NUL

    def __init__(self) -> None:
        self._compress: Callable[[bytes], bytes] | None = None
        self._decompress: Callable[[bytes], bytes] | None = None

    def hold(self, encoding: bytes) -> bytes:
        if len(encoding) < self.MIN_BYTES:
            return encoding
        compress = self._compress or self._prime(encoding[: self.DICTIONARY_BYTES])
        return self.TAG + compress(encoding)

    def release(self, held: bytes) -> bytes:
        """The encoding that was held."""
        if held[:1] != self.TAG:
            return held
        if self._decompress is None:
            raise InvariantBroken("a value tagged compressed reached a compressor that never held one")
        return self._decompress(held[1:])

    def _prime(self, dictionary: bytes) -> Callable[[bytes], bytes]:
        shared = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        frames = zstandard.FORMAT_ZSTD1_MAGICLESS
        parameters = zstandard.ZstdCompressionParameters.from_level(
            self.LEVEL, format=frames, write_content_size=True, write_checksum=False, write_dict_id=False
        )
        self._compress = zstandard.ZstdCompressor(dict_data=shared, compression_params=parameters).compress
        self._decompress = zstandard.ZstdDecompressor(dict_data=shared, format=frames).decompress
        return self._compress


class Holding(Generic[V]):
    """Which values are kept as their encoding, and the keeping: compressed when large (`Compressor`), decoded
    when read. Closed items are held so in memory (`CompactingTable`) and in RocksDB state's cache."""

    def __init__(self, codec: Codec[V], held_encoded: Callable[[V], bool]) -> None:
        self._codec = codec
        self._held_encoded = held_encoded
        self._compressor = Compressor()

    def hold(self, value: V, encoding: bytes | None = None) -> Any:
        """The value as it is kept: itself, or its encoding (given, or worked out here) compressed."""
        if not self._held_encoded(value):
            return value
        return self._compressor.hold(self._codec.encode(value) if encoding is None else encoding)

    def read(self, held: Any) -> V:
        """The value that was kept."""
        return self._codec.decode(self._compressor.release(held)) if type(held) is bytes else held


class CompactingTable(MemoryTable[V]):
    """A table whose seldom-read values (a paid invoice, a settled instruction) are kept as their encoding.

    At month-end most of the state is closed items, read seldom (a later copy of a paid invoice, a return)
    and changed more seldom still; as objects they cost three to five times their encoding, and a large
    encoding compressed a fourth to a third of it (`Compressor`). A closed value is encoded when written and
    decoded when read, which a persistent store does for every value anyway. A table of values each read
    once or twice (purchase orders, goods receipts, what a bank line paid) holds every value so. Priors and
    rollbacks handle what is held (bytes or object) as it is: nothing is encoded twice.
    """

    def __init__(self, name: str, journal: Journal, codec: Codec[V], held_encoded: Callable[[V], bool]) -> None:
        super().__init__(name, journal)
        self._holding = Holding(codec, held_encoded)

    def __setitem__(self, key: str, value: V) -> None:
        super().__setitem__(key, self._holding.hold(value))

    def get(self, key: str, default: V | None = None) -> V | None:  # type: ignore[override]
        held = super().get(key, _ABSENT)
        return default if held is _ABSENT else self._holding.read(held)

    def __getitem__(self, key: str) -> V:
        return self._holding.read(super().__getitem__(key))

    def items(self) -> Iterator[tuple[str, V]]:  # type: ignore[override]
        for key, held in super().items():
            yield key, self._holding.read(held)

    def values(self) -> Iterator[V]:  # type: ignore[override]
        return (value for _, value in self.items())


def key_digest(key: str) -> int:
    """A key's 128-bit digest as an int (a dict key of 44 bytes against 49 for the bytes)."""
    return int.from_bytes(key_digest_bytes(key), "little")


class DigestKeyedTable(MemoryTable[V]):
    """An index looked up by key and never listed, holding each key as its 128-bit digest.

    The duplicate index files an invoice under about ten blocking keys of some 30 characters: two million
    keys at 200,000 invoices, 96 bytes each as strings and 48 as digests (a tenth of the engine's memory
    there). A digest takes half a µs, so the last few dozen are remembered: an invoice's keys are read by
    its duplicate check, then read and written again to file it. The journal notes and puts back digests,
    and a persistent store keeps the keys themselves, so nothing stored or sent changes.
    """

    RECENT = 64

    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__(name, journal)
        self._recent: dict[str, int] = {}

    def _digest(self, key: str) -> int:
        digest = self._recent.get(key)
        if digest is None:
            if len(self._recent) >= self.RECENT:
                self._recent.clear()
            digest = self._recent[key] = key_digest(key)
        return digest

    def get(self, key: str, default: V | None = None) -> V | None:  # type: ignore[override]
        return super().get(self._digest(key), default)  # type: ignore[call-overload]

    def __getitem__(self, key: str) -> V:
        return super().__getitem__(self._digest(key))  # type: ignore[index]

    def __setitem__(self, key: str, value: V) -> None:
        super().__setitem__(self._digest(key), value)  # type: ignore[index]

    def __delitem__(self, key: str) -> None:
        super().__delitem__(self._digest(key))  # type: ignore[arg-type]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self._digest(key))

    def items(self) -> Iterator[tuple[str, V]]:  # type: ignore[override]
        raise TypeError(f"{self.name} is looked up by key and never listed: it holds digests of its keys")


class MemoryStore:
    def __init__(self) -> None:
        self._tables: dict[str, Any] = {}
        self._checkpoint: dict[str, Any] | None = None
        self.journal = Journal()

    def table(
        self,
        name: str,
        codec: Codec[Any],
        held_encoded: Callable[[Any], bool] | None = None,
        listed: bool = True,
    ) -> MemoryTable[Any]:
        if name not in self._tables:
            if not listed:
                self._tables[name] = DigestKeyedTable(name, self.journal)
            elif held_encoded is None:
                self._tables[name] = MemoryTable(name, self.journal)
            else:
                self._tables[name] = CompactingTable(name, self.journal, codec, held_encoded)
        return self._tables[name]

    def id_table(self, name: str) -> SeenSlotTable:
        if name not in self._tables:
            self._tables[name] = SeenSlotTable(name, self.journal)
        table: SeenSlotTable = self._tables[name]
        return table

    def drop(self, name: str) -> None:
        """Forget a table whole. Its object is let go, not emptied: a rollback registers it again as it
        stands, and priors the unit noted in it before are put back into it, in whichever order."""
        table = self._tables.pop(name, None)
        if table is not None and self.journal.active:
            self.journal.undo(lambda: self._tables.__setitem__(name, table))

    def commit(self, extra: dict[str, Any] | None = None) -> None:
        if extra is not None:
            self._checkpoint = extra

    def checkpoint(self) -> dict[str, Any] | None:
        return self._checkpoint

    def close(self) -> None:
        self._tables.clear()
