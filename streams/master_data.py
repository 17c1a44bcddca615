"""Master data streams: vendors, purchase orders, goods receipts. They fill the cold tables."""

from __future__ import annotations

from decimal import Decimal

from reconstream.models.events import GoodsReceiptPosted, PurchaseOrderCreated, VendorUpserted
from reconstream.tables.records import ReceivedGoods

from .context import Context


def on_vendor(event: VendorUpserted, ctx: Context) -> None:
    ctx.state.vendors[event.payload.vendor_id] = event.payload


def on_purchase_order(event: PurchaseOrderCreated, ctx: Context) -> None:
    ctx.state.purchase_orders[event.payload.po_number] = event.payload


def on_goods_receipt(event: GoodsReceiptPosted, ctx: Context) -> None:
    receipt = event.payload
    received = ctx.state.received_goods.get(receipt.po_number) or ReceivedGoods(
        po_number=receipt.po_number, quantities={}, gr_numbers=()
    )
    if receipt.gr_number in received.gr_numbers:
        return
    quantities = dict(received.quantities)
    for line in receipt.lines:
        quantities[line.po_line_no] = quantities.get(line.po_line_no, Decimal(0)) + line.quantity
    ctx.state.received_goods[receipt.po_number] = received.model_copy(
        update={"quantities": quantities, "gr_numbers": (*received.gr_numbers, receipt.gr_number)}
    )
