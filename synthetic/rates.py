"""How often each anomaly and each look-alike occurs, per invoice of the month."""

from __future__ import annotations

from reconstream.models.exceptions import Category

# Shares of the month's invoices. Real AP ledgers see each of these at well under one percent; the
# detector must find every one of them without tripping over the look-alikes.
PLANT_RATES: dict[Category, float] = {
    Category.DUPLICATE_INVOICE: 0.006,
    Category.AMOUNT_MISMATCH: 0.006,
    Category.PO_MISSING: 0.003,
    Category.GR_MISSING: 0.004,
    Category.UNKNOWN_VENDOR: 0.003,
    Category.INACTIVE_VENDOR: 0.003,
    Category.VENDOR_BANK_MISMATCH: 0.003,
    Category.DUPLICATE_PAYMENT: 0.004,
    Category.PAYMENT_REJECTED: 0.006,
    Category.MISSING_ACK: 0.003,
    Category.MISSING_SETTLEMENT: 0.004,
    Category.SETTLEMENT_AMOUNT_MISMATCH: 0.005,
    Category.UNMATCHED_SETTLEMENT: 0.005,
    Category.BALANCE_MISMATCH: 0.0005,
    Category.MALFORMED_EVENT: 0.003,
    Category.SCHEMA_VIOLATION: 0.004,
    Category.ERP_POSTING_FAILED: 0.005,
    Category.ERP_TIMEOUT: 0.004,
}

# From this many invoices on, every category is planted at least once.
EVERY_CATEGORY_FROM = 500

RECURRING_RENT_PAIRS = 0.003
INSTALMENT_PLANS = 0.002
CREDIT_NOTES = 0.004
APPROVER_REJECTS = 0.01
PO_BASED = 0.70
PO_WITHIN_TOLERANCE = 0.15  # of PO invoices: net a few cents off the received value
VENDOR_PAID_IN_ONE = 0.5  # a vendor with several invoices in a run gets some of them in one transfer
SETTLEMENT_WITHOUT_E2E = 0.07
REPAY_AFTER_REJECTION = 0.5
REDELIVERIES_PER_EVENT = 1 / 5000
# How a planted duplicate differs from its original: half re-keyed, half only a fuzzy match finds.
DUPLICATE_VARIANTS = ("rekeyed", "rekeyed", "rekeyed", "rekeyed", "ocr", "transposition", "affix", "date_near")


def planted_counts(invoices: int) -> dict[Category, int]:
    floor = 1 if invoices >= EVERY_CATEGORY_FROM else 0
    return {category: max(floor, round(rate * invoices)) for category, rate in PLANT_RATES.items()}


def share(invoices: int, rate: float) -> int:
    return round(rate * invoices)
