"""Payment batches and instructions, bank acknowledgments (pain.002) and settlements (camt.054)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasChoices, Field, field_validator, model_validator

from .accounts import Account
from .bank_details import (
    BankTransactionCode,
    BatchInfo,
    Charge,
    DataQualityFlag,
    ForeignExchange,
    ReferenceScheme,
    ReferredDocument,
    ReturnInfo,
)
from .base import CalendarDate, Record
from .money import CurrencyCode, ReceivedAmount, check_scale


class PaymentInstruction(Record):
    end_to_end_id: str = Field(min_length=1, max_length=35)
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    vendor_id: str = Field(min_length=1)
    amount: ReceivedAmount = Field(gt=0, description="a payment of nothing is no payment (EPC rulebook: 0.01 or more)")
    currency: CurrencyCode
    creditor_name: str = ""
    creditor_account: Account = Field(validation_alias=AliasChoices("creditor_account", "creditor_iban"))
    remittance_info: str = ""

    @model_validator(mode="after")
    def _scale(self) -> PaymentInstruction:
        check_scale(self.amount, self.currency, "amount")
        if self.amount <= 0:
            raise ValueError("amount: a payment instruction must move a positive amount")
        return self


class PaymentBatch(Record):
    batch_id: str = Field(min_length=1, max_length=35, description="pain.001 MsgId")
    payment_info_id: str | None = None
    company_code: str = Field(min_length=1)
    debtor_account: Account = Field(validation_alias=AliasChoices("debtor_account", "debtor_iban"))
    requested_execution_date: CalendarDate
    instructions: tuple[PaymentInstruction, ...] = Field(min_length=1)


class TransactionStatus(StrEnum):
    """pain.002 ExternalPaymentTransactionStatus1Code values the engine acts on."""

    ACTC = "ACTC"
    ACCP = "ACCP"
    ACSP = "ACSP"
    ACSC = "ACSC"
    ACWC = "ACWC"
    PDNG = "PDNG"
    PART = "PART"
    RJCT = "RJCT"


class TransactionAck(Record):
    end_to_end_id: str = Field(min_length=1)
    status: TransactionStatus
    reason_code: str | None = None
    reason_text: str | None = None


class BankAck(Record):
    ack_id: str = Field(min_length=1, description="pain.002 MsgId")
    original_batch_id: str = Field(min_length=1)
    group_status: TransactionStatus | None = None
    group_reason_code: str | None = None
    transactions: tuple[TransactionAck, ...] = ()

    @model_validator(mode="after")
    def _has_status(self) -> BankAck:
        if self.group_status is None and not self.transactions:
            raise ValueError("transactions: an acknowledgment needs a group_status or transaction statuses")
        return self


class CreditDebit(StrEnum):
    CRDT = "CRDT"
    DBIT = "DBIT"


class Settlement(Record):
    """One booked bank entry (camt.053/054 entry or transaction detail, MT940 :61:, BAI2 16 record).

    Schema version 2 names accounts of any scheme (`account`, `counterparty_account`; version 1's
    `account_iban` and `counterparty_iban` still read) and carries what the bank said about the payment.
    """

    entry_id: str = Field(min_length=1, description="bank's entry reference (AcctSvcrRef)")
    account: Account = Field(validation_alias=AliasChoices("account", "account_iban"))
    # Zero is read: banks print informational entries of 0.00 (a real MT940 of tests/fixtures/bank does).
    amount: ReceivedAmount
    currency: CurrencyCode
    credit_debit: CreditDebit
    booking_date: CalendarDate
    value_date: CalendarDate
    end_to_end_id: str | None = None
    counterparty_account: Account | None = Field(
        default=None, validation_alias=AliasChoices("counterparty_account", "counterparty_iban")
    )
    counterparty_name: str | None = None
    remittance_info: str | None = None
    creditor_reference: str | None = None
    # -- schema version 2: what the bank said, as it said it ------------------------------------------
    statement_id: str | None = Field(default=None, description="the statement or notification that reported it")
    remittance_lines: tuple[str, ...] = Field(default=(), description="Ustrd / :86: pieces as the bank cut them")
    reference_scheme: ReferenceScheme | None = Field(default=None, description="whose check creditor_reference passed")
    referred_documents: tuple[ReferredDocument, ...] = ()
    additional_info: str | None = None
    charges: tuple[Charge, ...] = ()
    fx: ForeignExchange | None = None
    bank_transaction_code: BankTransactionCode | None = None
    purpose: str | None = None
    return_info: ReturnInfo | None = None
    ultimate_debtor: str | None = None
    ultimate_creditor: str | None = None
    mandate_id: str | None = None
    creditor_scheme_id: str | None = None
    batch: BatchInfo | None = None
    data_quality: tuple[DataQualityFlag, ...] = ()

    @field_validator("end_to_end_id")
    @classmethod
    def _not_provided(cls, value: str | None) -> str | None:
        # Banks write NOTPROVIDED when the debtor gave none: that is the absence of an id, not an id.
        return None if value in (None, "", "NOTPROVIDED") else value

    @model_validator(mode="after")
    def _scale(self) -> Settlement:
        check_scale(self.amount, self.currency, "amount")
        return self

    @property
    def counterparty_key(self) -> str | None:
        return self.counterparty_account.key if self.counterparty_account is not None else None


class ManualMatch(Record):
    """A person's decision that a bank line nobody matched pays these invoices (schema version 3).

    Written by the case store when a treasury analyst matches an unmatched_settlement case by hand, and
    applied by the engine like any input: the invoices are paid, an instruction in flight for exactly them
    is settled, and a re-run from the same inputs makes the same decision again.
    """

    entry_id: str = Field(min_length=1, max_length=200, description="the bank line: its entry reference")
    invoice_ids: tuple[str, ...] = Field(min_length=1, max_length=20, description="what the line pays, in order")
    matched_by: str = Field(min_length=1, max_length=200, description="who decided")
    case_id: str | None = Field(default=None, max_length=64, description="the case the decision closed")
    note: str | None = Field(default=None, max_length=4000)

    @field_validator("invoice_ids")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("an invoice is named twice")
        if any(not invoice_id for invoice_id in value):
            raise ValueError("an invoice id is empty")
        return value
