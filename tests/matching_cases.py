"""A small ledger of one supplier's open invoices and bank lines against it, for the payment rule tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from reconstream.matchers.payment_matching import BankLine, OpenInstruction, OpenInvoice, Outcome, PaymentDecision
from reconstream.matchers.payment_model import DEFAULT_POLICY
from reconstream.matchers.payment_rules import Lookup
from reconstream.matchers.remittance import rf_reference

IBAN = "DE89370400440532013000"
OTHER = "DE02120300000000202051"
RF = rf_reference("4711")


def open_invoice(invoice_id: str, amount: str, number: str | None = None, **fields: Any) -> OpenInvoice:
    return OpenInvoice(
        invoice_id,
        number or f"NL-2026-{invoice_id[1:]:0>5}",
        "V1",
        "EUR",
        Decimal(amount),
        date(2026, 3, 1),
        date(2026, 3, 31),
        "Nordwind Logistik GmbH",
        (IBAN,),
        **fields,
    )


LEDGER = [
    open_invoice("I1", "100.00"),
    open_invoice("I2", "250.00"),
    open_invoice("I3", "75.50", creditor_reference=RF),
    open_invoice("I4", "1000.00"),
]


def line(amount: str, text: str = "", **fields: Any) -> BankLine:
    defaults: dict[str, Any] = {"counterparty_account": IBAN, "counterparty_name": "NORDWIND LOGISTIK"}
    booked, currency = fields.pop("booked", date(2026, 3, 10)), fields.pop("currency", "EUR")
    return BankLine("E1", Decimal(amount), currency, booked, remittance_info=text, **{**defaults, **fields})


def instruction(amount: str, e2e: str = "E2E-1", executed: date = date(2026, 3, 9), **fields: Any) -> OpenInstruction:
    values: dict[str, Any] = {"invoice_ids": ("I2",), "vendor_id": "V1", "creditor_account": IBAN, "currency": "EUR"}
    values.update(fields)
    return OpenInstruction(e2e, amount=Decimal(amount), requested_execution_date=executed, **values)


def lookup(bank_line: BankLine, invoices: list[OpenInvoice] | None = None, instructions: Any = ()) -> Lookup:
    return Lookup(bank_line, list(instructions), LEDGER if invoices is None else invoices, DEFAULT_POLICY)


def auto(decision: PaymentDecision) -> tuple[str, tuple[str, ...]]:
    assert decision.outcome is Outcome.AUTO_MATCHED, decision.reason
    assert decision.match is not None and decision.match.confidence >= 90 and decision.match.evidence
    return decision.match.rule, decision.match.invoice_ids
