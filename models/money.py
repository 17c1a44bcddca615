"""Money: Decimal amounts with an ISO 4217 currency, quantized to the currency's minor units."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from iso4217 import Currency
from pydantic import AfterValidator, BeforeValidator, PlainSerializer


def _payment_currencies() -> dict[str, int]:
    # The ISO 4217 list as the `iso4217` package keeps it (SIX's published table). Funds and metals codes
    # (XAU, XDR ...) have no minor units: nobody pays an invoice in them, so they stay unknown here.
    return {currency.code: currency.exponent for currency in Currency if currency.exponent is not None}


MINOR_UNITS: dict[str, int] = _payment_currencies()

_EXPONENTS: dict[int, Decimal] = {n: Decimal(1).scaleb(-n) for n in range(5)}


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


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if _finite(value) < 0:
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
    AfterValidator(_finite),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]


def minor_units(currency: str) -> int:
    return MINOR_UNITS[currency]


def quantize(amount: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return amount.quantize(_EXPONENTS[MINOR_UNITS[currency]], rounding=rounding)


def check_scale(amount: Decimal, currency: str, field: str) -> None:
    """Refuse a real fraction of a minor unit: rounding an incoming amount would hide an error.

    Zeros written beyond the minor units ("105.750" EUR, as some banks print every amount with three
    decimals) are the same amount and pass.
    """
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MINOR_UNITS[currency] and amount != quantize(amount, currency):
        raise ValueError(f"{field}: {amount} has more decimals than {currency} allows ({MINOR_UNITS[currency]})")


def at_scale(amount: Decimal, currency: str) -> Decimal:
    """The amount written with exactly the currency's minor units, when that loses nothing ("105.750" -> 105.75)."""
    scaled = quantize(amount, currency)
    return scaled if scaled == amount else amount
