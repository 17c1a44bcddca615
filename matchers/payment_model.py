"""What payment matching reads and writes: the bank line, the open documents, the policy, the verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from reconstream.models.exceptions import Category
from reconstream.models.invoices import DocumentType
from reconstream.models.master_data import Vendor
from reconstream.models.outputs import MatchMethod
from reconstream.models.payments import Settlement
from reconstream.tables.records import InstructionState, InvoiceState

from .findings import Finding, fmt


# -- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BankLine:
    """A settlement or remittance entry, as far as matching needs it."""

    entry_id: str
    amount: Decimal
    currency: str
    booking_date: date
    end_to_end_id: str | None = None
    counterparty_account: str | None = None  # the account's key (models/accounts.py)
    counterparty_name: str | None = None
    remittance_info: str = ""
    creditor_reference: str | None = None
    # What the payer itemised (structured remittance): the amount it remits for each document it names.
    itemised: tuple[tuple[str, Decimal], ...] = ()
    credit: bool = False  # money in: a supplier paying out a credit note
    cheque: bool = False  # a cheque presented: it names nobody, its amount is all there is

    @classmethod
    def of(cls, entry: Settlement) -> BankLine:
        """The line as matching sees it: the principal the payer instructed (`InstdAmt`, in the invoice's
        currency when the payment crossed currencies) where the bank gives it, else the booked amount."""
        amount, currency = entry.amount, entry.currency
        if entry.fx is not None:
            amount, currency = entry.fx.instructed_amount, entry.fx.instructed_currency
        documents = [doc for doc in entry.referred_documents if doc.number]
        # The documents a structured remittance names are read like numbers in the text.
        text = " ".join([entry.remittance_info or "", *(doc.number or "" for doc in documents)]).strip()
        itemised = tuple(
            (doc.number or "", doc.remitted_amount) for doc in documents if doc.remitted_amount is not None
        )
        return cls(
            entry.entry_id,
            amount,
            currency,
            entry.booking_date,
            entry.end_to_end_id,
            entry.counterparty_key,
            entry.counterparty_name,
            text,
            entry.creditor_reference,
            itemised,
            entry.credit_debit == "CRDT",
            _is_cheque(entry),
        )


def _is_cheque(entry: Settlement) -> bool:
    code = entry.bank_transaction_code
    return code is not None and ("CHQ" in (code.family or "") or "CHQ" in (code.subfamily or ""))


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice with money still open on it, with the payee's accounts and its payment terms."""

    invoice_id: str
    number: str
    vendor_id: str
    currency: str
    open_amount: Decimal
    invoice_date: date
    due_date: date | None = None
    vendor_name: str = ""
    accounts: tuple[str, ...] = ()  # keys of the payee's accounts on file
    creditor_reference: str | None = None
    discount_percent: Decimal | None = None  # the invoice's own early-payment terms, e.g. 2 % within 10 days
    discount_days: int | None = None
    credit_note: bool = False  # named in a payment, it is netted: the payer pays the invoices less it
    gross: Decimal = Decimal(0)  # the document's total: its index key stays put while payments come in

    @property
    def signed_open(self) -> Decimal:
        return -self.open_amount if self.credit_note else self.open_amount

    @classmethod
    def of(cls, state: InvoiceState, vendor: Vendor | None, creditor_reference: str | None = None) -> OpenInvoice:
        invoice = state.invoice
        return cls(
            invoice.invoice_id,
            invoice.supplier_invoice_number,
            invoice.vendor_id,
            invoice.currency,
            invoice.gross_amount - state.paid_amount,
            invoice.invoice_date,
            invoice.due_date,
            vendor.name if vendor else "",
            tuple(account.account.key for account in vendor.bank_accounts) if vendor else (),
            creditor_reference,
            credit_note=invoice.document_type is DocumentType.CREDIT_NOTE,
            gross=invoice.gross_amount,
        )


