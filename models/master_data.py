"""Master data: vendors, purchase orders and goods receipts (the cold tables)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AliasChoices, Field, model_validator

from .accounts import Account, valid_bic, valid_iban
from .base import CalendarDate, Record
from .money import CurrencyCode, Quantity, ReceivedAmount, check_scale

Iban = Annotated[str, AfterValidator(valid_iban)]
Bic = Annotated[str, AfterValidator(valid_bic)]


class BankAccount(Record):
    # Schema version 1 wrote {"iban": ...}; version 2 any account: {"account": {scheme, id, bank_id}}.
    account: Account = Field(validation_alias=AliasChoices("account", "iban"))
    bic: Bic | None = None


class Vendor(Record):
    vendor_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    tax_id: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)
    bank_accounts: tuple[BankAccount, ...] = ()
    active: bool = True


class PurchaseOrderLine(Record):
    line_no: int = Field(ge=1)
    description: str = ""
    quantity: Quantity = Field(gt=0)
    unit_price: ReceivedAmount


class PurchaseOrder(Record):
    po_number: str = Field(min_length=1)
    vendor_id: str = Field(min_length=1)
    company_code: str = Field(min_length=1)
    currency: CurrencyCode
    order_date: CalendarDate
    lines: tuple[PurchaseOrderLine, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _scale(self) -> PurchaseOrder:
        for line in self.lines:
            check_scale(line.unit_price, self.currency, f"lines[{line.line_no}].unit_price")
        return self


class GoodsReceiptLine(Record):
    po_line_no: int = Field(ge=1)
    quantity: Quantity = Field(gt=0)


class GoodsReceipt(Record):
    gr_number: str = Field(min_length=1)
    po_number: str = Field(min_length=1)
    receipt_date: CalendarDate
    lines: tuple[GoodsReceiptLine, ...] = Field(min_length=1)
