"""Supplier invoices and their status events from AP workflow and ERP posting."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from .base import Record
from .creditor_reference import is_valid_rf
from .money import Amount, CurrencyCode, check_scale


class DocumentType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceLine(Record):
    line_no: int = Field(ge=1)
    description: str = ""
    quantity: Decimal = Field(gt=0)
    unit_price: Amount
    net_amount: Amount
    tax_rate: Decimal = Field(default=Decimal(0), ge=0, le=100)
    po_line_no: int | None = None


class Invoice(Record):
    invoice_id: str = Field(min_length=1, description="AP platform id; stable across the invoice's life")
    supplier_invoice_number: str = Field(min_length=1)
    document_type: DocumentType = DocumentType.INVOICE
    vendor_id: str = Field(min_length=1)
    company_code: str = Field(min_length=1)
    invoice_date: date
    due_date: date | None = None
    currency: CurrencyCode
    net_amount: Amount
    tax_amount: Amount
    gross_amount: Amount
    po_number: str | None = None
    creditor_reference: str | None = Field(default=None, description="ISO 11649 RF reference the payer quotes")
    lines: tuple[InvoiceLine, ...] = ()

    @field_validator("creditor_reference")
    @classmethod
    def _rf_checks(cls, value: str | None) -> str | None:
        # A reference that fails its check digits would match nothing, or the wrong invoice: refuse it here.
        if value is not None and not is_valid_rf(value):
            raise ValueError(f"{value!r} is not an ISO 11649 creditor reference (RF + check digits)")
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


class InvoiceStatus(StrEnum):
    APPROVED = "approved"
    POSTED = "posted"
    POSTING_FAILED = "posting_failed"
    REJECTED = "rejected"


class InvoiceStatusChange(Record):
    invoice_id: str = Field(min_length=1)
    status: InvoiceStatus
    erp_system: str | None = None
    erp_document_number: str | None = None
    fiscal_year: int | None = Field(default=None, ge=1900, le=2999)
    posting_date: date | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _posted_needs_document(self) -> InvoiceStatusChange:
        # The closed loop is only closed if the ERP's document number comes back.
        if self.status is InvoiceStatus.POSTED and not (self.erp_document_number and self.fiscal_year):
            raise ValueError("erp_document_number: a posted status needs erp_document_number and fiscal_year")
        return self
