"""The keys a persistent table holds, as bloom-filter bits kept in the process.

Most lookups ask for a key that is not there: a new event's id, the duplicate-index keys of a new invoice,
a payee's payment-index key, a timer. RocksDB answers each through its own bloom filters, but from
Python that is a call, a seek and an allocation, 4 to 15 µs; at 200,000 invoices about 5 million of them.
Here the answer is two bit tests on the key's str hash (cached in the str, computed once by the lookups
before this one).

A bloom filter never says "not there" of a key it was given, so a table that adds every key it writes
never hides one; a false "maybe" only falls through to RocksDB. Python's str hash is salted per process,
which is why the bits are built again from the table's keys when it opens rather than stored.
"""

from __future__ import annotations

from collections.abc import Iterable

# 16 bits a key with two bit tests: about 1.4 % false "maybe" when a layer is full.
_BITS_PER_KEY = 16
_SMALLEST = 1 << 16  # keys of the first layer of an empty table
_GROWTH = 4  # each new layer holds this many times the keys of the one before


class _Layer:
    __slots__ = ("bits", "capacity", "held", "mask")

    def __init__(self, capacity: int) -> None:
        size = 1 << max(3, (capacity * _BITS_PER_KEY - 1).bit_length())
        self.bits = bytearray(size >> 3)
        self.mask = size - 1
        self.capacity = capacity
        self.held = 0


class KeyFilter:
    """Which keys may be in a table: no for most absent keys, never no for a key it was given.

    It grows by layers (each for four times the keys of the last), so adding never rescans the table and
    an absent key costs a test per layer, a handful even at millions of keys. Keys deleted from the table
    stay set; `stale` counts them, so the table can build a fresh filter when they outnumber the live ones.
    """

    def __init__(self, keys: Iterable[str] = (), expected: int = 0) -> None:
        first = _Layer(max(_SMALLEST, 2 * expected))
        self._layers: list[_Layer] = [first]
        self.live = 0
        self.stale = 0
        for key in keys:
            if first.held >= first.capacity:
                self.add(key)
                continue
            # The table's keys when it opens, each once: set inline, a third of `add`'s cost at millions of keys.
            h = hash(key)
            at = h & first.mask
            first.bits[at >> 3] |= 1 << (at & 7)
            at = (h >> 32) & first.mask
            first.bits[at >> 3] |= 1 << (at & 7)
            first.held += 1
            self.live += 1

    def __contains__(self, key: str) -> bool:
        h = hash(key)
        high = h >> 32
        for layer in self._layers:
            bits = layer.bits
            mask = layer.mask
            at = h & mask
            if bits[at >> 3] >> (at & 7) & 1:
                at = high & mask
                if bits[at >> 3] >> (at & 7) & 1:
                    return True
        return False

    def add(self, key: str) -> None:
        """Remember a key written to the table (again is harmless)."""
        if key in self:
            return
        layer = self._layers[-1]
        if layer.held >= layer.capacity:
            layer = _Layer(layer.capacity * _GROWTH)
            self._layers.append(layer)
        h = hash(key)
        bits = layer.bits
        for at in (h & layer.mask, (h >> 32) & layer.mask):
            bits[at >> 3] |= 1 << (at & 7)
        layer.held += 1
        self.live += 1

    def forget(self) -> None:
        """Count a key deleted from the table: its bits stay, a false "maybe" from now on."""
        self.stale += 1
        self.live = max(0, self.live - 1)

    @property
    def worn(self) -> bool:
        """More deleted keys than live ones (and enough of both to matter): time for a filter of the live keys."""
        return self.stale > max(self.live, _SMALLEST)

    @property
    def size_bytes(self) -> int:
        return sum(len(layer.bits) for layer in self._layers)
