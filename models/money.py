"""Money: Decimal amounts with an ISO 4217 currency, quantized to the currency's minor units."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

# ISO 4217 minor units for the currencies a European/US group pays in. A code missing here is an
# unknown currency on purpose: paying in it needs a deliberate addition, not a silent default.
MINOR_UNITS: dict[str, int] = {
    "AED": 2,
    "AUD": 2,
    "BGN": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "COP": 2,
    "CZK": 2,
    "DKK": 2,
    "EGP": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KES": 2,
    "KRW": 0,
    "KWD": 3,
    "MAD": 2,
    "MXN": 2,
    "MYR": 2,
    "NGN": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PHP": 2,
    "PLN": 2,
    "QAR": 2,
    "RON": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TND": 3,
    "TRY": 2,
    "TWD": 2,
    "UAH": 2,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}

_EXPONENTS: dict[int, Decimal] = {n: Decimal(1).scaleb(-n) for n in range(4)}


def _currency_code(value: Any) -> str:
    if not isinstance(value, str) or value not in MINOR_UNITS:
        raise ValueError(f"unknown ISO 4217 currency {value!r}")
    return value


def _no_float(value: Any) -> Any:
    # A JSON float has already lost exactness before we see it; money must arrive as a string.
    if isinstance(value, float):
        raise ValueError(f'must be a decimal string such as "{value}", not a JSON number with a fraction')
    if isinstance(value, bool):
        raise ValueError("must be a decimal string, not a boolean")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


CurrencyCode = Annotated[str, BeforeValidator(_currency_code)]

# Non-negative: direction is carried by the document (credit note, debit entry), never by the sign.
Amount = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    AfterValidator(_non_negative),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]

# Signed sums (balances, positions) may go below zero.
SignedAmount = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]


def minor_units(currency: str) -> int:
    return MINOR_UNITS[currency]


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(_EXPONENTS[MINOR_UNITS[currency]], rounding=ROUND_HALF_EVEN)


def check_scale(amount: Decimal, currency: str, field: str) -> None:
    """Refuse more decimals than the currency has: rounding an incoming amount would hide an error."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MINOR_UNITS[currency]:
        raise ValueError(f"{field}: {amount} has more decimals than {currency} allows ({MINOR_UNITS[currency]})")
