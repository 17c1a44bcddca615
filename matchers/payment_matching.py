"""Payment-to-invoice matching: a bank line against open payment instructions and open invoices.

The rules are named objects in one registry (`matchers/payment_rules/`), each with the keys it files
documents under and its scorer, modelled on Blnk's reconciliation rules. Every candidate of every rule is
scored 0-100 with its evidence; the best is auto-matched only above the threshold and only if no other
target scores the same (a tie is a suggestion for the review queue with its candidates, never a guess).
A reference that names an invoice also settles it partly (several payments for one invoice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .payment_model import (
    DEFAULT_POLICY,
    Allocation,
    BankLine,
    MatchPolicy,
    OpenInstruction,
    OpenInvoice,
    Outcome,
    PaymentDecision,
    PaymentMatch,
    Settles,
)
from .payment_rules import PAYMENT_RULES, RANK, Lookup
from .payment_rules.amount_counterparty import AmountCounterparty, subsets_near
from .payment_rules.amount_creditor_date import score as by_amount_creditor_date

__all__ = [
    "DEFAULT_POLICY",
    "Allocation",
    "BankLine",
    "MatchPolicy",
    "OpenInstruction",
    "OpenInvoice",
    "Outcome",
    "PaymentDecision",
    "PaymentMatch",
    "Settles",
    "by_amount_creditor_date",
    "decide",
    "instruction_keys",
    "invoice_keys",
    "line_keys",
    "match_payment",
    "party_keys",
    "subsets_near",
]


def match_payment(
    line: BankLine,
    instructions: Iterable[OpenInstruction] = (),
    invoices: Iterable[OpenInvoice] = (),
    policy: MatchPolicy = DEFAULT_POLICY,
) -> PaymentDecision:
    """Ask every rule in registry order; auto-match the single best candidate above the threshold.

    A credit (money in) can only be a supplier paying out a credit note: it is matched against the open
    credit notes, read as what that supplier owes us, and never against our payment instructions.
    """
    ordered = sorted({i.end_to_end_id: i for i in instructions}.values(), key=lambda i: i.end_to_end_id)
    open_invoices = sorted({i.invoice_id: i for i in invoices}.values(), key=lambda i: i.invoice_id)
    if line.credit:
        ordered = []
        open_invoices = [replace(i, credit_note=False) for i in open_invoices if i.credit_note]
    lookup = Lookup(line, ordered, open_invoices, policy)
    candidates: list[PaymentMatch] = []
    for rule in PAYMENT_RULES:
        candidates += rule.candidates(lookup, candidates)
    return decide(line, candidates, policy)


def decide(line: BankLine, candidates: list[PaymentMatch], policy: MatchPolicy) -> PaymentDecision:
    if not candidates:
        return PaymentDecision(line.entry_id, Outcome.UNMATCHED, reason="no open payment or invoice fits")
    # One target may be found by several rules (an instruction and its invoices): keep its best score.
    best_by_target: dict[frozenset[str], PaymentMatch] = {}
    for match in candidates:
        key = frozenset(match.invoice_ids) or frozenset(match.target)
        held = best_by_target.get(key)
        if held is None or _order(match) < _order(held):
            best_by_target[key] = match
    ranked = sorted(best_by_target.values(), key=_order)
    best = ranked[0]
    tied = [m for m in ranked[1:] if m.confidence == best.confidence]
    if tied:
        return PaymentDecision(
            line.entry_id,
            Outcome.SUGGESTED,
            None,
            tuple(ranked),
            f"tie: {len(tied) + 1} candidates score {best.confidence}",
        )
    if best.confidence < policy.auto_match_threshold:
        return PaymentDecision(
            line.entry_id,
            Outcome.SUGGESTED,
            None,
            tuple(ranked),
            f"best candidate scores {best.confidence}, below {policy.auto_match_threshold}",
        )
    return PaymentDecision(line.entry_id, Outcome.AUTO_MATCHED, best, tuple(ranked), f"{best.rule} {best.confidence}")


def _order(match: PaymentMatch) -> tuple[int, int, tuple[str, ...]]:
    return (-match.confidence, RANK[match.rule], match.target)


# -- blocking: what a stream handler looks up ------------------------------------------------------
def line_keys(line: BankLine) -> list[str]:
    """Index keys whose invoices and instructions are this line's candidates; none scans the ledger."""
    return list(dict.fromkeys(key for rule in PAYMENT_RULES for key in rule.line_keys(line)))


def party_keys(line: BankLine) -> list[str]:
    """The keys that find the line's counterparty's documents: its account and its name."""
    return _PAYEE.line_keys(line)


_PAYEE = AmountCounterparty()  # the rule that looks documents up by who the counterparty is


def invoice_keys(invoice: OpenInvoice) -> list[str]:
    return list(dict.fromkeys(key for rule in PAYMENT_RULES for key in rule.invoice_keys(invoice)))


def instruction_keys(instruction: OpenInstruction) -> list[str]:
    return list(dict.fromkeys(key for rule in PAYMENT_RULES for key in rule.instruction_keys(instruction)))
