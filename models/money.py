"""Money: Decimal amounts with an ISO 4217 currency, quantized to the currency's minor units."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from iso4217 import Currency
from pydantic import AfterValidator, BeforeValidator, PlainSerializer

from .limits import current


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


# Plain decimal notation in ASCII digits, as docs/events.md gives it. Python's Decimal also reads "1e2",
# "1_000.00", "+12", ".50", "NaN" and digits of every script ("١٢"): each a way for a feed's bug or a
# forged line to become an amount nobody wrote. Surrounding spaces (fixed-width exports) are dropped.
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_MAX_TEXT = 40  # longer than any amount within the bounds can be written


def decimal_text(value: Any) -> Any:
    """Money or a quantity as received: a decimal string, or a JSON integer (exact). Decimals built by
    the engine itself pass as they are."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a decimal string, not a boolean")
    if isinstance(value, float):
        # A JSON float has already lost exactness before we see it; money must arrive as a string.
        raise ValueError(f'must be a decimal string such as "{value}", not a JSON number with a fraction')
    if isinstance(value, int):
        return Decimal(value) if abs(value) < 10**_MAX_TEXT else _too_long()
    if not isinstance(value, str):
        raise ValueError(f"must be a decimal string, got {type(value).__name__}")
    text = value.strip()
    if len(text) > _MAX_TEXT:
        _too_long()
    if not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(f"{value!r} is not a plain decimal such as 1234.50 (ASCII digits, one point, no exponent)")
    return Decimal(text)


def _too_long() -> Decimal:
    raise ValueError(f"has more than {_MAX_TEXT} characters")


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    return value


def _within_bounds(value: Decimal) -> Decimal:
    bound = current().max_amount
    if not -bound < _finite(value) < bound:
        raise ValueError(f"{value} is beyond the largest amount accepted ({bound:,f}; [limits] max_amount)")
    return value


def _unsigned_text(value: Any) -> Any:
    # "-0.00" is no amount anyone meant: direction is the document's (credit note, DBIT/CRDT), never a sign.
    if isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"must not be negative, got {value.strip()}")
    return decimal_text(value)


def _non_negative(value: Decimal) -> Decimal:
    if _finite(value) < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def _no_float(value: Any) -> Any:
    # A float has already lost exactness before we see it. What the engine keeps (its state, its outputs)
    # is read back as Decimal wrote it, exponents included: the strict forms are for what others send.
    if isinstance(value, float | bool):
        raise ValueError(f"must be a decimal string, not {type(value).__name__}")
    return value


def _quantity(value: Decimal) -> Decimal:
    bound = current().max_quantity
    if not value.is_finite() or not value < bound:
        raise ValueError(f"{value} is beyond the largest quantity accepted ({bound:,f}; [limits] max_quantity)")
    return value


# The common case in one call from pydantic-core instead of three: a plain decimal string within the
# bounds (a profile of a month-end put a fifth of decoding in these checks). Anything else takes the
# checks one by one, in the same order, so what is refused is refused with the same words.
_PLAIN_UNSIGNED = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,9})?")
_PLAIN_SIGNED = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,9})?")

# Equal quantity texts give one shared Decimal (immutable, so sharing is safe): tax rates and quantities
# repeat on nearly every invoice line, and each Decimal is 104 bytes. Amounts mostly do not repeat: sharing
# them cost more CPU than it saved memory. Emptied when full, so texts that never repeat cost at most
# this many entries.
_SHARED: dict[str, Decimal] = {}
_SHARED_AT_MOST = 1 << 12


def _decimal(text: str) -> Decimal:
    shared = _SHARED.get(text)
    if shared is None:
        if len(_SHARED) >= _SHARED_AT_MOST:
            _SHARED.clear()
        shared = _SHARED[text] = Decimal(text)
    return shared


def _received_amount(value: Any) -> Decimal:
    if type(value) is str and _PLAIN_UNSIGNED.fullmatch(value):
        amount = Decimal(value)
        if amount < current().max_amount:
            return amount
    return _within_bounds(_non_negative(_unsigned_text(value)))


def _received_signed_amount(value: Any) -> Decimal:
    if type(value) is str and _PLAIN_SIGNED.fullmatch(value):
        amount = Decimal(value)
        bound = current().max_amount
        if -bound < amount < bound:
            return amount
    return _within_bounds(decimal_text(value))


def _received_quantity(value: Any) -> Decimal:
    if type(value) is str and _PLAIN_UNSIGNED.fullmatch(value):
        quantity = _decimal(value)
        if quantity < current().max_quantity:
            return quantity
    return _quantity(decimal_text(value))


CurrencyCode = Annotated[str, BeforeValidator(_currency_code)]
_AS_TEXT = PlainSerializer(lambda d: str(d), return_type=str, when_used="json")

# What the engine keeps and emits. Non-negative: direction is carried by the document (credit note,
# debit entry), never by the sign. Sums of received amounts may pass the bounds of one received amount.
Amount = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_non_negative), _AS_TEXT]
# Signed sums (balances, positions) may go below zero.
SignedAmount = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_finite), _AS_TEXT]

# What others send (the events' payloads): plain decimal text, within [limits].
ReceivedAmount = Annotated[Decimal, BeforeValidator(_received_amount), _AS_TEXT]
ReceivedSignedAmount = Annotated[Decimal, BeforeValidator(_received_signed_amount), _AS_TEXT]
# Counts of goods and percentages: the same plain decimal text as money, bounded so that a quantity
# times a unit price stays exact.
Quantity = Annotated[Decimal, BeforeValidator(_received_quantity)]


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
