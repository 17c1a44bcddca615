"""What two invoices have in common, field by field: the evidence every duplicate rule weighs.

Who the supplier is (the same vendor id, or two ids of one supplier by tax id or bank account), how the
amounts and dates relate, and the fields two copies of one document cannot disagree on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from reconstream.models.exceptions import Category
from reconstream.models.invoices import Invoice
from reconstream.models.master_data import Vendor

from .findings import Finding


# -- who the supplier is ---------------------------------------------------------------------------
def _compact(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class SupplierIdentity:
    """What makes two vendor ids one supplier: the tax id, or a bank account they share."""

    vendor_id: str
    tax_id: str | None = None
    accounts: tuple[str, ...] = ()  # keys of its bank accounts

    @classmethod
    def of(cls, vendor: Vendor) -> SupplierIdentity:
        return cls(
            vendor.vendor_id,
            _compact(vendor.tax_id) if vendor.tax_id else None,
            tuple(sorted(account.account.key for account in vendor.bank_accounts)),
        )

    def tokens(self) -> list[str]:
        """Blocking tokens; the vendor id only when nothing stronger is on file (the tax id covers it)."""
        tokens = [f"T:{self.tax_id}"] if self.tax_id else []
        tokens += [f"B:{account}" for account in self.accounts]
        return tokens or [f"V:{self.vendor_id}"]


class SupplierRelation(StrEnum):
    SAME_VENDOR = "same_vendor"
    SAME_TAX_ID = "same_tax_id"
    SAME_BANK_ACCOUNT = "same_bank_account"


def supplier_relation(
    vendor_id: str, earlier_vendor_id: str, identities: Mapping[str, SupplierIdentity]
) -> tuple[SupplierRelation, str] | None:
    if vendor_id == earlier_vendor_id:
        return SupplierRelation.SAME_VENDOR, "same vendor"
    mine, theirs = identities.get(vendor_id), identities.get(earlier_vendor_id)
    if mine is None or theirs is None:
        return None
    if mine.tax_id and mine.tax_id == theirs.tax_id:
        why = f"vendor {vendor_id} is the same supplier as {earlier_vendor_id} (tax id {mine.tax_id})"
        return SupplierRelation.SAME_TAX_ID, why
    shared = sorted(set(mine.accounts) & set(theirs.accounts))
    if shared:
        why = f"vendor {vendor_id} is the same supplier as {earlier_vendor_id} (bank account {shared[0]})"
        return SupplierRelation.SAME_BANK_ACCOUNT, why
    return None


# -- the fuzzy tier --------------------------------------------------------------------------------
class AmountRelation(StrEnum):
    EQUAL = "equal"
    NET_GROSS = "net_gross"  # one copy keyed net where the other has gross
    NEAR = "near"
    DIFFERENT = "different"


class DateRelation(StrEnum):
    SAME = "same"
    SWAPPED = "swapped"  # 03.04. keyed as 04.03.
    NEAR = "near"
    FAR = "far"


@dataclass(frozen=True, slots=True)
class DuplicatePolicy:
    """Tolerances of the fuzzy tier, each in one unit and explicit."""

    amount_tolerance_abs: Decimal = Decimal("1.00")  # document currency
    amount_tolerance_rel: Decimal = Decimal("0.005")  # of the larger gross amount
    near_days: int = 10  # a re-keyed copy may carry the receipt date instead of the invoice date (2-9 days on)
    typo_days: int = 3  # a mistyped number needs the date closer than a re-keyed one


DEFAULT_POLICY = DuplicatePolicy()


@dataclass(frozen=True, slots=True)
class DuplicateDecision:
    invoice_id: str
    earlier_invoice_id: str
    rule: str
    score: int
    reasons: tuple[str, ...]
    amount: Decimal
    currency: str

    def finding(self) -> Finding:
        return Finding(
            Category.DUPLICATE_INVOICE,
            (self.invoice_id, self.earlier_invoice_id),
            f"duplicate of {self.earlier_invoice_id} (score {self.score}, rule {self.rule}): "
            + ", ".join(self.reasons),
            self.amount,
            self.currency,
        )


def compare_amounts(invoice: Invoice, earlier: Invoice, policy: DuplicatePolicy) -> tuple[AmountRelation, str]:
    gross, other = invoice.gross_amount, earlier.gross_amount
    if gross == other:
        return AmountRelation.EQUAL, "same gross amount"
    if gross == earlier.net_amount or invoice.net_amount == other:
        return AmountRelation.NET_GROSS, "net amount of one equals the gross of the other"
    tolerance = max(policy.amount_tolerance_abs, policy.amount_tolerance_rel * max(gross, other))
    if abs(gross - other) <= tolerance:
        return AmountRelation.NEAR, f"gross amount {gross - other:+} {invoice.currency} apart"
    return AmountRelation.DIFFERENT, "different amount"


def compare_dates(invoice_date: date, earlier_date: date, policy: DuplicatePolicy) -> tuple[DateRelation, int, str]:
    days = (invoice_date - earlier_date).days
    if days == 0:
        return DateRelation.SAME, 0, "same invoice date"
    if (invoice_date.year, invoice_date.day, invoice_date.month) == (
        earlier_date.year,
        earlier_date.month,
        earlier_date.day,
    ):
        return DateRelation.SWAPPED, abs(days), f"date {invoice_date} is {earlier_date} with day and month swapped"
    if abs(days) <= policy.near_days:
        return DateRelation.NEAR, abs(days), f"date {days:+} days"
    return DateRelation.FAR, abs(days), f"date {days:+} days"


def conflicts(invoice: Invoice, earlier: Invoice, weak_number: bool) -> str | None:
    """Fields two copies of one document cannot disagree on; a reason they are two documents."""
    if invoice.po_number and earlier.po_number and invoice.po_number != earlier.po_number:
        return "different purchase orders"
    if not weak_number:
        return None
    if invoice.due_date and earlier.due_date and invoice.due_date != earlier.due_date:
        return "different due dates"
    descriptions = sorted(line.description for line in invoice.lines)
    earlier_descriptions = sorted(line.description for line in earlier.lines)
    if descriptions and earlier_descriptions and descriptions != earlier_descriptions:
        return "different invoice lines"
    return None
