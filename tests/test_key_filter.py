"""The in-process filter of a table's keys: never "not there" for a key it was given, seldom "maybe" for others."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from reconstream.tables.key_filter import KeyFilter


@given(st.sets(st.text(max_size=40), max_size=300))
def test_every_key_given_reads_as_maybe_there(keys: set[str]) -> None:
    added = KeyFilter()
    for key in keys:
        added.add(key)
    built = KeyFilter(keys)
    assert all(key in added and key in built for key in keys)


def test_keys_never_given_read_as_not_there_but_for_a_few_percent() -> None:
    keys = KeyFilter(f"dup:N|V{n}|INV-{n:07d}" for n in range(100_000))
    false_maybes = sum(f"dup:N|V{n}|INV-{n:07d}" in keys for n in range(100_000, 200_000))
    assert false_maybes < 3_000  # 16 bits a key and two tests: about 1.4 % when the filter is full


def test_a_filter_grows_past_what_it_expected_without_losing_a_key() -> None:
    keys = KeyFilter(expected=1_000)
    for n in range(400_000):
        keys.add(f"evt-{n}")
    assert all(f"evt-{n}" in keys for n in range(400_000))
    assert sum(f"other-{n}" in keys for n in range(100_000)) < 5_000  # each layer adds its own false maybes
    assert keys.size_bytes < 400_000 * 16 // 8 * 4  # layers of four times the last: bounded by a few sizes


def test_a_filter_sized_for_its_keys_leaves_room_for_as_many_again() -> None:
    keys = KeyFilter((f"k{n}" for n in range(300_000)), expected=300_000)
    before = keys.size_bytes
    for n in range(300_000, 600_000):
        keys.add(f"k{n}")
    assert 590_000 <= keys.live <= 600_000  # a key that was a false maybe already is not counted again
    assert keys.size_bytes == before <= 600_000 * 16 // 8 * 2  # one layer, its bits rounded up to a power of two


def test_adding_a_key_again_counts_it_once() -> None:
    keys = KeyFilter()
    for _ in range(3):
        keys.add("timer:I1")
    assert keys.live == 1


def test_a_filter_is_worn_once_deleted_keys_outnumber_live_ones() -> None:
    keys = KeyFilter(f"timer:{n}" for n in range(200_000))
    for _ in range(90_000):
        keys.forget()
    assert not keys.worn  # 90,000 deleted, about 110,000 live
    for _ in range(20_000):
        keys.forget()
    assert keys.worn


def test_a_small_table_is_not_worn_by_fewer_deletes_than_its_smallest_filter_holds() -> None:
    keys = KeyFilter(["timer:I1"])
    for _ in range(60_000):
        keys.forget()
    assert not keys.worn  # a pass over the table would cost more than the false maybes
