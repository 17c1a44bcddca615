"""Closed items (paid invoices, settled instructions) are held as their encoding, deflated, in the in-memory
store: every read gives back the record that was written, a rollback puts back what was there, and an item
reopened (a returned payment) is an object again."""

from __future__ import annotations

import orjson
from factories import paid_invoice_flow
from hypothesis import given
from hypothesis import strategies as st
from reconstream.streams import Engine
from reconstream.tables import MemoryStore, ModelCodec
from reconstream.tables.memory import CompactingTable, Compressor
from reconstream.tables.records import InvoiceStage, InvoiceState
from reconstream.tables.state import EngineState


def paid_engine() -> Engine:
    engine = Engine(EngineState(MemoryStore()))
    for event in paid_invoice_flow():
        engine.process(event, source="test")
    return engine


def raw(table: object, key: str) -> object:
    assert isinstance(table, dict)  # the in-memory store's tables are dicts
    return dict.get(table, key)  # what the table holds, under its reads


def test_a_paid_invoice_is_held_encoded_and_read_back_as_the_same_record() -> None:
    engine = paid_engine()
    invoices = engine.state.invoices
    state = invoices["I1"]
    assert state.stage is InvoiceStage.PAID
    assert isinstance(raw(invoices, "I1"), bytes)
    assert invoices.get("I1") == state and dict(invoices.items())["I1"] == state
    assert invoices.get("nobody") is None and "I1" in invoices


def test_open_items_stay_objects_and_a_reopened_one_is_an_object_again() -> None:
    engine = paid_engine()
    invoices = engine.state.invoices
    reopened = invoices["I1"].model_copy(update={"stage": InvoiceStage.BOOKED})
    invoices["I1"] = reopened
    assert raw(invoices, "I1") is reopened


def test_a_rollback_puts_back_the_encoding_that_was_there() -> None:
    engine = paid_engine()
    invoices, journal = engine.state.invoices, engine.state.store.journal
    before = raw(invoices, "I1")
    journal.begin()
    invoices["I1"] = invoices["I1"].model_copy(update={"stage": InvoiceStage.BOOKED})
    del invoices["I1"]
    journal.rollback()
    assert raw(invoices, "I1") is before


def test_purchase_orders_and_receipts_are_held_encoded_and_still_match_three_ways() -> None:
    engine = paid_engine()  # the flow's invoice was matched against its order and receipt
    orders, received = engine.state.purchase_orders, engine.state.received_goods
    assert isinstance(raw(orders, "PO-1"), bytes) and isinstance(raw(received, "PO-1"), bytes)
    assert orders["PO-1"].po_number == "PO-1" and received["PO-1"].gr_numbers


def test_every_way_of_reading_gives_records() -> None:
    engine = paid_engine()
    invoices = engine.state.invoices
    assert isinstance(invoices, CompactingTable)
    assert [type(v).__name__ for v in invoices.values()] == ["InvoiceState"]
    assert [type(v).__name__ for _, v in invoices.items()] == ["InvoiceState"]


@given(st.lists(st.binary(max_size=6000), min_size=1, max_size=12))
def test_the_compressor_gives_back_every_encoding_whatever_came_first(encodings: list[bytes]) -> None:
    compressor = Compressor()  # the first large one is its dictionary; a later one may share nothing with it
    held = [compressor.hold(b"{" + encoding) for encoding in encodings]  # as a JSON encoding starts
    assert [compressor.release(each) for each in reversed(held)] == [b"{" + each for each in reversed(encodings)]
    small = Compressor.MIN_BYTES - 1
    assert all(len(each) < small or held[i][:1] == Compressor.TAG for i, each in enumerate(encodings))
    assert all(held[i] == b"{" + each for i, each in enumerate(encodings) if len(each) < small)


def test_a_second_paid_invoice_is_held_in_a_fraction_of_its_encoding() -> None:
    engine = paid_engine()
    invoices = engine.state.invoices
    second = invoices["I1"].model_copy(
        update={"invoice": invoices["I1"].invoice.model_copy(update={"invoice_id": "I2"})}
    )
    invoices["I2"] = second
    encoding = ModelCodec(InvoiceState).encode(second)
    held = raw(invoices, "I2")
    assert isinstance(held, bytes) and len(held) * 3 < len(encoding)
    assert invoices["I2"] == second


def test_what_a_bank_line_paid_is_held_encoded() -> None:
    engine = paid_engine()
    applied = engine.state.applied_payments
    assert isinstance(applied, CompactingTable)
    entry_id = next(iter(dict.keys(applied)))
    assert raw(applied, entry_id) == orjson.dumps(applied[entry_id])  # small: held as it is, not deflated
    assert entry_id in applied and applied[entry_id]["entry_id"] == entry_id
