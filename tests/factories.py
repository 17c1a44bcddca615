"""Small builders for hand-written test events (masked data: synthetic names, valid-checksum IBANs)."""

from __future__ import annotations

from itertools import count
from typing import Any, TypeVar

from reconstream.models.base import Record
from reconstream.models.events import Event, validate
from schwifty import IBAN

R = TypeVar("R", bound=Record)


def record_of(kind: type[R], record: Record) -> R:
    """An output's (or an event's payload) record, checked to be of the kind the test reads it as."""
    assert isinstance(record, kind)
    return record


VENDOR_IBAN = str(IBAN.generate("DE", bank_code="37040044", account_code="532013000"))
OTHER_IBAN = str(IBAN.generate("DE", bank_code="37040044", account_code="532013999"))
HOUSE_IBAN = str(IBAN.generate("DE", bank_code="50010517", account_code="0648489890"))

_ids = count(1)


def event(event_type: str, at: str, payload: dict[str, Any], **envelope: Any) -> Event:
    return validate(
        {
            "event_id": envelope.pop("event_id", f"ev-{next(_ids)}"),
            "source_system": "test",
            "event_time": at,
            "event_type": event_type,
            "payload": payload,
            **envelope,
        }
    )


def vendor(at: str = "2026-11-01T00:00:00Z", vendor_id: str = "V1", active: bool = True) -> Event:
    return event(
        "vendor.upserted",
        at,
        {
            "vendor_id": vendor_id,
            "name": "Nordwind Logistik GmbH",
            "bank_accounts": [{"iban": VENDOR_IBAN}],
            "active": active,
        },
    )


def purchase_order(at: str = "2026-11-01T01:00:00Z", po: str = "PO-1", qty: str = "10", price: str = "10.00") -> Event:
    return event(
        "purchase_order.created",
        at,
        {
            "po_number": po,
            "vendor_id": "V1",
            "company_code": "1000",
            "currency": "EUR",
            "order_date": "2026-11-01",
            "lines": [{"line_no": 1, "quantity": qty, "unit_price": price}],
        },
    )


def goods_receipt(at: str = "2026-11-02T00:00:00Z", po: str = "PO-1", qty: str = "10", gr: str = "GR-1") -> Event:
    return event(
        "goods_receipt.posted",
        at,
        {"gr_number": gr, "po_number": po, "receipt_date": "2026-11-02", "lines": [{"po_line_no": 1, "quantity": qty}]},
    )


def invoice(
    at: str = "2026-11-03T00:00:00Z",
    invoice_id: str = "I1",
    number: str = "INV-1",
    net: str = "100.00",
    tax: str = "19.00",
    vendor_id: str = "V1",
    po: str | None = None,
    **fields: Any,
) -> Event:
    from decimal import Decimal

    payload = {
        "invoice_id": invoice_id,
        "supplier_invoice_number": number,
        "vendor_id": vendor_id,
        "company_code": "1000",
        "invoice_date": "2026-11-03",
        "currency": "EUR",
        "net_amount": net,
        "tax_amount": tax,
        "gross_amount": str(Decimal(net) + Decimal(tax)),
        **fields,
    }
    if po is not None:
        payload["po_number"] = po
    return event("invoice.captured", at, payload, correlation_id=f"corr-{invoice_id}")


def status(at: str, invoice_id: str, status: str, **fields: Any) -> Event:
    return event("invoice.status_changed", at, {"invoice_id": invoice_id, "status": status, **fields})


def posted(at: str, invoice_id: str = "I1") -> Event:
    return status(at, invoice_id, "posted", erp_system="sap-s4hana", erp_document_number="5100000001", fiscal_year=2026)


def batch(at: str, batch_id: str = "B1", instructions: list[dict[str, Any]] | None = None) -> Event:
    return event(
        "payment_batch.released",
        at,
        {
            "batch_id": batch_id,
            "company_code": "1000",
            "debtor_iban": HOUSE_IBAN,
            "requested_execution_date": at[:10],
            "instructions": instructions or [instruction()],
        },
    )


def instruction(
    e2e: str = "E1", invoice_ids: tuple[str, ...] = ("I1",), amount: str = "119.00", iban: str = VENDOR_IBAN
) -> dict[str, Any]:
    return {
        "end_to_end_id": e2e,
        "invoice_ids": list(invoice_ids),
        "vendor_id": "V1",
        "amount": amount,
        "currency": "EUR",
        "creditor_iban": iban,
    }


def ack(
    at: str,
    batch_id: str = "B1",
    group_status: str | None = "ACSP",
    transactions: list[dict[str, Any]] | None = None,
    ack_id: str | None = None,
) -> Event:
    payload: dict[str, Any] = {"ack_id": ack_id or f"ACK-{next(_ids)}", "original_batch_id": batch_id}
    if group_status:
        payload["group_status"] = group_status
    if transactions:
        payload["transactions"] = transactions
    return event("bank_ack.received", at, payload)


def settlement(
    at: str,
    entry_id: str = "S1",
    amount: str = "119.00",
    e2e: str | None = "E1",
    counterparty: str | None = VENDOR_IBAN,
    booking_date: str | None = None,
    remittance: str | None = None,
) -> Event:
    payload: dict[str, Any] = {
        "entry_id": entry_id,
        "account_iban": HOUSE_IBAN,
        "amount": amount,
        "currency": "EUR",
        "credit_debit": "DBIT",
        "booking_date": booking_date or at[:10],
        "value_date": booking_date or at[:10],
    }
    if e2e:
        payload["end_to_end_id"] = e2e
    if counterparty:
        payload["counterparty_iban"] = counterparty
    if remittance:
        payload["remittance_info"] = remittance
    return event("settlement.booked", at, payload)


def paid_invoice_flow(settle_amount: str = "119.00") -> list[Event]:
    """One invoice from vendor master data to its settlement on the bank account, nothing wrong on the way."""
    return [
        vendor(),
        purchase_order(),
        goods_receipt(),
        invoice(po="PO-1", net="100.00"),
        status("2026-11-03T05:00:00Z", "I1", "approved"),
        posted("2026-11-03T06:00:00Z"),
        batch("2026-11-04T06:00:00Z"),
        ack("2026-11-04T06:10:00Z"),
        settlement("2026-11-05T08:00:00Z", amount=settle_amount),
    ]


def manual_match(
    at: str, entry_id: str, invoice_ids: tuple[str, ...], by: str = "tina.treasury", **envelope: Any
) -> Event:
    """A treasury analyst's match of a bank line by hand, as the case store writes it (schema version 3)."""
    return event(
        "settlement.matched_manually",
        at,
        {"entry_id": entry_id, "invoice_ids": list(invoice_ids), "matched_by": by, "case_id": "exc-test"},
        schema_version=3,
        **envelope,
    )
