"""The shapes of hot state: what the engine remembers about an invoice and a payment instruction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import AliasChoices, Field
from reconstream.models.balances import BalanceType
from reconstream.models.base import Record, UtcDatetime
from reconstream.models.invoices import Invoice
from reconstream.models.money import Amount, SignedAmount
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


def paid(state: InvoiceState) -> bool:
    """Closed: kept for duplicate checks, returns and the pages, read seldom (tables/memory.py)."""
    return state.stage is InvoiceStage.PAID


class InstructionState(Record):
    instruction: PaymentInstruction
    batch_id: str
    debtor_account: str = Field(validation_alias=AliasChoices("debtor_account", "debtor_iban"))  # its key
    company_code: str = ""
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


def settled_or_rejected(state: InstructionState) -> bool:
    """Closed: no bank line is matched to it any more."""
    return state.settled or state.rejected


def always(_: object) -> bool:
    """Values each read once or twice: a purchase order or goods receipt (an invoice against it, an exception),
    what a bank line paid (a return of it)."""
    return True


class ReceivedGoods(Record):
    """Everything received against one PO, by PO line; goods receipt numbers make repeats harmless."""

    po_number: str
    quantities: dict[int, Decimal]
    gr_numbers: tuple[str, ...]


class AccountState(Record):
    """One bank account in one currency: the bank's last booked balance and the entries it does not count yet.

    `pending` holds the net of the entries booked since that balance, by the statement that reported them
    and their booking date ("<statement>|<YYYY-MM-DD>"); the next balance from the bank takes in those of
    its own statement and those of days it covers, and the rest stay pending. Keyed this way the state
    stays small (statements x days) however many entries a month brings.
    """

    account: str
    currency: str
    company_code: str | None = None
    bank_balance: SignedAmount | None = None
    bank_balance_type: BalanceType | None = None
    bank_balance_date: date | None = None
    bank_balance_at: UtcDatetime | None = None
    statement_id: str | None = None
    available_balance: SignedAmount | None = None
    available_balance_date: date | None = None
    pending: dict[str, SignedAmount] = Field(default_factory=dict)
    in_flight_outgoing: Amount = Decimal(0)
    difference: SignedAmount | None = None
    as_of: UtcDatetime | None = None

    @property
    def movements_since(self) -> Decimal:
        return sum(self.pending.values(), Decimal(0))

    @property
    def booked_balance(self) -> Decimal:
        return (self.bank_balance or Decimal(0)) + self.movements_since
