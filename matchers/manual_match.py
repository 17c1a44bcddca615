"""A person's match of a bank line to invoices: whether it can be applied, and what it pays.

The person has decided which invoices the line pays; the engine does not second-guess that with scores.
It checks only what would make the books wrong: an invoice it does not hold or that is paid already, a
currency other than the line's, a direction that pays nothing (money in against invoices). When one of
our instructions in flight was for exactly these invoices, the line settles that instruction, so the
money stops counting as in flight. Otherwise the line's amount is applied in the order the person named
the invoices (credit notes first, as they add to what the line covers), each closed when it is covered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from reconstream.models.outputs import MatchMethod

from .payment_model import Allocation, BankLine, OpenInstruction, OpenInvoice, PaymentMatch, Settles

RULE = MatchMethod.MANUAL
CONFIDENCE = 100  # a person's decision, not a score


@dataclass(frozen=True, slots=True)
class ManualRefusal:
    """Why a manual match cannot be applied, naming the event field at fault."""

    field: str
    reason: str


def decide(
    line: BankLine,
    invoice_ids: Sequence[str],
    invoices: Mapping[str, OpenInvoice],
    instruction: OpenInstruction | None,
    matched_by: str,
) -> PaymentMatch | ManualRefusal:
    """The match to apply, or why not. `invoices` holds the named invoices still open; `instruction` is the
    one in flight for exactly them, if any."""
    refused = _refusal(line, invoice_ids, invoices)
    if refused is not None:
        return refused
    evidence = (f"matched by hand by {matched_by}",)
    if instruction is not None:
        return PaymentMatch(
            RULE,
            CONFIDENCE,
            (*evidence, f"settles our instruction {instruction.end_to_end_id}"),
            tuple(invoice_ids),
            _settles(line.amount, instruction.amount),
            end_to_end_id=instruction.end_to_end_id,
            difference=line.amount - instruction.amount,
        )
    named = [invoices[invoice_id] for invoice_id in invoice_ids]
    open_total = sum((invoice.signed_open for invoice in named), Decimal(0))
    return PaymentMatch(
        RULE,
        CONFIDENCE,
        evidence,
        tuple(invoice_ids),
        # Less than what is open leaves the last invoices open for the rest, as a part payment does.
        Settles.PARTLY if line.amount < open_total else _settles(line.amount, open_total),
        allocations=allocate(line.amount, named),
        difference=line.amount - open_total,
    )


def _refusal(line: BankLine, invoice_ids: Sequence[str], invoices: Mapping[str, OpenInvoice]) -> ManualRefusal | None:
    for index, invoice_id in enumerate(invoice_ids):
        field = f"payload.invoice_ids[{index}]"
        invoice = invoices.get(invoice_id)
        if invoice is None:
            return ManualRefusal(field, f"invoice {invoice_id} is not open: unknown, not posted, or paid already")
        if invoice.currency != line.currency:
            return ManualRefusal(
                field, f"invoice {invoice_id} is in {invoice.currency}, the bank line in {line.currency}"
            )
    named = [invoices[invoice_id] for invoice_id in invoice_ids]
    if line.credit and not all(invoice.credit_note for invoice in named):
        return ManualRefusal("payload.invoice_ids", "money came in: it can only repay credit notes")
    if not line.credit and all(invoice.credit_note for invoice in named):
        return ManualRefusal("payload.invoice_ids", "money went out: it pays invoices, not credit notes alone")
    return None


def allocate(amount: Decimal, named: Sequence[OpenInvoice]) -> tuple[Allocation, ...]:
    """The line's amount over the documents in the order named, credit notes first (they add to what the
    line covers); an invoice the amount does not reach is left out."""
    credit_notes = [invoice for invoice in named if invoice.credit_note]
    left = amount + sum((note.open_amount for note in credit_notes), Decimal(0))
    allocations = [Allocation(note.invoice_id, note.open_amount, True) for note in credit_notes]
    for invoice in (invoice for invoice in named if not invoice.credit_note):
        applied = min(max(left, Decimal(0)), invoice.open_amount)
        allocations.append(Allocation(invoice.invoice_id, applied, applied == invoice.open_amount))
        left -= invoice.open_amount
    return tuple(allocation for allocation in allocations if allocation.amount > 0)


def _settles(paid: Decimal, owed: Decimal) -> Settles:
    if paid == owed:
        return Settles.IN_FULL
    return Settles.SHORT if paid < owed else Settles.OVER
