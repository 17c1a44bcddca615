"""Reconciliation exceptions: category, kind and owner queue (design.md), severity and due time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from .base import Record, UtcDatetime
from .ids import stable_id
from .money import CurrencyCode, SignedAmount


class Category(StrEnum):
    DUPLICATE_INVOICE = "duplicate_invoice"
    AMOUNT_MISMATCH = "amount_mismatch"
    PO_MISSING = "po_missing"
    GR_MISSING = "gr_missing"
    UNKNOWN_VENDOR = "unknown_vendor"
    INACTIVE_VENDOR = "inactive_vendor"
    VENDOR_BANK_MISMATCH = "vendor_bank_mismatch"
    DUPLICATE_PAYMENT = "duplicate_payment"
    PAYMENT_REJECTED = "payment_rejected"
    MISSING_ACK = "missing_ack"
    MISSING_SETTLEMENT = "missing_settlement"
    SETTLEMENT_AMOUNT_MISMATCH = "settlement_amount_mismatch"
    UNMATCHED_SETTLEMENT = "unmatched_settlement"
    BALANCE_MISMATCH = "balance_mismatch"
    MALFORMED_EVENT = "malformed_event"
    SCHEMA_VIOLATION = "schema_violation"
    ERP_POSTING_FAILED = "erp_posting_failed"
    ERP_TIMEOUT = "erp_timeout"
    DATA_QUALITY = "data_quality"  # a field kept as written although it failed a check (the booking stands)


class Kind(StrEnum):
    BUSINESS = "business"
    TECHNICAL = "technical"


class OwnerQueue(StrEnum):
    AP = "ap"
    VENDOR_MASTER = "vendor_master"
    TREASURY = "treasury"
    INTEGRATION = "integration"


ROUTING: dict[Category, tuple[Kind, OwnerQueue]] = {
    **{
        c: (Kind.BUSINESS, OwnerQueue.AP)
        for c in (Category.DUPLICATE_INVOICE, Category.AMOUNT_MISMATCH, Category.PO_MISSING, Category.GR_MISSING)
    },
    **{
        c: (Kind.BUSINESS, OwnerQueue.VENDOR_MASTER)
        for c in (Category.UNKNOWN_VENDOR, Category.INACTIVE_VENDOR, Category.VENDOR_BANK_MISMATCH)
    },
    **{
        c: (Kind.BUSINESS, OwnerQueue.TREASURY)
        for c in (
            Category.DUPLICATE_PAYMENT,
            Category.PAYMENT_REJECTED,
            Category.MISSING_ACK,
            Category.MISSING_SETTLEMENT,
            Category.SETTLEMENT_AMOUNT_MISMATCH,
            Category.UNMATCHED_SETTLEMENT,
            Category.BALANCE_MISMATCH,
        )
    },
    **{
        c: (Kind.TECHNICAL, OwnerQueue.INTEGRATION)
        for c in (
            Category.MALFORMED_EVENT,
            Category.SCHEMA_VIOLATION,
            Category.ERP_POSTING_FAILED,
            Category.ERP_TIMEOUT,
            Category.DATA_QUALITY,
        )
    },
}


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class SeverityPolicy:
    """Severity from the amount at stake (document currency), and how long each severity may stay open."""

    critical_from: Decimal = Decimal(100_000)
    high_from: Decimal = Decimal(10_000)
    medium_from: Decimal = Decimal(1_000)
    critical_within: timedelta = timedelta(hours=4)
    high_within: timedelta = timedelta(days=1)
    medium_within: timedelta = timedelta(days=3)
    low_within: timedelta = timedelta(days=5)
    technical: Severity = Severity.HIGH  # a broken feed blocks every document behind it

    def severity(self, kind: Kind, amount: Decimal | None) -> Severity:
        if amount is None:
            return self.technical if kind is Kind.TECHNICAL else Severity.LOW
        for threshold, severity in (
            (self.critical_from, Severity.CRITICAL),
            (self.high_from, Severity.HIGH),
            (self.medium_from, Severity.MEDIUM),
        ):
            if amount >= threshold:
                return severity
        return Severity.LOW

    def resolve_within(self, severity: Severity) -> timedelta:
        return {
            Severity.CRITICAL: self.critical_within,
            Severity.HIGH: self.high_within,
            Severity.MEDIUM: self.medium_within,
            Severity.LOW: self.low_within,
        }[severity]


DEFAULT_SEVERITY = SeverityPolicy()


class ExceptionStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ReconException(Record):
    exception_id: str
    category: Category
    kind: Kind
    owner_queue: OwnerQueue
    severity: Severity
    correlation_id: str | None = None
    refs: tuple[str, ...] = Field(description="ids of what it concerns, primary first")
    reason: str
    amount: SignedAmount | None = None
    currency: CurrencyCode | None = None
    first_seen: UtcDatetime
    due_at: UtcDatetime
    status: ExceptionStatus = ExceptionStatus.OPEN
    resolved_at: UtcDatetime | None = None
    resolution: str | None = None
    policy_version: str | None = Field(default=None, description="the decision policy in force when raised")
    company_code: str | None = Field(default=None, description="whose books, as the engine knew when raising it")
    vendor_id: str | None = None
    vendor_name: str | None = Field(default=None, description="the vendor master's name, or the bank's for a line")


def exception_id(category: Category, primary_ref: str) -> str:
    """The id hangs on the category and the primary ref only: the same cause seen again is the same exception."""
    return stable_id("exc", category.value, primary_ref)


def raise_exception(
    category: Category,
    refs: tuple[str, ...],
    reason: str,
    at: datetime,
    correlation_id: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    policy: SeverityPolicy = DEFAULT_SEVERITY,
    policy_version: str | None = None,
) -> ReconException:
    kind, owner = ROUTING[category]
    severity = policy.severity(kind, amount)
    return ReconException(
        exception_id=exception_id(category, refs[0]),
        category=category,
        kind=kind,
        owner_queue=owner,
        severity=severity,
        correlation_id=correlation_id,
        refs=refs,
        reason=reason,
        amount=amount,
        currency=currency,
        first_seen=at,
        due_at=at + policy.resolve_within(severity),
        policy_version=policy_version,
    )
