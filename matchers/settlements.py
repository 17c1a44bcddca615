"""Findings about a bank entry itself, apart from what it pays (matching is in payment_matching.py)."""

from __future__ import annotations

from reconstream.models.bank_details import DataQualityFlag
from reconstream.models.exceptions import Category
from reconstream.models.payments import Settlement

from .findings import Finding, fmt


def data_quality(entry: Settlement, flag: DataQualityFlag) -> Finding:
    """A field the bank file got wrong: the booking stands (money moved), the field needs a look."""
    return Finding(
        Category.DATA_QUALITY,
        (f"{entry.entry_id}|{flag.field}", entry.entry_id),
        f"bank entry {entry.entry_id} ({entry.credit_debit} {fmt(entry.amount, entry.currency)} booked "
        f"{entry.booking_date}): {flag.field} kept as written: {flag.reason}",
    )
