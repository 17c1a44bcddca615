"""Bank accounts as banks write them: an IBAN, or a domestic identifier with its scheme and bank id.

Half the world's statements name accounts that are not IBANs: a US account with its ABA routing number,
a UK account with its sort code, a German Kontonummer with its Bankleitzahl, a bank's own proprietary
id. An `AccountRef` carries any of them; its `key` is what cash positions, vendor bank checks and payment
matching compare. An IBAN's key is the IBAN itself, so IBAN accounts read exactly as they always did.

An identifier that claims a scheme and fails its check (a counterparty IBAN with a wrong check digit) is
kept as written under the `unverified` scheme: the money moved whatever the bank printed, so the booking
must not be lost; the converter flags the field as a data-quality finding beside it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError, model_validator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from schwifty.registry import get_iban_spec
from stdnum.us import rtn

from .base import Record


class AccountScheme(StrEnum):
    IBAN = "iban"
    BBAN = "bban"  # a national account number; bank_id is the national bank code (BLZ, bank + branch ...)
    US_ABA = "us_aba"  # bank_id: the 9-digit ABA routing transit number
    UK_SORT_CODE = "uk_sort_code"  # bank_id: the 6-digit sort code
    PROPRIETARY = "proprietary"  # the bank's own id; `issuer` names the scheme when the file does
    UNVERIFIED = "unverified"  # as written, after it failed the check of the scheme it claimed


_COMPACT = re.compile(r"[\s\-./]")


def compact(value: str) -> str:
    """Spaces, dashes, dots and slashes out, upper case: how account ids compare."""
    return _COMPACT.sub("", value).upper()


@lru_cache(maxsize=65_536)
def valid_iban(value: str) -> str:
    """The compact IBAN, or ValueError naming the failing check (length, country format or checksum)."""
    # schwifty, not stdnum.iban: stdnum's country modules also check the bank code against its own list and
    # refuse the IBAN registry's Belgian example BE68 5390 0754 7034. schwifty checks the country's length
    # and layout and the mod 97-10 digits (its stricter validate_bban, national check digits, stays off).
    try:
        return str(IBAN(value))
    except SchwiftyException as exc:
        raise ValueError(str(exc)) from None


@lru_cache(maxsize=4_096)
def valid_bic(value: str) -> str:
    try:
        return str(BIC(value))
    except SchwiftyException as exc:
        raise ValueError(str(exc)) from None


@lru_cache(maxsize=4_096)
def iban_shaped(value: str) -> bool:
    """An IBAN by its country's length and layout, whatever its check digits say (a mistyped one included)."""
    text = compact(value)
    try:
        spec = get_iban_spec(text[:2])
    except SchwiftyException:
        return False
    return len(text) == spec.iban_length and text[2:4].isdigit() and bool(spec.regex.match(text[4:]))


def looks_like_iban(value: str) -> bool:
    text = compact(value)
    return len(text) >= 15 and text[:2].isalpha() and text[2:4].isdigit()


class AccountRef(Record):
    scheme: AccountScheme
    id: str = Field(min_length=1, max_length=70)
    bank_id: str | None = Field(default=None, max_length=35)
    issuer: str | None = Field(default=None, max_length=35)

    @model_validator(mode="after")
    def _checked(self) -> AccountRef:
        # Normalised in place: a frozen record is still being built here, nobody holds it yet.
        if self.scheme is AccountScheme.IBAN:
            object.__setattr__(self, "id", valid_iban(self.id))
        elif self.scheme is AccountScheme.US_ABA:
            if self.bank_id is not None and not rtn.is_valid(self.bank_id):
                raise ValueError(f"bank_id: {self.bank_id!r} is not a valid ABA routing number")
            object.__setattr__(self, "id", compact(self.id))
        elif self.scheme is AccountScheme.UK_SORT_CODE:
            sort_code = compact(self.bank_id or "")
            if not (sort_code.isdigit() and len(sort_code) == 6):
                raise ValueError(f"bank_id: {self.bank_id!r} is not a 6-digit UK sort code")
            object.__setattr__(self, "bank_id", sort_code)
            object.__setattr__(self, "id", compact(self.id))
        elif self.scheme is not AccountScheme.UNVERIFIED:
            object.__setattr__(self, "id", compact(self.id))
        return self

    @property
    def key(self) -> str:
        """What positions, vendor checks and matching compare: the IBAN, else scheme, bank id and id."""
        if self.scheme is AccountScheme.IBAN:
            return self.id
        return f"{self.scheme.value}:{self.bank_id}/{self.id}" if self.bank_id else f"{self.scheme.value}:{self.id}"

    @property
    def iban(self) -> str | None:
        return self.id if self.scheme is AccountScheme.IBAN else None

    def __str__(self) -> str:
        return self.key


def iban_account(value: str) -> AccountRef:
    return AccountRef(scheme=AccountScheme.IBAN, id=value)


def _from_text(value: Any) -> Any:
    # Schema version 1 wrote accounts as IBAN strings (`account_iban`, `creditor_iban`); they still read.
    if isinstance(value, str):
        if not looks_like_iban(value):
            raise ValueError(f"{value!r} is not an IBAN; give an account as {{scheme, id, bank_id}}")
        return {"scheme": AccountScheme.IBAN, "id": value}
    return value


# A field that takes an account object, or an IBAN as a plain string (schema version 1).
Account = Annotated[AccountRef, BeforeValidator(_from_text)]


def read_account(
    raw: str, bank_id: str | None = None, scheme: AccountScheme | None = None
) -> tuple[AccountRef, str | None]:
    """An account as a file wrote it: (the reference, None), or (the raw id as `unverified`, why it failed).

    Without a scheme, an IBAN-shaped id is an IBAN and anything else a national account number (BBAN).
    """
    text = raw.strip()
    bank = bank_id.strip() if bank_id and bank_id.strip() else None
    if scheme is None:
        scheme = AccountScheme.IBAN if looks_like_iban(text) else AccountScheme.BBAN
    try:
        return AccountRef(scheme=scheme, id=text, bank_id=bank), None
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
    # Kept as written, within the field limits: the money moved whatever the file printed.
    kept_bank = bank if bank is not None and len(bank) <= 35 else None
    kept = AccountRef(scheme=AccountScheme.UNVERIFIED, id=text[:70] or "?", bank_id=kept_bank)
    return kept, f"{scheme.value} {text!r} fails its check: {problem}"


_ACCOUNT = TypeAdapter(Account)


def account_of(raw: Any) -> AccountRef:
    """An account as an event wrote it: an object (schema version 2) or an IBAN string (version 1)."""
    return _ACCOUNT.validate_python(raw)
