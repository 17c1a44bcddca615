"""What the engine emits besides exceptions: matches, AP status updates, dead letters, cash positions."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from .base import Record, UtcDatetime
from .money import Amount, CurrencyCode, SignedAmount


class MatchMethod(StrEnum):
    END_TO_END_ID = "end_to_end_id"
    AMOUNT_CREDITOR_DATE = "amount_creditor_date"


class Match(Record):
    match_id: str
    settlement_entry_id: str
    end_to_end_id: str
    batch_id: str
    invoice_ids: tuple[str, ...]
    method: MatchMethod
    confidence: int = Field(ge=0, le=100)
    evidence: tuple[str, ...] = ()
    amount: Amount
    currency: CurrencyCode
    matched_at: UtcDatetime
    correlation_id: str | None = None


class ApStatus(StrEnum):
    """What the AP platform is told, so its users never work from a stale status (closed loop)."""

    VALIDATED = "validated"
    ON_HOLD = "on_hold"
    APPROVED = "approved"
    BOOKED = "booked"
    POSTING_FAILED = "posting_failed"
    REJECTED = "rejected"
    PAYMENT_SENT = "payment_sent"
    PAYMENT_REJECTED = "payment_rejected"
    PAID = "paid"


class StatusUpdate(Record):
    update_id: str
    invoice_id: str
    correlation_id: str | None = None
    status: ApStatus
    at: UtcDatetime
    erp_document_number: str | None = None
    fiscal_year: int | None = None
    end_to_end_id: str | None = None
    detail: str | None = None


class DeadLetter(Record):
    dead_letter_id: str
    source: str = Field(description="where the input came from: file:line, or topic/partition/offset")
    stream: str
    category: str
    field: str
    reason: str
    event_id: str | None = None
    raw: str


class CashPosition(Record):
    account_iban: str
    currency: CurrencyCode
    booked_balance: SignedAmount = Decimal(0)
    in_flight_outgoing: Amount = Decimal(0)
    projected_balance: SignedAmount = Decimal(0)
    as_of: UtcDatetime | None = None
