"""The input event schema is a contract: events of every earlier version still read, field for field.

`fixtures/events/schema_v1.jsonl` was written by a sender of schema version 1 (IBANs as strings:
`account_iban`, `counterparty_iban`, `debtor_iban`, `creditor_iban`, vendor `bank_accounts[].iban`) and
is kept as it is, forever. Version 2 names accounts of any scheme and carries what banks say:
`fixtures/events/schema_v2.jsonl` (frozen when version 3 came) holds the version 1 events in version 2's
names (`account`, `counterparty_account`, `debtor_account`, `creditor_account`, `bank_accounts[].account`)
and what the converters wrote from the real bank samples of `fixtures/bank/` (camt.053, BAI2, MT940,
pain.002, PEPPOL UBL). Version 3 adds the manual match (`settlement.matched_manually`):
`fixtures/events/schema_v3.jsonl` (frozen when version 4 came) holds version 2's events as version 3 and a
manual match. Version 4 adds the posting service's `posting_timed_out` invoice status.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from reconstream.models.accounts import AccountScheme
from reconstream.models.balances import Balance
from reconstream.models.events import SCHEMA_VERSION, EventError, parse
from reconstream.models.invoices import Invoice, InvoiceStatusChange
from reconstream.models.master_data import Vendor
from reconstream.models.payments import ManualMatch, PaymentBatch, Settlement

V1 = Path(__file__).parent / "fixtures" / "events" / "schema_v1.jsonl"
V2 = Path(__file__).parent / "fixtures" / "events" / "schema_v2.jsonl"
V3 = Path(__file__).parent / "fixtures" / "events" / "schema_v3.jsonl"


def v1_events() -> list[bytes]:
    return V1.read_bytes().splitlines()


def v2_events() -> list[bytes]:
    return V2.read_bytes().splitlines()


def v3_events() -> list[bytes]:
    return V3.read_bytes().splitlines()


@pytest.mark.parametrize("raw", v1_events(), ids=lambda raw: orjson.loads(raw)["event_type"])
def test_every_version_1_event_still_reads(raw: bytes) -> None:
    event = parse(raw)
    obj = orjson.loads(raw)
    assert event.schema_version == 1 and event.event_id == obj["event_id"]
    payload, v1 = event.payload, obj["payload"]
    if event.event_type == "settlement.booked":
        assert isinstance(payload, Settlement)
        assert payload.account.scheme is AccountScheme.IBAN and payload.account.key == v1["account_iban"]
        assert payload.counterparty_key == v1["counterparty_iban"]
    elif event.event_type == "payment_batch.released":
        assert isinstance(payload, PaymentBatch)
        assert payload.debtor_account.key == v1["debtor_iban"]
        assert [i.creditor_account.key for i in payload.instructions] == [
            i["creditor_iban"] for i in v1["instructions"]
        ]
    elif event.event_type == "vendor.upserted":
        assert isinstance(payload, Vendor)
        assert [a.account.key for a in payload.bank_accounts] == [a["iban"] for a in v1["bank_accounts"]]


@pytest.mark.parametrize("raw", v2_events(), ids=lambda raw: orjson.loads(raw)["event_id"])
def test_every_version_2_event_still_reads(raw: bytes) -> None:
    event = parse(raw)
    obj = orjson.loads(raw)
    assert event.schema_version == 2 and event.event_id == obj["event_id"]
    payload, v2 = event.payload, obj["payload"]
    if event.event_type in ("settlement.booked", "balance.reported"):
        assert isinstance(payload, Settlement | Balance)
        written = v2["account"]
        assert payload.account.key.endswith(written["id"] if isinstance(written, dict) else written.replace(" ", ""))
        assert str(payload.amount) == v2["amount"]
    elif event.event_type == "payment_batch.released":
        assert isinstance(payload, PaymentBatch)
        assert [i.creditor_account.key for i in payload.instructions] == [
            i["creditor_account"]["id"] for i in v2["instructions"]
        ]
    elif event.event_type == "vendor.upserted":
        assert isinstance(payload, Vendor)
        assert [a.account.key for a in payload.bank_accounts] == [a["account"]["id"] for a in v2["bank_accounts"]]
    elif event.event_type == "invoice.captured":
        assert isinstance(payload, Invoice)
        assert str(payload.gross_amount) == v2["gross_amount"]


@pytest.mark.parametrize("raw", v3_events(), ids=lambda raw: orjson.loads(raw)["event_id"])
def test_every_version_3_event_still_reads(raw: bytes) -> None:
    event = parse(raw)
    obj = orjson.loads(raw)
    assert event.schema_version == 3 and event.event_id == obj["event_id"]
    if event.event_type == "settlement.matched_manually":
        assert isinstance(event.payload, ManualMatch)
        assert list(event.payload.invoice_ids) == obj["payload"]["invoice_ids"]
    elif event.event_type == "invoice.captured":
        assert isinstance(event.payload, Invoice)
        assert str(event.payload.gross_amount) == obj["payload"]["gross_amount"]


def _timed_out(version: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": "t1",
            "event_type": "invoice.status_changed",
            "schema_version": version,
            "source_system": "erp-posting",
            "event_time": "2026-11-04T16:00:00Z",
            "payload": {"invoice_id": "I1", "status": "posting_timed_out", "erp_system": "sap", "error": "timeout"},
        }
    )


def test_version_4_posting_timed_out_needs_version_4() -> None:
    timed_out = parse(_timed_out(4)).payload
    assert isinstance(timed_out, InvoiceStatusChange)
    assert timed_out.status == "posting_timed_out"
    with pytest.raises(EventError) as caught:
        parse(_timed_out(3))
    assert caught.value.field == "schema_version" and "version 4" in caught.value.reason


VERSION_1_TYPES = {
    "vendor.upserted",
    "purchase_order.created",
    "goods_receipt.posted",
    "invoice.captured",
    "invoice.status_changed",
    "payment_batch.released",
    "bank_ack.received",
    "settlement.booked",
}


@pytest.mark.parametrize(
    ("events", "types"),
    [
        (v1_events, VERSION_1_TYPES),
        (v2_events, VERSION_1_TYPES | {"balance.reported"}),
        (v3_events, VERSION_1_TYPES | {"balance.reported", "settlement.matched_manually"}),
    ],
    ids=["version 1", "version 2", "version 3"],
)
def test_each_corpus_covers_every_event_type_of_its_version(events, types) -> None:  # type: ignore[no-untyped-def]
    assert {orjson.loads(raw)["event_type"] for raw in events()} == types
    assert SCHEMA_VERSION == 4  # a new version freezes a corpus of this one here, with a test like the above


def _settlement(**payload: object) -> bytes:
    return orjson.dumps(
        {
            "event_id": "e1",
            "event_type": "settlement.booked",
            "schema_version": SCHEMA_VERSION,
            "source_system": "bank",
            "event_time": "2026-11-04T16:00:00Z",
            "payload": {
                "entry_id": "X1",
                "amount": "105.750",
                "currency": "EUR",
                "credit_debit": "DBIT",
                "booking_date": "2026-11-04",
                "value_date": "2026-11-04",
                **payload,
            },
        }
    )


def test_version_2_accounts_beyond_iban() -> None:
    us = parse(_settlement(account={"scheme": "us_aba", "id": "1234-5678", "bank_id": "021000021"})).payload
    assert isinstance(us, Settlement)
    assert us.account.key == "us_aba:021000021/12345678"
    uk = parse(_settlement(account={"scheme": "uk_sort_code", "id": "88888888", "bank_id": "60-00-04"})).payload
    assert isinstance(uk, Settlement)
    assert uk.account.key == "uk_sort_code:600004/88888888"
    assert str(us.amount) == "105.750" and us.amount == 105.75  # zeros past the minor unit pass


def test_version_2_refuses_a_bad_routing_number_and_a_real_fraction_of_a_cent() -> None:
    with pytest.raises(EventError) as bad_bank:
        parse(_settlement(account={"scheme": "us_aba", "id": "1", "bank_id": "021000022"}))
    assert bad_bank.value.field.startswith("payload.account")
    with pytest.raises(EventError) as sub_cent:
        parse(_settlement(account="DE89370400440532013000", amount="105.751"))
    assert sub_cent.value.field == "payload.amount" and "more decimals than EUR" in sub_cent.value.reason


def test_a_schema_version_from_the_future_is_refused_with_the_field() -> None:
    raw = orjson.loads(_settlement(account="DE89370400440532013000"))
    raw["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(EventError) as caught:
        parse(orjson.dumps(raw))
    assert caught.value.field == "schema_version"