@dataclass(frozen=True, slots=True)
class OpenInstruction:
    end_to_end_id: str
    invoice_ids: tuple[str, ...]
    vendor_id: str
    creditor_account: str  # its key
    amount: Decimal  # still open: instructed less already settled
    currency: str
    requested_execution_date: date

    @classmethod
    def of(cls, state: InstructionState) -> OpenInstruction:
        instruction = state.instruction
        return cls(
            instruction.end_to_end_id,
            instruction.invoice_ids,
            instruction.vendor_id,
            instruction.creditor_account.key,
            instruction.amount - state.settled_amount,
            instruction.currency,
            state.requested_execution_date,
        )


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Thresholds and tolerances, each in one unit and explicit."""

    auto_match_threshold: int = 90
    short_tolerance_abs: Decimal = Decimal("25.00")  # document currency: the payer may pay this much less ...
    short_tolerance_rel: Decimal = Decimal("0.01")  # ... but never more than this share of what is open
    discount_percents: tuple[Decimal, ...] = (Decimal(2), Decimal(3))  # default skonto when terms are unknown
    discount_days: int = 14  # days after the invoice date a default discount may be taken
    discount_grace_days: int = 3  # bank days between the payer's transfer and our booking
    instruction_date_window_days: int = 3
    max_invoices_per_payment: int = 5
    subset_pool: int = 30  # open invoices of one counterparty the search looks at, nearest due date first
    subset_budget: int = 20_000  # search nodes; beyond it uniqueness is unproven and nothing is auto-matched
    name_similarity: int = 90  # rapidfuzz token_set_ratio for a counterparty known by name only
    over_tolerance_abs: Decimal = Decimal("50.00")  # a named payment may exceed what is open by a bank fee
    # A payer who deducts postage or a dispute leaves the rest owed: the invoice stays open for it unless
    # the deployment writes such differences off.
    short_write_off: bool = False


DEFAULT_POLICY = MatchPolicy()


# -- outputs ---------------------------------------------------------------------------------------
class Settles(StrEnum):
    """How the line's amount relates to what it pays."""

    IN_FULL = "in_full"
    WITH_DISCOUNT = "with_discount"
    SHORT = "short"
    PARTLY = "partly"
    OVER = "over"


@dataclass(frozen=True, slots=True)
class Allocation:
    invoice_id: str
    amount: Decimal  # applied to the invoice's open amount (a discount or short amount closes it too)
    closes: bool


@dataclass(frozen=True, slots=True)
class PaymentMatch:
    rule: MatchMethod
    confidence: int
    evidence: tuple[str, ...]
    invoice_ids: tuple[str, ...]
    settles: Settles
    allocations: tuple[Allocation, ...] = ()
    end_to_end_id: str | None = None
    difference: Decimal = Decimal(0)  # line amount less the open amount it settles

    @property
    def target(self) -> tuple[str, ...]:
        return self.invoice_ids or ((self.end_to_end_id,) if self.end_to_end_id else ())


class Outcome(StrEnum):
    AUTO_MATCHED = "auto_matched"
    SUGGESTED = "suggested"  # review queue, with the candidates
    UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class PaymentDecision:
    entry_id: str
    outcome: Outcome
    match: PaymentMatch | None = None
    candidates: tuple[PaymentMatch, ...] = ()
    reason: str = ""

    def finding(self, line: BankLine) -> Finding | None:
        """An unmatched or only suggested line goes to treasury with its candidates."""
        return None if self.outcome is Outcome.AUTO_MATCHED else self.for_review(line)

    def for_review(self, line: BankLine) -> Finding:
        """The exception a line no rule auto-matched goes to treasury with: its candidates, and why none."""
        refs = (line.entry_id, *(c for m in self.candidates[:5] for c in m.target))
        listed = "; ".join(f"{'+'.join(m.target)} ({m.rule}, {m.confidence})" for m in self.candidates[:5])
        reason = f"{fmt(line.amount, line.currency)} booked {line.booking_date}: {self.reason}"
        return Finding(
            Category.UNMATCHED_SETTLEMENT,
            tuple(dict.fromkeys(refs)),
            reason + (f"; candidates: {listed}" if listed else ""),
            line.amount,
            line.currency,
        )
