"""What a bank line says besides its amount: remittance, references, charges, FX, codes, returns.

All of it is carried as the bank wrote it (schema version 2); the matchers decide what it means.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .base import CalendarDate, Record
from .money import CurrencyCode, Quantity, ReceivedAmount


class ReferenceScheme(StrEnum):
    """Creditor references whose check digits were verified (models/creditor_references.py)."""

    RF = "rf"  # ISO 11649
    CH_QR = "ch_qr"  # Swiss QR / ESR reference, 27 digits, mod 10 recursive
    BE_OGM = "be_ogm"  # Belgian structured communication +++123/4567/89002+++
    NL_PAYMENT_REFERENCE = "nl_payment_reference"  # Dutch betalingskenmerk, 16 digits
    FI_REFERENCE = "fi_reference"  # Finnish viitenumero, 7-3-1 weights
    NO_KID = "no_kid"  # Norwegian KID, mod 10 or mod 11
    SE_OCR = "se_ocr"  # Swedish OCR reference, Luhn


class ReferredDocument(Record):
    """One document a payment names (camt RmtInf/Strd: RfrdDocInf with its RfrdDocAmt)."""

    number: str | None = Field(default=None, max_length=140)
    kind: str | None = Field(default=None, description="RfrdDocInf/Tp code: CINV, CREN, DEBN, SOAC ...")
    date: CalendarDate | None = None
    due_amount: ReceivedAmount | None = None
    discount_amount: ReceivedAmount | None = None
    credit_note_amount: ReceivedAmount | None = None
    tax_amount: ReceivedAmount | None = None
    adjustment_amount: ReceivedAmount | None = None
    remitted_amount: ReceivedAmount | None = None
    currency: CurrencyCode | None = None
    creditor_reference: str | None = Field(default=None, max_length=35)
    reference_scheme: ReferenceScheme | None = None
    additional_info: str | None = Field(default=None, max_length=500)


class Charge(Record):
    amount: ReceivedAmount
    currency: CurrencyCode
    included: bool | None = Field(default=None, description="ChrgInclInd: already in the booked amount")
    kind: str | None = None
    bearer: str | None = None


class ForeignExchange(Record):
    """The amount the payer instructed in another currency, and the rate the bank applied."""

    instructed_amount: ReceivedAmount
    instructed_currency: CurrencyCode
    rate: Quantity | None = Field(default=None, gt=0)
    source_currency: CurrencyCode | None = None
    target_currency: CurrencyCode | None = None


class BankTransactionCode(Record):
    """ISO 20022 domain/family/subfamily, and the bank's proprietary code (MT940 GVC, BAI2 type code ...)."""

    domain: str | None = None
    family: str | None = None
    subfamily: str | None = None
    proprietary: str | None = None
    issuer: str | None = None

    @property
    def iso(self) -> str | None:
        parts = (self.domain, self.family, self.subfamily)
        return "/".join(parts) if all(parts) else None  # type: ignore[arg-type]


class ReturnInfo(Record):
    reason_code: str | None = None
    reason_text: str | None = Field(default=None, max_length=500)
    original_end_to_end_id: str | None = None
    original_reference: str | None = None


class BatchInfo(Record):
    """A batch booking: one entry for several payments, their detail not given (or given without amounts)."""

    message_id: str | None = None
    payment_info_id: str | None = None
    count: int | None = Field(default=None, ge=1)
    end_to_end_ids: tuple[str, ...] = Field(default=(), description="of the payments booked together, when given")


class DataQualityFlag(Record):
    """A field the converter kept as written although it failed a check: the booking stands, the field is suspect."""

    field: str
    reason: str
