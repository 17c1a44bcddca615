"""What the generator plans before it writes anything: invoices with their PO, receipts and fate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from reconstream.models.errors import InvariantBroken

from .master_data import CompanyCode, VendorProfile


class Fate(StrEnum):
    """How far an invoice gets through AP and the ERP (payment is decided later, by the payment runs)."""

    POSTED = "posted"  # approved and booked: payable (credit notes excepted)
    POSTING_FAILED = "posting_failed"
    NOT_POSTED = "not_posted"  # approved, and the ERP never answers
    REJECTED = "rejected"  # the approver says no: legitimate, nothing to flag
    ON_HOLD = "on_hold"  # failed validation: nobody approves it


@dataclass(slots=True)
class Receipt:
    gr_number: str
    ts: int
    quantities: list[tuple[int, int]]  # (po line no, quantity)


@dataclass(slots=True)
class PurchaseOrderPlan:
    po_number: str
    vendor_id: str
    company: CompanyCode
    ts: int
    lines: list[tuple[int, int, int]]  # (line no, quantity, unit price in cents)
    receipts: list[Receipt] = field(default_factory=list)
    exists: bool = True  # False: the invoice quotes a PO number nobody created

    @property
    def received_value(self) -> int:
        return sum(quantity * price for _, quantity, price in self.lines)


@dataclass(slots=True)
class Doc:
    vendor_id: str
    vendor: VendorProfile | None
    company: CompanyCode
    capture_ts: int
    number: str = ""
    credit_note: bool = False
    invoice_date: date | None = None
    due_days: int = 30
    net: int = 0  # cents
    tax: int = 0
    tax_rate: int = 0
    lines: list[tuple[str, int, int, int, int | None]] = field(default_factory=list)  # desc, qty, price, net, po line
    po: PurchaseOrderPlan | None = None
    fate: Fate = Fate.POSTED
    plant: str | None = None  # the anomaly category this document carries
    lookalike: str | None = None  # the legitimate pattern it shows
    variant: str | None = None  # how a planted duplicate differs from its original
    reserved: bool = False  # another document refers to it (duplicate, credit note): no second anomaly on it
    invoice_id: str = ""
    correlation_id: str = ""
    approved_ts: int | None = None  # set only when the event made it into the scenario
    posted_ts: int | None = None

    @property
    def gross(self) -> int:
        return self.net + self.tax

    def dated(self) -> date:
        """The invoice date, which the book draws when it makes the document: asking before is a bug."""
        if self.invoice_date is None:
            raise InvariantBroken(f"invoice {self.number!r} has no invoice date yet")
        return self.invoice_date

    @property
    def plain(self) -> bool:
        """A clean document nothing else hangs on: free to carry one payment-side anomaly."""
        return self.plant is None and self.lookalike is None and not self.reserved and not self.credit_note
