"""What the engine emits besides exceptions: matches, classified bank lines, AP status updates, dead letters,
cash positions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from .base import Record, UtcDatetime
from .ids import stable_id
from .invoices import Invoice
from .money import Amount, CurrencyCode, SignedAmount


class OutputStream(StrEnum):
    """What the engine emits, by stream: each a `<name>.jsonl` file of a run folder and a Kafka output topic.

    The value is the name in files, topics and JSON alike (a member equals its string).
    """

    EXCEPTIONS = "exceptions"
    MATCHES = "matches"
    CLASSIFIED_LINES = "classified_lines"
    STATUS_UPDATES = "status_updates"
    DEAD_LETTERS = "dead_letters"
    POSTING_REQUESTS = "posting_requests"  # invoices ready for the ERP: what the posting service posts (shells/erp)
    CASH_POSITIONS = "cash_positions"  # the latest position per account: cash_positions.json, a compacted topic
    AUDIT = "audit"  # not the engine's: the run's hash-chained log of what it read (shells/audit.py)


# The streams of records the engine appends, each record with its own id (a file of a run folder, a topic).
RECORD_STREAMS = (
    OutputStream.EXCEPTIONS,
    OutputStream.MATCHES,
    OutputStream.CLASSIFIED_LINES,
    OutputStream.STATUS_UPDATES,
    OutputStream.DEAD_LETTERS,
    OutputStream.POSTING_REQUESTS,
)
# The engine's output topics on Kafka.
TOPIC_STREAMS = (*RECORD_STREAMS, OutputStream.CASH_POSITIONS)
# What the web pages read from a run folder (shells/web/source.py numbers them in this order), and so what
# `recon project` writes to one from the topics (shells/kafka/folder.py), beside cash_positions.json.
PAGE_STREAMS = (OutputStream.EXCEPTIONS, OutputStream.MATCHES, OutputStream.STATUS_UPDATES, OutputStream.DEAD_LETTERS)
# What `recon tail` names each output topic: two by a shorter name.
_TAIL_SHORT = {OutputStream.CLASSIFIED_LINES: "classified", OutputStream.STATUS_UPDATES: "status"}
TAIL_NAMES: dict[str, OutputStream] = {_TAIL_SHORT.get(stream, stream.value): stream for stream in TOPIC_STREAMS}


class MatchMethod(StrEnum):
    """The named rule that matched (matchers/payment_rules/): how sure, and why, is in the evidence."""

    END_TO_END_ID = "end_to_end_id"
    CREDITOR_REFERENCE = "creditor_reference"
    INVOICE_NUMBER_IN_TEXT = "invoice_number_in_text"
    AMOUNT_CREDITOR_DATE = "amount_creditor_date"
    AMOUNT_COUNTERPARTY = "amount_counterparty"
    CHEQUE_AMOUNT = "cheque_amount"
    MANUAL = "manual"  # a person matched it on its case (streams/manual_matches.py)


class Match(Record):
    match_id: str
    settlement_entry_id: str
    end_to_end_id: str | None = Field(default=None, description="None: a payment made outside our payment runs")
    batch_id: str | None = None
    invoice_ids: tuple[str, ...]
    settles: str | None = Field(default=None, description="in_full, with_discount, short, partly or over")
    method: MatchMethod
    confidence: int = Field(ge=0, le=100)
    evidence: tuple[str, ...] = ()
    amount: Amount
    currency: CurrencyCode
    matched_at: UtcDatetime
    correlation_id: str | None = None
    policy_version: str | None = Field(default=None, description="the decision policy that made the match")


class BooksTo(StrEnum):
    """Whose books a bank line that pays no supplier invoice belongs in: who posts or applies it."""

    GENERAL_LEDGER = "general_ledger"  # salaries, taxes, social security, fees, interest, cards, cash
    ACCOUNTS_RECEIVABLE = "accounts_receivable"  # a customer paying us: cash application on the AR side
    ACCOUNTS_PAYABLE = "accounts_payable"  # a down payment to a supplier: AP records it against the order
    TREASURY = "treasury"  # transfers between the group's own accounts, cash pooling


class ClassifiedLine(Record):
    """A bank line the bank's own codes say pays no supplier invoice, routed to whoever books it, instead of
    treasury's queue of unmatched settlements."""

    classification_id: str
    settlement_entry_id: str
    account: str = Field(description="the house account's key")
    booking_date: date
    credit_debit: str
    amount: Amount
    currency: CurrencyCode
    line_class: str = Field(description="salary, tax, social_security, bank_fee, interest, card, cash, ...")
    books_to: BooksTo
    evidence: str = Field(description="which code or purpose said so, and where its meaning is published")
    counterparty_name: str | None = None
    remittance_info: str | None = None
    classified_at: UtcDatetime
    correlation_id: str | None = None
    policy_version: str | None = None


