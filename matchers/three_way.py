"""Three-way match: invoice against purchase order and goods receipt, with an explicit tolerance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reconstream.models.exceptions import Category
from reconstream.models.invoices import DocumentType, Invoice
from reconstream.models.master_data import PurchaseOrder
from reconstream.models.money import quantize
from reconstream.tables.records import ReceivedGoods

from .findings import Finding, fmt


@dataclass(frozen=True, slots=True)
class AmountTolerance:
    """An invoice may differ from the received value by the larger of a share and a fixed amount."""

    share: Decimal = Decimal("0.01")
    absolute: Decimal = Decimal("1.00")

    def allows(self, difference: Decimal, expected: Decimal) -> bool:
        return abs(difference) <= max(self.absolute, expected * self.share)


def received_value(po: PurchaseOrder, received: ReceivedGoods) -> Decimal:
    """What we owe for what arrived: per PO line, the lesser of ordered and received, at the PO price."""
    total = Decimal(0)
    for line in po.lines:
        quantity = min(line.quantity, received.quantities.get(line.line_no, Decimal(0)))
        total += quantity * line.unit_price
    return quantize(total, po.currency)


def three_way_match(
    invoice: Invoice, po: PurchaseOrder | None, received: ReceivedGoods | None, tolerance: AmountTolerance
) -> Finding | None:
    if invoice.po_number is None or invoice.document_type is DocumentType.CREDIT_NOTE:
        return None  # non-PO spend (rent, utilities) and credit notes are approved, not matched
    refs = (invoice.invoice_id, invoice.po_number)
    if po is None:
        return Finding(
            Category.PO_MISSING,
            refs,
            f"purchase order {invoice.po_number} does not exist",
            invoice.gross_amount,
            invoice.currency,
        )
    if received is None or not received.gr_numbers:
        return Finding(
            Category.GR_MISSING,
            refs,
            f"no goods receipt posted against purchase order {po.po_number}",
            invoice.gross_amount,
            invoice.currency,
        )
    if po.currency != invoice.currency:
        return Finding(
            Category.AMOUNT_MISMATCH,
            refs,
            f"invoice currency {invoice.currency} differs from PO currency {po.currency}",
            invoice.gross_amount,
            invoice.currency,
        )
    expected = received_value(po, received)
    difference = invoice.net_amount - expected
    if tolerance.allows(difference, expected):
        return None
    return Finding(
        Category.AMOUNT_MISMATCH,
        refs,
        f"invoice net {fmt(invoice.net_amount, invoice.currency)} vs received value "
        f"{fmt(expected, invoice.currency)} on PO {po.po_number}: difference {fmt(difference, invoice.currency)} "
        f"exceeds tolerance (max of {tolerance.absolute} and {tolerance.share:%})",
        abs(difference),
        invoice.currency,
    )
