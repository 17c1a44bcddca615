"""`end_to_end_id`: the bank echoes the EndToEndId of one of our open payment instructions.

The line is that instruction's whatever its amount: the id is ours and unique. The amount says how sure
and what is left to do: equal is certain; anything else (another currency, a credit, a different amount)
still links the line, scores 80 and is a settlement_amount_mismatch for treasury (`mismatch`). This is
the one rule for echoed ids; the settlement stream applies it before the other rules are asked.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconstream.models.exceptions import Category
from reconstream.models.outputs import MatchMethod

from ..findings import Finding, fmt
from ..payment_model import BankLine, OpenInstruction, PaymentMatch, Settles
from .base import Lookup, PaymentRule


def score(line: BankLine, instruction: OpenInstruction) -> PaymentMatch:
    evidence = [f"end-to-end id {instruction.end_to_end_id}"]
    difference = line.amount - instruction.amount
    if line.credit or line.currency != instruction.currency:
        evidence.append(
            f"a {'credit' if line.credit else 'debit'} of {fmt(line.amount, line.currency)}, "
            f"instructed a debit of {fmt(instruction.amount, instruction.currency)}"
        )
        return PaymentMatch(
            MatchMethod.END_TO_END_ID,
            80,
            tuple(evidence),
            instruction.invoice_ids,
            Settles.OVER,
            (),
            instruction.end_to_end_id,
            difference,
        )
    if difference == 0:
        evidence.append("amount equal")
        confidence, how = 100, Settles.IN_FULL
    else:
        evidence.append(f"amount differs by {fmt(difference, line.currency)}")
        confidence, how = 80, Settles.PARTLY if difference < 0 else Settles.OVER
    return PaymentMatch(
        MatchMethod.END_TO_END_ID,
        confidence,
        tuple(evidence),
        instruction.invoice_ids,
        how,
        (),
        instruction.end_to_end_id,
        difference,
    )


def mismatch(line: BankLine, instruction: OpenInstruction, match: PaymentMatch) -> Finding | None:
    """What treasury must settle when the echoed line and the instruction disagree; None if they agree."""
    if match.settles is Settles.IN_FULL:
        return None
    booked, owed = fmt(line.amount, line.currency), fmt(instruction.amount, instruction.currency)
    refs = (instruction.end_to_end_id, line.entry_id)
    if line.credit or line.currency != instruction.currency:
        why = f"entry {line.entry_id} is a {'CRDT' if line.credit else 'DBIT'} of {booked}, expected a debit of {owed}"
        return Finding(Category.SETTLEMENT_AMOUNT_MISMATCH, refs, why, line.amount, line.currency)
    difference = match.difference
    why = (
        f"settled {booked} but {owed} was open on {instruction.end_to_end_id}: "
        f"difference {fmt(difference, line.currency)}"
    )
    return Finding(Category.SETTLEMENT_AMOUNT_MISMATCH, refs, why, abs(difference), line.currency)


class EndToEndId(PaymentRule):
    """In the registry too: a line held for an invoice not yet posted, that came before the batch sending the id
    it echoes, is matched by the rules when its hold ends (tests/rules/test_payment_end_to_end_id.py). Its keys
    are also in every state's payment index."""

    name = MatchMethod.END_TO_END_ID

    def line_keys(self, line: BankLine) -> list[str]:
        return [f"e2e:{line.end_to_end_id}"] if line.end_to_end_id else []

    def instruction_keys(self, instruction: OpenInstruction) -> list[str]:
        return [f"e2e:{instruction.end_to_end_id}"]

    def candidates(self, lookup: Lookup, earlier: Sequence[PaymentMatch]) -> list[PaymentMatch]:
        echoed = lookup.line.end_to_end_id
        return [score(lookup.line, i) for i in lookup.instructions if echoed and i.end_to_end_id == echoed]
