"""Master data and AP events: vendors, POs, goods receipts, captures, approvals and ERP postings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from random import Random
from typing import Any

from reconstream.models.errors import InvariantBroken
from reconstream.models.events import Stream
from reconstream.models.exceptions import Category

from .clock import DAY, HOUR, MINUTE, Formatter, to_date
from .documents import Doc, Fate, PurchaseOrderPlan
from .invoices import ON_HOLD_PLANTS
from .journal import Journal
from .labels import Planting
from .master_data import VendorMaster

AP_PLATFORM = "ap-platform"
VENDOR_MASTER_SOURCE = "sap-s4hana"  # the group's master data governance hub

# Each ERP numbers its accounting documents in its own 10-digit range.
_ERP_DOCUMENT_BASE = {
    "sap-s4hana": 5_100_000_000,
    "oracle-erp-cloud": 3_000_000_000,
    "dynamics-365": 7_200_000_000,
    "netsuite": 4_100_000_000,
    "infor": 6_300_000_000,
}
_APPROVER_REASONS = (
    "not ordered by this cost center",
    "service not rendered as invoiced",
    "wrong legal entity on the invoice",
    "already settled by card",
)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _posting_errors(doc: Doc, posting_ts: int) -> tuple[str, ...]:
    day = to_date(posting_ts)
    return (
        f"posting period {day.month:03d}/{day.year} is not open",
        f"tax code V9 not defined in country {doc.company.country}",
        "cost center 4711 is blocked for primary postings",
        f"vendor {doc.vendor_id} is not extended to company code {doc.company.code}",
        f"exchange rate type M for {doc.company.currency}/USD not maintained for {day.isoformat()}",
        "balance in transaction currency: document is not balanced (rounding difference 0.01)",
    )


def emit_vendors(journal: Journal, master: VendorMaster, ts: int) -> None:
    for offset, vendor in enumerate(master.all):
        journal.add(Stream.VENDORS, ts + offset, VENDOR_MASTER_SOURCE, vendor.payload())


def emit_purchase_orders(journal: Journal, orders: list[PurchaseOrderPlan], fmt: Formatter) -> None:
    for po in orders:
        payload = {
            "po_number": po.po_number,
            "vendor_id": po.vendor_id,
            "company_code": po.company.code,
            "currency": po.company.currency,
            "order_date": fmt.day(po.ts),
            "lines": [
                {"line_no": n, "quantity": str(quantity), "unit_price": money(price)} for n, quantity, price in po.lines
            ],
        }
        journal.add(Stream.PURCHASE_ORDERS, po.ts, po.company.erp, payload)
        for receipt in po.receipts:
            journal.add(
                Stream.GOODS_RECEIPTS,
                receipt.ts,
                po.company.erp,
                {
                    "gr_number": receipt.gr_number,
                    "po_number": po.po_number,
                    "receipt_date": fmt.day(receipt.ts),
                    "lines": [{"po_line_no": n, "quantity": str(q)} for n, q in receipt.quantities],
                },
            )


def invoice_payload(doc: Doc, fmt: Formatter) -> dict[str, Any]:
    if doc.invoice_date is None:
        raise InvariantBroken(f"invoice {doc.number!r} written before its invoice date was drawn")
    payload: dict[str, Any] = {
        "invoice_id": doc.invoice_id,
        "supplier_invoice_number": doc.number,
        "document_type": "credit_note" if doc.credit_note else "invoice",
        "vendor_id": doc.vendor_id,
        "company_code": doc.company.code,
        "invoice_date": fmt.date(doc.invoice_date),
        "due_date": fmt.date(doc.invoice_date + timedelta(days=doc.due_days)),
        "currency": doc.company.currency,
        "net_amount": money(doc.net),
        "tax_amount": money(doc.tax),
        "gross_amount": money(doc.gross),
    }
    if doc.po is not None:
        payload["po_number"] = doc.po.po_number
    rate = str(doc.tax_rate)
    lines = []
    for number, (description, quantity, price, net, po_line) in enumerate(doc.lines, start=1):
        line = {
            "line_no": number,
            "description": description,
            "quantity": str(quantity),
            "unit_price": money(price),
            "net_amount": money(net),
            "tax_rate": rate,
        }
        if po_line is not None:
            line["po_line_no"] = po_line
        lines.append(line)
    payload["lines"] = lines
    return payload


@dataclass
class ErpFaults:
    """For company codes whose invoices a posting service posts (the demo's simulators): what each ERP must
    do with the invoices the month planted an ERP anomaly on, by (supplier, invoice number)."""

    refused: dict[tuple[str, str], str] = field(default_factory=dict)  # -> the ERP's validation error
    stalled: dict[tuple[str, str], str] = field(default_factory=dict)  # -> the invoice id, kept if its label is

    def to_json(self, planted: set[str]) -> dict[str, Any]:
        return {
            "refused": [[supplier, number, error] for (supplier, number), error in self.refused.items()],
            "stalled": [[supplier, number] for (supplier, number), ref in self.stalled.items() if ref in planted],
        }


class ApFlow:
    """Writes each invoice's life: capture, then approval or rejection, then the ERP's answer.

    For the company codes in `posted_by_service` the ERP's answer is left to a posting service: no posted or
    posting_failed status is written, and the ERP faults that stand for the planted anomalies are collected.
    """

    def __init__(
        self,
        journal: Journal,
        fmt: Formatter,
        rng: Random,
        planting: Planting,
        posted_by_service: frozenset[str] = frozenset(),
    ) -> None:
        self.journal, self.fmt, self.rng, self.planting = journal, fmt, rng, planting
        self._erp_serial = dict.fromkeys(_ERP_DOCUMENT_BASE, 0)
        self.posted_by_service = posted_by_service
        self.erp_faults = ErpFaults()

    def _approval_delay(self) -> int:
        # Most approvals come within hours; a few wait up to three days in someone's inbox.
        return 2 * HOUR + int(self.rng.random() ** 2 * (3 * DAY - 2 * HOUR - MINUTE))

    def _posting_delay(self) -> int:
        return 5 * MINUTE + int(self.rng.random() ** 3 * (20 * HOUR - 5 * MINUTE))

    def emit(self, docs: list[Doc]) -> None:
        for doc in docs:
            self._document(doc)

    def _status(self, doc: Doc, ts: int, source: str, payload: dict[str, Any]) -> str | None:
        return self.journal.add(
            Stream.INVOICE_STATUS, ts, source, {"invoice_id": doc.invoice_id, **payload}, doc.correlation_id
        )

    def _document(self, doc: Doc) -> None:
        journal, planting = self.journal, self.planting
        captured = journal.add(
            Stream.INVOICES, doc.capture_ts, AP_PLATFORM, invoice_payload(doc, self.fmt), doc.correlation_id
        )
        if captured is None:
            return
        if doc.lookalike is not None:
            planting.lookalike(doc.lookalike)
        if doc.plant in ON_HOLD_PLANTS or doc.plant is Category.DUPLICATE_INVOICE:
            planting.plant(doc.plant, doc.invoice_id, doc.variant)
        if doc.fate is Fate.ON_HOLD:
            return  # nobody approves an invoice on hold; its exception is the whole story
        decided = doc.capture_ts + self._approval_delay()
        if doc.fate is Fate.REJECTED:
            self._status(doc, decided, AP_PLATFORM, {"status": "rejected", "error": self.rng.choice(_APPROVER_REASONS)})
            return
        if self._status(doc, decided, AP_PLATFORM, {"status": "approved"}) is None:
            return
        doc.approved_ts = decided
        erp = doc.company.erp
        answered = decided + self._posting_delay()
        if doc.company.code in self.posted_by_service:
            self._left_to_service(doc, answered)
            return
        if doc.fate is Fate.NOT_POSTED:
            planting.plant_if_overdue(Category.ERP_TIMEOUT, doc.invoice_id, decided + 3 * DAY)
        elif doc.fate is Fate.POSTING_FAILED:
            error = self.rng.choice(_posting_errors(doc, answered))
            if self._status(doc, answered, erp, {"status": "posting_failed", "erp_system": erp, "error": error}):
                planting.plant(Category.ERP_POSTING_FAILED, doc.invoice_id)
        else:
            self._erp_serial[erp] += 1
            posted = {
                "status": "posted",
                "erp_system": erp,
                "erp_document_number": str(_ERP_DOCUMENT_BASE[erp] + self._erp_serial[erp]),
                "fiscal_year": to_date(answered).year,
                "posting_date": self.fmt.day(answered),
            }
            if self._status(doc, answered, erp, posted) is not None:
                doc.posted_ts = answered

    def _left_to_service(self, doc: Doc, answered: int) -> None:
        """The ERP's answer comes from the posting service: its draws are made as `_document` makes them, and
        its anomalies become the faults the ERP is told to show."""
        key = (doc.vendor_id, doc.number)
        if doc.fate is Fate.NOT_POSTED:
            self.planting.plant_if_overdue(Category.ERP_TIMEOUT, doc.invoice_id, (doc.approved_ts or 0) + 3 * DAY)
            self.erp_faults.stalled[key] = doc.invoice_id
        elif doc.fate is Fate.POSTING_FAILED:
            self.erp_faults.refused[key] = self.rng.choice(_posting_errors(doc, answered))
            self.journal.reserve(Stream.INVOICE_STATUS, answered)
            # The service asks the ERP right after approval, so the refusal comes inside the month.
            self.planting.plant(Category.ERP_POSTING_FAILED, doc.invoice_id)
        else:
            self._erp_serial[doc.company.erp] += 1
            if self.journal.reserve(Stream.INVOICE_STATUS, answered):
                doc.posted_ts = answered
