"""The shapes of hot state: what the engine remembers about an invoice and a payment instruction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from reconstream.models.base import Record, UtcDatetime
from reconstream.models.invoices import Invoice
from reconstream.models.money import Amount
from reconstream.models.payments import PaymentInstruction, TransactionStatus


class InvoiceStage(StrEnum):
    ON_HOLD = "on_hold"  # failed validation; waits in an owner queue
    VALIDATED = "validated"
    APPROVED = "approved"
    BOOKED = "booked"
    POSTING_FAILED = "posting_failed"
    REJECTED = "rejected"
    PAID = "paid"


class InvoiceState(Record):
    invoice: Invoice
    correlation_id: str | None = None
    stage: InvoiceStage
    captured_at: UtcDatetime
    approved_at: UtcDatetime | None = None
    posted_at: UtcDatetime | None = None
    erp_system: str | None = None
    erp_document_number: str | None = None
    fiscal_year: int | None = None
    # End-to-end ids of instructions paying it that are not rejected: a second one is a duplicate payment.
    live_payments: tuple[str, ...] = ()
    paid_amount: Amount = Decimal(0)


class InstructionState(Record):
    instruction: PaymentInstruction
    batch_id: str
    debtor_iban: str
    requested_execution_date: date
    sent_at: UtcDatetime
    correlation_id: str | None = None
    batch_correlation_id: str | None = None
    ack_status: TransactionStatus | None = None
    acked_at: UtcDatetime | None = None
    reason_code: str | None = None
    settled_amount: Amount = Decimal(0)
    settlement_entry_ids: tuple[str, ...] = ()
    settled_at: UtcDatetime | None = None
    duplicate_of: str | None = None

    @property
    def rejected(self) -> bool:
        return self.ack_status is TransactionStatus.RJCT

    @property
    def settled(self) -> bool:
        return bool(self.settlement_entry_ids)


class ReceivedGoods(Record):
    """Everything received against one PO, by PO line; goods receipt numbers make repeats harmless."""

    po_number: str
    quantities: dict[int, Decimal]
    gr_numbers: tuple[str, ...]
