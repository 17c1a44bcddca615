"""One supplier's invoice and the vendor ids it goes by, for the duplicate rule tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from reconstream.matchers.duplicates import SupplierIdentity
from reconstream.models.invoices import Invoice, InvoiceLine

IDENTITIES = {
    "V1": SupplierIdentity("V1", "DE123456789", ("DE89370400440532013000",)),
    "V1B": SupplierIdentity("V1B", "DE123456789", ()),  # onboarded twice, same tax id
    "V1C": SupplierIdentity("V1C", None, ("DE89370400440532013000",)),  # same account, no tax id
    "V2": SupplierIdentity("V2", "DE987654321", ("DE02120300000000202051",)),
}


def inv(
    invoice_id: str = "I1",
    number: str = "NL-2026-00042",
    net: str = "1000.00",
    tax: str = "190.00",
    on: date = date(2026, 3, 4),
    vendor: str = "V1",
    **fields: Any,
) -> Invoice:
    line_text = fields.pop("line", "Maintenance March")
    return Invoice(
        invoice_id=invoice_id,
        supplier_invoice_number=number,
        vendor_id=vendor,
        company_code="1000",
        invoice_date=on,
        currency="EUR",
        net_amount=Decimal(net),
        tax_amount=Decimal(tax),
        gross_amount=Decimal(net) + Decimal(tax),
        lines=(
            InvoiceLine(
                line_no=1, description=line_text, quantity=Decimal(1), unit_price=Decimal(net), net_amount=Decimal(net)
            ),
        ),
        **fields,
    )


ORIGINAL = inv()
