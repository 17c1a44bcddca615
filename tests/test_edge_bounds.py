"""What the edge reads and refuses: plain decimal money, ISO 8601 times, bounded amounts, quantities, times.

Each hostile value used to crash a run (year 9999, 1E+30, 1E+999999), be rounded silently (29 digits) or
be read as something nobody wrote ("1_000.00", "١٢", Unix seconds). Now each is refused with its field.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from factories import invoice, purchase_order, settlement
from reconstream.models import limits
from reconstream.models.balances import Balance
from reconstream.models.events import EventError, parse
from reconstream.models.payments import Settlement


def line(event: Any, **changes: Any) -> bytes:
    body = orjson.loads(event.model_dump_json(exclude_none=True))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[leaf] = value
    return orjson.dumps(body)


def refused(raw: bytes) -> EventError:
    with pytest.raises(EventError) as caught:
        parse(raw)
    return caught.value


HOSTILE_AMOUNTS = [
    ("1_000.00", "not a plain decimal"),
    ("+12.00", "not a plain decimal"),
    (".50", "not a plain decimal"),
    ("12.", "not a plain decimal"),
    ("1e2", "not a plain decimal"),
    ("1E+999999", "not a plain decimal"),
    ("1E-999999", "not a plain decimal"),
    ("NaN", "not a plain decimal"),
    ("Infinity", "not a plain decimal"),
    ("１２.００", "not a plain decimal"),  # full-width digits
    ("١٢.٠٠", "not a plain decimal"),  # Arabic-Indic digits
    ("1,000.00", "not a plain decimal"),
    ("12345678901234567890123456789.00", "beyond the largest amount"),
    ("1000000000000000", "beyond the largest amount"),
    ("-0.00", "must not be negative"),
    ("0" * 50 + "1", "more than 40 characters"),
    (12.5, "not a JSON number with a fraction"),
    (True, "not a boolean"),
    ({"value": "1"}, "must be a decimal string"),
]


@pytest.mark.parametrize(("amount", "why"), HOSTILE_AMOUNTS, ids=[repr(a) for a, _ in HOSTILE_AMOUNTS])
def test_a_settlement_amount_nobody_could_have_meant_is_refused_with_its_field(amount: object, why: str) -> None:
    error = refused(line(settlement("2026-11-05T00:00:00Z"), payload__amount=amount))
    assert error.field == "payload.amount"
    assert why in error.reason


@pytest.mark.parametrize("amount", [" 12.00 ", "12", "0012.50", 12, "999999999999999.99"])
def test_plain_decimals_and_integers_within_the_bounds_read_exactly(amount: object) -> None:
    event = parse(line(settlement("2026-11-05T00:00:00Z"), payload__amount=amount))
    assert isinstance(event.payload, Settlement)
    assert event.payload.amount == Decimal(str(amount).strip())


def test_a_signed_balance_reads_a_minus_sign_but_not_the_loose_forms() -> None:
    def balance(amount: str) -> bytes:
        payload = {
            "account": {"scheme": "iban", "id": "DE89370400440532013000"},
            "currency": "EUR",
            "type": "CLBD",
            "amount": amount,
            "date": "2026-11-05",
        }
        body = {
            "event_id": "b1",
            "source_system": "bank",
            "event_time": "2026-11-05T00:00:00Z",
            "event_type": "balance.reported",
            "schema_version": 2,
            "payload": payload,
        }
        return orjson.dumps(body)

    signed = parse(balance("-1970431.87")).payload
    assert isinstance(signed, Balance)
    assert signed.amount == Decimal("-1970431.87")
    assert refused(balance("-1e3")).field == "payload.amount"


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("payload__lines__0__unit_price", "1E+30", "not a plain decimal"),
        ("payload__lines__0__quantity", "1000000000", "largest quantity"),
        ("payload__lines__0__quantity", "1e3", "not a plain decimal"),
    ],
)
def test_po_prices_and_quantities_are_bounded_so_their_products_stay_exact(field: str, value: str, why: str) -> None:
    error = refused(line(purchase_order(), **{field: value}))
    assert error.field == field.replace("__", ".")
    assert why in error.reason


HOSTILE_TIMES = [
    ("9999-12-31T23:59:59Z", "outside the times accepted"),
    ("2300-01-01T00:00:00Z", "outside the times accepted"),
    ("0001-01-01T00:00:00Z", "outside the times accepted"),
    ("1800-01-01T00:00:00Z", "outside the times accepted"),
    (1764000000, "not an ISO 8601 date and time"),
    ("1764000000", "not an ISO 8601 date and time"),
    ("2026-11-03T09:15:00", "must carry a timezone"),
    ("２０２６-11-03T09:15:00Z", "not an ISO 8601 date and time"),
]


@pytest.mark.parametrize(("at", "why"), HOSTILE_TIMES, ids=[repr(a) for a, _ in HOSTILE_TIMES])
def test_an_event_time_outside_the_bounds_or_not_iso_8601_is_refused(at: object, why: str) -> None:
    error = refused(line(invoice(), event_time=at))
    assert error.field == "event_time"
    assert why in error.reason


@pytest.mark.parametrize("due", ["9999-12-31", "1066-10-14", "20261103", 20261103])
def test_a_document_date_outside_the_bounds_or_not_iso_8601_is_refused(due: object) -> None:
    assert refused(line(invoice(), payload__due_date=due)).field == "payload.due_date"


@pytest.fixture
def narrow_limits() -> Iterator[None]:
    before = limits.current()
    limits.configure(limits.Limits(max_amount=Decimal("1000"), latest=datetime(2027, 1, 1, tzinfo=UTC)))
    yield
    limits.configure(before)


@pytest.mark.usefixtures("narrow_limits")
def test_the_bounds_are_the_configured_ones() -> None:
    assert "[limits] max_amount" in refused(line(settlement("2026-11-05T00:00:00Z"), payload__amount="1000.00")).reason
    assert refused(line(invoice(), event_time="2027-01-01T00:00:00Z")).field == "event_time"
    within = parse(line(settlement("2026-11-05T00:00:00Z"), payload__amount="999.99")).payload
    assert isinstance(within, Settlement)
    assert within.amount == Decimal("999.99")


def test_the_config_file_sets_the_bounds(tmp_path: Any) -> None:
    from reconstream.shells.config import load_config

    path = tmp_path / "recon.toml"
    path.write_text('[limits]\nmax_amount = "5E+6"\nlatest = "2100-01-01T00:00:00Z"\n')
    bounds = load_config(path).limits.bounds()
    assert bounds.max_amount == Decimal("5E+6")
    assert bounds.latest == datetime(2100, 1, 1, tzinfo=UTC)
