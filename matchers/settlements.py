"""Settlement-to-instruction matching rules, each named, scored and explained.

1. `end_to_end_id`: the bank echoes our EndToEndId; the amount must then agree exactly.
2. `amount_creditor_date`: no usable id; the same creditor account, currency and amount, booked within
   a date window of the requested execution date. Every candidate is scored; a tie is never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from reconstream.models.exceptions import Category
from reconstream.models.outputs import MatchMethod
from reconstream.models.payments import CreditDebit, Settlement
from reconstream.tables.records import InstructionState

from .findings import Finding, fmt

AUTO_MATCH_SCORE = 90


@dataclass(frozen=True, slots=True)
class SettlementDecision:
    instruction: InstructionState | None = None
    method: MatchMethod | None = None
    confidence: int = 0
    evidence: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = field(default_factory=tuple)


def open_amount(state: InstructionState) -> Decimal:
    return state.instruction.amount - state.settled_amount


def by_end_to_end_id(settlement: Settlement, state: InstructionState) -> SettlementDecision:
    instruction = state.instruction
    expected = open_amount(state)
    booked, owed = fmt(settlement.amount, settlement.currency), fmt(expected, instruction.currency)
    refs = (instruction.end_to_end_id, settlement.entry_id)
    if settlement.credit_debit is not CreditDebit.DBIT or settlement.currency != instruction.currency:
        why = f"entry {settlement.entry_id} is a {settlement.credit_debit} of {booked}, expected a debit of {owed}"
        finding = Finding(Category.SETTLEMENT_AMOUNT_MISMATCH, refs, why, settlement.amount, settlement.currency)
    elif settlement.amount != expected:
        difference = settlement.amount - expected
        why = (
            f"settled {booked} but {owed} was open on {instruction.end_to_end_id}: "
            f"difference {fmt(difference, settlement.currency)}"
        )
        finding = Finding(Category.SETTLEMENT_AMOUNT_MISMATCH, refs, why, abs(difference), settlement.currency)
    else:
        evidence = (f"end-to-end id {instruction.end_to_end_id}", "amount equal")
        return SettlementDecision(state, MatchMethod.END_TO_END_ID, 100, evidence)
    # Still the payment's own bank line: link it, and let treasury settle the difference.
    return SettlementDecision(
        state, MatchMethod.END_TO_END_ID, 80, (f"end-to-end id {instruction.end_to_end_id}",), (finding,)
    )


def score_candidate(settlement: Settlement, state: InstructionState, date_window_days: int) -> tuple[int, list[str]]:
    """0-100: amount, currency and creditor are required (they select the candidates); dates refine."""
    days = abs((settlement.booking_date - state.requested_execution_date).days)
    if days > date_window_days:
        return 0, []
    evidence = [
        "amount equal",
        "same currency",
        f"creditor account {state.instruction.creditor_iban}",
        f"booked {days} day(s) from requested execution",
    ]
    return 98 - 3 * days, evidence


def by_amount_creditor_date(
    settlement: Settlement, candidates: Sequence[InstructionState], date_window_days: int
) -> SettlementDecision:
    scored = sorted(
        (
            (score, state.instruction.end_to_end_id, state, evidence)
            for state in candidates
            for score, evidence in [score_candidate(settlement, state, date_window_days)]
            if score
        ),
        key=lambda item: (-item[0], item[1]),
    )
    if not scored:
        return _unmatched(settlement, "no open payment with this end-to-end id, or this creditor, amount and date")
    best_score, _, best, evidence = scored[0]
    ties = [e2e for score, e2e, _, _ in scored if score == best_score]
    if len(ties) > 1:
        return _unmatched(settlement, f"ambiguous: {len(ties)} open payments fit equally well ({', '.join(ties[:5])})")
    if best_score < AUTO_MATCH_SCORE:
        return _unmatched(settlement, f"best candidate {best.instruction.end_to_end_id} scores only {best_score}")
    return SettlementDecision(best, MatchMethod.AMOUNT_CREDITOR_DATE, best_score, tuple(evidence))


def _unmatched(settlement: Settlement, why: str) -> SettlementDecision:
    refs = (settlement.entry_id, *([settlement.end_to_end_id] if settlement.end_to_end_id else []))
    line = f"{settlement.credit_debit} {fmt(settlement.amount, settlement.currency)} booked {settlement.booking_date}"
    reason = f"{line} on {settlement.account_iban}: {why}"
    return SettlementDecision(
        findings=(Finding(Category.UNMATCHED_SETTLEMENT, refs, reason, settlement.amount, settlement.currency),)
    )


def candidate_key(creditor_iban: str | None, currency: str, amount: Decimal) -> str:
    return f"{creditor_iban}|{currency}|{amount}"
