"""Supplier invoices and their status events from AP workflow and ERP posting."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from .accounts import Account
from .bank_details import DataQualityFlag
from .base import CalendarDate, Record
from .creditor_references import reference_scheme
from .money import CurrencyCode, Quantity, ReceivedAmount, check_scale


class DocumentType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceLine(Record):
    line_no: int = Field(ge=1)
    description: str = ""
    quantity: Quantity = Field(gt=0)
    unit_price: ReceivedAmount
    net_amount: ReceivedAmount
    tax_rate: Quantity = Field(default=Decimal(0), ge=0, le=100)
    po_line_no: int | None = None


class Invoice(Record):
    invoice_id: str = Field(min_length=1, description="AP platform id; stable across the invoice's life")
    supplier_invoice_number: str = Field(min_length=1)
    document_type: DocumentType = DocumentType.INVOICE
    vendor_id: str = Field(min_length=1)
    company_code: str = Field(min_length=1)
    invoice_date: CalendarDate
    due_date: CalendarDate | None = None
    currency: CurrencyCode
    net_amount: ReceivedAmount
    tax_amount: ReceivedAmount
    gross_amount: ReceivedAmount
    po_number: str | None = None
    creditor_reference: str | None = Field(
        default=None, description="the reference the payer quotes: ISO 11649 RF, Swiss QR, Belgian OGM ... (checked)"
    )
    payee_account: Account | None = Field(default=None, description="the account the supplier asks to be paid to")
    lines: tuple[InvoiceLine, ...] = ()
    data_quality: tuple[DataQualityFlag, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _signed_credit_note(cls, data: Any) -> Any:
        """Many AP platforms export a credit note as an invoice with negative amounts: read it as a credit note."""
        if not isinstance(data, dict) or not all(_negative(data.get(name)) is not None for name in _TOTALS):
            return data
        signs = [_negative(data[name]) for name in _TOTALS]
        if not any(signs) or not all(sign or _zero(data[name]) for sign, name in zip(signs, _TOTALS, strict=True)):
            return data  # all positive, or mixed signs: the ordinary checks speak
        flipped = {**data, "document_type": DocumentType.CREDIT_NOTE.value}
        for name in _TOTALS:
            flipped[name] = _absolute(data[name])
        if isinstance(data.get("lines"), list | tuple):
            flipped["lines"] = [_absolute_line(line) for line in data["lines"]]
        return flipped

    @field_validator("creditor_reference")
    @classmethod
    def _reference_checks(cls, value: str | None) -> str | None:
        # A reference that fails its check digits would match nothing, or the wrong invoice: refuse it here.
        if value is not None and reference_scheme(value) is None:
            raise ValueError(
                f"{value!r} passes the check of no creditor reference scheme (ISO 11649 RF, Swiss QR, Belgian OGM, "
                "Dutch betalingskenmerk, Finnish, Norwegian KID, Swedish OCR)"
            )
        return value

    @model_validator(mode="after")
    def _totals(self) -> Invoice:
        for name in ("net_amount", "tax_amount", "gross_amount"):
            check_scale(getattr(self, name), self.currency, name)
        if self.net_amount + self.tax_amount != self.gross_amount:
            raise ValueError(
                f"gross_amount: {self.gross_amount} != net_amount {self.net_amount} + tax_amount {self.tax_amount}"
            )
        if self.lines and sum((line.net_amount for line in self.lines), Decimal(0)) != self.net_amount:
            raise ValueError(f"lines: line net amounts do not add up to net_amount {self.net_amount}")
        return self


_TOTALS = ("net_amount", "tax_amount", "gross_amount")


def _negative(value: Any) -> bool | None:
    """Whether a money value as received is negative; None when it is not money text at all."""
    if isinstance(value, str):
        text = value.strip()
        return text.startswith("-") if text else None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return value < 0
    return None


def _zero(value: Any) -> bool:
    try:
        return Decimal(str(value).strip()) == 0
    except ArithmeticError:
        return False


def _absolute(value: Any) -> Any:
    return value.strip().removeprefix("-") if isinstance(value, str) else abs(value)


def _absolute_line(line: Any) -> Any:
    if not isinstance(line, dict):
        return line
    fixed = dict(line)
    for name in ("quantity", "unit_price", "net_amount"):
        if _negative(line.get(name)):
            fixed[name] = _absolute(line[name])
    return fixed


class InvoiceStatus(StrEnum):
    APPROVED = "approved"
    POSTED = "posted"
    POSTING_FAILED = "posting_failed"
    # Version 4: the posting service got no verdict from the ERP within its retry budget; the ERP may or may
    # not hold the document, which is why it is its own status and not a refusal.
    POSTING_TIMED_OUT = "posting_timed_out"
    REJECTED = "rejected"


class InvoiceStatusChange(Record):
    invoice_id: str = Field(min_length=1)
    status: InvoiceStatus
    erp_system: str | None = None
    erp_document_number: str | None = None
    fiscal_year: int | None = Field(default=None, ge=1900, le=2999)
    posting_date: CalendarDate | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _posted_needs_document(self) -> InvoiceStatusChange:
        # The closed loop is only closed if the ERP's document number comes back.
        if self.status is InvoiceStatus.POSTED and not (self.erp_document_number and self.fiscal_year):
            raise ValueError("erp_document_number: a posted status needs erp_document_number and fiscal_year")
        return self
