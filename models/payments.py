"""Payment batches and instructions, bank acknowledgments (pain.002) and settlements (camt.054)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from .base import Record
from .master_data import Iban
from .money import Amount, CurrencyCode, check_scale


class PaymentInstruction(Record):
    end_to_end_id: str = Field(min_length=1, max_length=35)
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    vendor_id: str = Field(min_length=1)
    amount: Amount
    currency: CurrencyCode
    creditor_name: str = ""
    creditor_iban: Iban
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
    debtor_iban: Iban
    requested_execution_date: date
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
    entry_id: str = Field(min_length=1, description="bank's entry reference (AcctSvcrRef)")
    account_iban: Iban
    amount: Amount
    currency: CurrencyCode
    credit_debit: CreditDebit
    booking_date: date
    value_date: date
    end_to_end_id: str | None = None
    counterparty_iban: Iban | None = None
    counterparty_name: str | None = None
    remittance_info: str | None = None
    creditor_reference: str | None = None

    @field_validator("end_to_end_id")
    @classmethod
    def _not_provided(cls, value: str | None) -> str | None:
        # Banks write NOTPROVIDED when the debtor gave none: that is the absence of an id, not an id.
        return None if value in (None, "", "NOTPROVIDED") else value

    @model_validator(mode="after")
    def _scale(self) -> Settlement:
        check_scale(self.amount, self.currency, "amount")
        return self
