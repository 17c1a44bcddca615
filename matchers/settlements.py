"""A bank line that echoes our EndToEndId: the amount must then agree exactly.

The line is the instruction's whatever its amount; a difference is a settlement_amount_mismatch for
treasury. Lines without a usable id go to the scored rules of payment_matching.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from reconstream.models.bank_details import DataQualityFlag
from reconstream.models.exceptions import Category
from reconstream.models.outputs import MatchMethod
from reconstream.models.payments import CreditDebit, Settlement
from reconstream.tables.records import InstructionState

from .findings import Finding, fmt


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


def data_quality(entry: Settlement, flag: DataQualityFlag) -> Finding:
    """A field the bank file got wrong: the booking stands (money moved), the field needs a look."""
    return Finding(
        Category.DATA_QUALITY,
        (f"{entry.entry_id}|{flag.field}", entry.entry_id),
        f"bank entry {entry.entry_id} ({entry.credit_debit} {fmt(entry.amount, entry.currency)} booked "
        f"{entry.booking_date}): {flag.field} kept as written: {flag.reason}",
    )
