"""The canonical model refuses bad input with the field named, and never lets a float become money."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from reconstream.models.accounts import AccountScheme, iban_shaped, looks_like_iban, read_account, valid_iban
from reconstream.models.events import EventError, Stream, event_json_schemas, parse
from reconstream.models.exceptions import ROUTING, Category, Kind, OwnerQueue, raise_exception
from reconstream.models.invoices import Invoice
from reconstream.models.money import quantize
from reconstream.models.outputs import ApStatus, StatusUpdate

INVOICE: dict[str, Any] = {
    "event_id": "e1",
    "source_system": "ap",
    "event_time": "2026-11-01T10:00:00Z",
    "event_type": "invoice.captured",
    "payload": {
        "invoice_id": "I1",
        "supplier_invoice_number": "INV-1",
        "vendor_id": "V1",
        "company_code": "1000",
        "invoice_date": "2026-11-01",
        "currency": "EUR",
        "net_amount": "100.00",
        "tax_amount": "19.00",
        "gross_amount": "119.00",
    },
}


def refused(mutate: Any, stream: Stream = Stream.INVOICES) -> EventError:
    document = copy.deepcopy(INVOICE)
    mutate(document)
    with pytest.raises(EventError) as caught:
        parse(orjson.dumps(document), stream)
    return caught.value


def test_valid_invoice_parses_to_decimal_money() -> None:
    event = parse(orjson.dumps(INVOICE), Stream.INVOICES)
    assert isinstance(event.payload, Invoice)
    assert event.payload.gross_amount == Decimal("119.00")
    assert isinstance(event.payload.net_amount, Decimal)


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d["payload"].update(net_amount="-5.00"), "payload.net_amount", "negative"),
        (lambda d: d["payload"].update(currency="XXX"), "payload.currency", "unknown ISO 4217"),
        (lambda d: d["payload"].pop("vendor_id"), "payload.vendor_id", "required"),
        (lambda d: d["payload"].update(net_amount=100.5), "payload.net_amount", "not a JSON number"),
        (lambda d: d.update(event_time="2026-11-01T10:00:00"), "event_time", "timezone"),
        (lambda d: d["payload"].update(gross_amount="120.00"), "payload.gross_amount", "!="),
        (lambda d: d["payload"].update(net_amount="100.001", gross_amount="119.001"), "payload.net_amount", "decimals"),
        (lambda d: d.update(event_type="settlement.booked"), "event_type", "expected 'invoice.captured'"),
    ],
)
def test_bad_fields_are_named(mutate: Any, field: str, words: str) -> None:
    error = refused(mutate)
    assert error.category == "schema_violation"
    assert error.field == field
    assert words in error.reason
    assert error.event_id == "e1"


def test_not_json_is_malformed() -> None:
    with pytest.raises(EventError) as caught:
        parse(b'{"event_id": "e1", ', Stream.INVOICES)
    assert caught.value.category == "malformed_event"
    assert caught.value.field == "<json>"
    with pytest.raises(EventError, match="expected a JSON object"):
        parse(b"[1, 2]", Stream.INVOICES)


def test_bad_iban_is_refused_with_the_field() -> None:
    vendor = {
        "event_id": "v1",
        "source_system": "mdm",
        "event_time": "2026-11-01T00:00:00Z",
        "event_type": "vendor.upserted",
        "payload": {"vendor_id": "V1", "name": "Alder Supplies", "bank_accounts": [{"iban": "DE00370400440532013000"}]},
    }
    with pytest.raises(EventError) as caught:
        parse(orjson.dumps(vendor), Stream.VENDORS)
    assert caught.value.field == "payload.bank_accounts.0.iban"


# The example IBAN of each country in SWIFT's IBAN registry (the ISO 13616 registration authority).
REGISTRY_IBANS = [
    "AT61 1904 3002 3457 3201",
    "BE68 5390 0754 7034",  # stdnum.iban refuses it (bank code 539 is not in stdnum's list); schwifty takes it
    "CH93 0076 2011 6238 5295 7",
    "DE89 3704 0044 0532 0130 00",
    "DK50 0040 0440 1162 43",
    "ES91 2100 0418 4502 0005 1332",
    "FI21 1234 5600 0007 85",
    "FR14 2004 1010 0505 0001 3M02 606",
    "GB29 NWBK 6016 1331 9268 19",
    "IE29 AIBK 9311 5212 3456 78",
    "IT60 X054 2811 1010 0000 0123 456",
    "LU28 0019 4006 4475 0000",
    "NL91 ABNA 0417 1643 00",
    "NO93 8601 1117 947",
    "PL61 1090 1014 0000 0712 1981 2874",
    "SE45 5000 0000 0583 9825 7466",
]


@pytest.mark.parametrize("printed", REGISTRY_IBANS)
def test_registry_example_ibans_are_valid_printed_or_compact(printed: str) -> None:
    compact = printed.replace(" ", "")
    assert valid_iban(printed) == compact
    assert valid_iban(compact) == compact
    assert looks_like_iban(printed) and iban_shaped(printed)
    assert read_account(printed) == (read_account(compact)[0], None)
    assert read_account(printed)[0].scheme is AccountScheme.IBAN


@pytest.mark.parametrize("printed", REGISTRY_IBANS)
def test_a_registry_iban_with_wrong_check_digits_is_kept_unverified(printed: str) -> None:
    compact = printed.replace(" ", "")
    wrong = f"{compact[:2]}{(int(compact[2:4]) + 1) % 100:02d}{compact[4:]}"
    with pytest.raises(ValueError, match="checksum"):
        valid_iban(wrong)
    assert iban_shaped(wrong)  # the country's length and layout: a mistyped IBAN, read as one and flagged
    account, problem = read_account(wrong)
    assert (account.scheme, account.id) == (AccountScheme.UNVERIFIED, wrong)
    assert problem is not None and problem.startswith(f"iban {wrong!r} fails its check")


@pytest.mark.parametrize(
    ("raw", "bank_id", "key"),
    [
        ("0532013000", "37040044", "bban:37040044/0532013000"),  # the German account inside DE89 3704 0044 ...
        ("417164300", None, "bban:417164300"),  # a Dutch account number as old statements print it
        ("DE89 3704 0044", None, "bban:DE8937040044"),  # IBAN-like but too short for one: read as written
    ],
)
def test_an_account_that_is_not_an_iban_is_still_read(raw: str, bank_id: str | None, key: str) -> None:
    account, problem = read_account(raw, bank_id)
    assert problem is None
    assert (account.scheme, account.key) == (AccountScheme.BBAN, key)


def test_posted_status_needs_the_erp_document_number() -> None:
    event = {
        "event_id": "s1",
        "source_system": "erp",
        "event_time": "2026-11-01T00:00:00Z",
        "event_type": "invoice.status_changed",
        "payload": {"invoice_id": "I1", "status": "posted"},
    }
    with pytest.raises(EventError) as caught:
        parse(orjson.dumps(event), Stream.INVOICE_STATUS)
    assert caught.value.field == "payload.erp_document_number"


def test_quantize_follows_the_currency_minor_units() -> None:
    assert quantize(Decimal("10.005"), "EUR") == Decimal("10.00")  # banker's rounding
    assert quantize(Decimal("10.5"), "JPY") == Decimal("10")
    assert quantize(Decimal("1.2345"), "KWD") == Decimal("1.234")


def test_every_category_is_routed_as_design_md_says() -> None:
    assert set(ROUTING) == set(Category)
    assert ROUTING[Category.DUPLICATE_INVOICE] == (Kind.BUSINESS, OwnerQueue.AP)
    assert ROUTING[Category.VENDOR_BANK_MISMATCH] == (Kind.BUSINESS, OwnerQueue.VENDOR_MASTER)
    assert ROUTING[Category.MISSING_SETTLEMENT] == (Kind.BUSINESS, OwnerQueue.TREASURY)
    assert ROUTING[Category.ERP_TIMEOUT] == (Kind.TECHNICAL, OwnerQueue.INTEGRATION)


def test_exception_id_depends_on_cause_not_on_time_or_wording() -> None:
    from datetime import UTC, datetime

    first = raise_exception(Category.MISSING_ACK, ("E1", "B1"), "one wording", datetime(2026, 11, 1, tzinfo=UTC))
    again = raise_exception(
        Category.MISSING_ACK,
        ("E1",),
        "other wording",
        datetime(2026, 11, 9, tzinfo=UTC),
        amount=Decimal("150000"),
        currency="EUR",
    )
    assert first.exception_id == again.exception_id
    assert again.severity == "critical" and first.severity == "low"


def test_json_schema_for_every_event_type() -> None:
    schemas = event_json_schemas()
    assert len(schemas) == len(Stream)
    assert "payload" in schemas["settlement.booked"]["properties"]


def _status_update(**fields: Any) -> StatusUpdate:
    at = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    return StatusUpdate(**{"update_id": "upd-1", "invoice_id": "AP-1", "status": ApStatus.APPROVED, "at": at, **fields})


def test_records_given_the_same_fields_share_one_fields_set_and_a_copy_never_changes_its_original() -> None:
    first, second = _status_update(), _status_update()
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__  # shared: memory, not meaning
    booked = first.model_copy(update={"status": ApStatus.BOOKED, "erp_document_number": "5100000042"})
    assert booked.status is ApStatus.BOOKED and booked.erp_document_number == "5100000042"
    assert first.status is ApStatus.APPROVED and first.erp_document_number is None
    assert first.model_fields_set == {"update_id", "invoice_id", "status", "at"}
    assert booked.model_fields_set == first.model_fields_set | {"erp_document_number"}
    assert booked == _status_update(status=ApStatus.BOOKED, erp_document_number="5100000042")
    assert booked.model_dump(exclude_unset=True)["erp_document_number"] == "5100000042"
    with pytest.raises(ValidationError):
        booked.status = ApStatus.PAID  # type: ignore[misc]  # still frozen
    assert copy.deepcopy(booked) == booked and first.model_copy() == first
