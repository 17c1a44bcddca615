"""The one-call checks of amounts, quantities, times and dates (models/money.py, models/base.py) accept
exactly what the step-by-step checks they stand in for accept, give the same value, and refuse the rest
with the same words: the step-by-step chains are rebuilt here from the same functions and compared on
generated input, hostile forms included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BeforeValidator, TypeAdapter, ValidationError
from reconstream.models import base, money

STEP_BY_STEP: dict[str, Any] = {
    "amount": Annotated[
        Decimal,
        BeforeValidator(money._unsigned_text),
        AfterValidator(money._non_negative),
        AfterValidator(money._within_bounds),
    ],
    "signed": Annotated[Decimal, BeforeValidator(money.decimal_text), AfterValidator(money._within_bounds)],
    "quantity": Annotated[Decimal, BeforeValidator(money.decimal_text), AfterValidator(money._quantity)],
    "received_time": Annotated[
        datetime, BeforeValidator(base._iso_time), AfterValidator(base._utc), AfterValidator(base._within_bounds)
    ],
    "utc_time": Annotated[datetime, BeforeValidator(base._iso_time), AfterValidator(base._utc)],
    "date": Annotated[date, BeforeValidator(base._iso_date), AfterValidator(base._in_range)],
}
ONE_CALL: dict[str, Any] = {
    "amount": money.ReceivedAmount,
    "signed": money.ReceivedSignedAmount,
    "quantity": money.Quantity,
    "received_time": base.ReceivedTime,
    "utc_time": base.UtcDatetime,
    "date": base.CalendarDate,
}
ADAPTERS = {kind: (TypeAdapter(STEP_BY_STEP[kind]), TypeAdapter(ONE_CALL[kind])) for kind in ONE_CALL}


def outcome(adapter: TypeAdapter[Any], value: Any, json: bool) -> tuple[str, Any]:
    try:
        got = adapter.validate_json(value) if json else adapter.validate_python(value)
    except ValidationError as refused:
        return "refused", [(e["type"], e["msg"]) for e in refused.errors(include_url=False)]
    return "accepted", (type(got), got, getattr(got, "tzinfo", None), str(got))


def same(kind: str, value: Any) -> None:
    before, now = ADAPTERS[kind]
    assert outcome(now, value, json=False) == outcome(before, value, json=False), value
    if isinstance(value, str):
        text = TypeAdapter(str).dump_json(value)
        assert outcome(now, text, json=True) == outcome(before, text, json=True), value


DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=45)
NUMBERISH = st.text(alphabet="0123456789.-+eE _ \t١", max_size=48)
AMOUNT_TEXT = st.one_of(
    DIGITS,
    st.builds(lambda a, b: f"{a}.{b}", DIGITS, DIGITS),
    st.builds(lambda a: f"-{a}", DIGITS),
    st.builds(lambda a: f" {a} ", DIGITS),
    NUMBERISH,
)
ANY_VALUE = st.one_of(AMOUNT_TEXT, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none())


@settings(max_examples=600, deadline=None)
@given(ANY_VALUE)
def test_amounts_and_quantities(value: Any) -> None:
    for kind in ("amount", "signed", "quantity"):
        same(kind, value)


def iso(moment: datetime, fraction: int, zone: str) -> str:
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    return text + (f".{moment.microsecond:06d}"[: fraction + 1] if fraction else "") + zone


ZONES = st.sampled_from(["Z", "+00:00", "-00:00", "+05:30", "-11:00", "+14:00", "+24:00", "+99:99", "z", ""])
NEAR_BOUNDS = st.one_of(  # the accepted times run from 1990 to 2200 ([limits])
    st.datetimes(min_value=datetime(1989, 12, 30), max_value=datetime(1990, 1, 2)),
    st.datetimes(min_value=datetime(2199, 12, 30), max_value=datetime(2200, 1, 2)),
)
TIMES = st.builds(
    iso,
    st.one_of(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), NEAR_BOUNDS),
    st.integers(0, 7),
    ZONES,
)
TIME_TEXT = st.one_of(
    TIMES,
    st.text(alphabet="0123456789-:TZ.+ ", max_size=32),
    st.sampled_from(
        ["2026-02-29T10:00:00Z", "2026-11-03T24:00:00Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z"]
        + ["2026-11-03T23:59:60Z", "2026-11-03 09:15:00Z", "2026-11-03T09:15Z", "1790000000", "2026-11-03"]
    ),
)
MOMENTS = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), None]))


@settings(max_examples=600, deadline=None)
@given(st.one_of(TIME_TEXT, MOMENTS, st.integers()))
def test_times(value: Any) -> None:
    for kind in ("received_time", "utc_time"):
        same(kind, value)


DATES = st.one_of(
    st.dates().map(date.isoformat),
    st.dates(min_value=date(1989, 12, 25), max_value=date(1990, 1, 5)).map(date.isoformat),
    st.dates(min_value=date(2199, 12, 25), max_value=date(2200, 1, 5)).map(date.isoformat),
    st.text(alphabet="0123456789- ", max_size=12),
    st.sampled_from(["2026-02-29", "2026-13-01", "0000-01-01", " 2026-11-03", "20261103", "2026-11-03T00:00"]),
    st.dates(),
)


@settings(max_examples=400, deadline=None)
@given(DATES)
def test_dates(value: Any) -> None:
    same("date", value)


def test_equal_quantity_texts_read_as_one_shared_decimal_and_other_texts_as_their_own() -> None:
    quantity = ADAPTERS["quantity"][1]
    assert quantity.validate_python("20") is quantity.validate_python("20")  # a tax rate on every line
    # The text decides, not the number: "20.0" keeps its exponent and prints as it came.
    assert str(quantity.validate_python("20.0")) == "20.0" and str(quantity.validate_python("20")) == "20"


def test_the_shared_decimals_stay_bounded_by_texts_that_never_repeat() -> None:
    quantity = ADAPTERS["quantity"][1]
    for n in range(money._SHARED_AT_MOST + 10):
        quantity.validate_python(f"{n}.01")
    assert 0 < len(money._SHARED) <= money._SHARED_AT_MOST
    assert quantity.validate_python("7.01") == Decimal("7.01")
