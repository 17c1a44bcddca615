"""Vendor master checks: the vendor must exist and be active, and we pay only to an account on file."""

from __future__ import annotations

from reconstream.models.exceptions import Category
from reconstream.models.invoices import Invoice
from reconstream.models.master_data import Vendor
from reconstream.models.payments import PaymentInstruction

from .findings import Finding


def check_vendor(invoice: Invoice, vendor: Vendor | None) -> Finding | None:
    if vendor is None:
        return Finding(
            Category.UNKNOWN_VENDOR,
            (invoice.invoice_id, invoice.vendor_id),
            f"vendor {invoice.vendor_id} is not in the vendor master",
            invoice.gross_amount,
            invoice.currency,
        )
    if not vendor.active:
        return Finding(
            Category.INACTIVE_VENDOR,
            (invoice.invoice_id, vendor.vendor_id),
            f"vendor {vendor.vendor_id} ({vendor.name}) is blocked/inactive in the vendor master",
            invoice.gross_amount,
            invoice.currency,
        )
    return None


def check_creditor_account(instruction: PaymentInstruction, vendor: Vendor | None) -> Finding | None:
    """A payment to an account the vendor master does not hold is the classic payment-fraud pattern."""
    if vendor is None:
        return Finding(
            Category.UNKNOWN_VENDOR,
            (instruction.end_to_end_id, instruction.vendor_id),
            f"payment to vendor {instruction.vendor_id}, who is not in the vendor master",
            instruction.amount,
            instruction.currency,
        )
    on_file = {account.account.key for account in vendor.bank_accounts}
    creditor = instruction.creditor_account.key
    if creditor not in on_file:
        return Finding(
            Category.VENDOR_BANK_MISMATCH,
            (instruction.end_to_end_id, vendor.vendor_id, *instruction.invoice_ids),
            f"creditor account {creditor} is not among the {len(on_file)} account(s) "
            f"on file for vendor {vendor.vendor_id}",
            instruction.amount,
            instruction.currency,
        )
    return None