class ApStatus(StrEnum):
    """What the AP platform is told, so its users never work from a stale status (closed loop)."""

    VALIDATED = "validated"
    ON_HOLD = "on_hold"
    APPROVED = "approved"
    BOOKED = "booked"
    POSTING_FAILED = "posting_failed"
    REJECTED = "rejected"
    PAYMENT_SENT = "payment_sent"
    PAYMENT_REJECTED = "payment_rejected"
    PAID = "paid"


class StatusUpdate(Record):
    update_id: str
    invoice_id: str
    correlation_id: str | None = None
    status: ApStatus
    at: UtcDatetime
    erp_document_number: str | None = None
    fiscal_year: int | None = None
    end_to_end_id: str | None = None
    # On payment_sent: the instruction paying it (which may pay other invoices too), as released.
    payment_amount: Amount | None = None
    currency: CurrencyCode | None = None
    creditor_name: str | None = None
    batch_id: str | None = None
    debtor_account: str | None = None
    detail: str | None = None


def posting_id(invoice_id: str) -> str:
    """The id of an invoice's posting: one per invoice, so it posts once however often it is requested."""
    return stable_id("post", invoice_id)


class PostingRequest(Record):
    """An invoice validated clean and approved: the posting service books it in the ERP of its company code.
    The id is the invoice's, so one invoice is posted at most once however often this is emitted again."""

    posting_id: str
    invoice_id: str
    correlation_id: str | None = None
    company_code: str
    approved_at: UtcDatetime
    due_date: date | None = Field(default=None, description="what month-end batches order by: the earliest first")
    invoice: Invoice


class DeadLetter(Record):
    dead_letter_id: str
    source: str = Field(description="where the input came from: file:line, or topic/partition/offset")
    stream: str
    category: str
    field: str
    reason: str
    event_id: str | None = None
    raw: str


class CashPosition(Record):
    """What treasury calls cash: the bank's last reported balance, what was booked since, and what is in flight.

    Without any balance from the bank, the booked balance is the net of the entries seen (and says so by
    having no `bank_balance`).
    """

    account: str = Field(description="the account's key: its IBAN, or scheme:bank_id/id")
    currency: CurrencyCode
    company_code: str | None = None
    bank_balance: SignedAmount | None = Field(default=None, description="the last booked balance the bank reported")
    bank_balance_type: str | None = None
    bank_balance_date: date | None = None
    bank_balance_at: UtcDatetime | None = Field(default=None, description="when the bank reported it (event time)")
    available_balance: SignedAmount | None = None
    available_balance_date: date | None = None
    movements_since: SignedAmount = Decimal(0)
    booked_balance: SignedAmount = Decimal(0)
    in_flight_outgoing: Amount = Decimal(0)
    projected_balance: SignedAmount = Decimal(0)
    difference: SignedAmount | None = Field(
        default=None, description="bank's balance less the engine's at the last check, when they disagreed"
    )
    as_of: UtcDatetime | None = None
