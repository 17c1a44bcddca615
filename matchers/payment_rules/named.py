"""The invoices a payer named (by RF reference or by number): what the amount says about them.

Shared by `creditor_reference` and `invoice_number_in_text`, which differ only in how the payer named
the invoices and how much that is worth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from reconstream.models.outputs import MatchMethod

from ..findings import fmt
from ..payment_model import BankLine, MatchPolicy, OpenInvoice, PaymentMatch, Settles
from ..settling import allocate, as_itemised, counterparty_evidence, open_total, settles


def by_reference(
    line: BankLine,
    rule: MatchMethod,
    confidences: Mapping[Settles, int],
    referenced: Sequence[OpenInvoice],
    said: str,
    policy: MatchPolicy,
) -> PaymentMatch | None:
    """The invoices the payer named; the amount says in full, discounted, short, partly or over."""
    usable = [invoice for invoice in referenced if invoice.currency == line.currency and invoice.open_amount > 0]
    if not usable:
        return None
    # Many suppliers print "RE 2026/42": a number names an invoice only together with its payee.
    payee = {invoice.invoice_id: counterparty_evidence(line, invoice, policy) for invoice in usable}
    recognised = [invoice for invoice in usable if payee[invoice.invoice_id][1] is not None]
    usable = sorted(recognised or usable, key=lambda i: i.invoice_id)
    total = open_total(usable)
    if total <= 0:
        return None  # a debit does not pay credit notes alone: the supplier owes us those
    evidence = [said]
    found = settles(line.amount, usable, line.booking_date, policy) or as_itemised(line, usable)
    over_fee = Decimal(0) < line.amount - total <= policy.over_tolerance_abs
    if found is not None:
        how, why = found
    elif line.amount < total:
        how, why = Settles.PARTLY, f"pays {fmt(line.amount, line.currency)} of {fmt(total, line.currency)} open"
    else:
        how, why = Settles.OVER, f"pays {fmt(line.amount - total, line.currency)} more than is open"
        if over_fee:
            why += f", within the {fmt(policy.over_tolerance_abs, line.currency)} a bank fee may add"
    evidence.append(why)
    confidence = confidences[how]
    if how is Settles.OVER and over_fee:
        confidence = confidences[Settles.SHORT]  # the named invoices, in full, and our fee
    if how is Settles.PARTLY and len(usable) > 1:
        confidence = 80  # which of the named invoices the money is for is a clerk's call
    penalties = [payee[invoice.invoice_id] for invoice in usable]
    penalty = max(p for p, _ in penalties)
    evidence += sorted({e for _, e in penalties if e})
    if penalty >= 15:
        evidence.append("counterparty not recognised")
    return PaymentMatch(
        rule,
        confidence - penalty,
        tuple(evidence),
        tuple(i.invoice_id for i in usable),
        how,
        allocate(line.amount, usable, how, policy.short_write_off),
        None,
        line.amount - total,
    )
