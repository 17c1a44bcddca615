"""`amount_creditor_date`: one of our open instructions to the line's counterparty account, for exactly the
line's amount, booked within a few days of its requested execution date (the bank lost our id)."""

from __future__ import annotations

from collections.abc import Sequence

from reconstream.models.outputs import MatchMethod

from ..payment_model import BankLine, MatchPolicy, OpenInstruction, PaymentMatch, Settles
from .base import Lookup, PaymentRule


def score(line: BankLine, instruction: OpenInstruction, policy: MatchPolicy) -> PaymentMatch | None:
    if (line.counterparty_account, line.currency, line.amount) != (
        instruction.creditor_account,
        instruction.currency,
        instruction.amount,
    ):
        return None
    days = abs((line.booking_date - instruction.requested_execution_date).days)
    if days > policy.instruction_date_window_days:
        return None
    evidence = (
        "amount equal",
        f"creditor account {instruction.creditor_account}",
        f"booked {days} day(s) from requested execution",
    )
    return PaymentMatch(
        MatchMethod.AMOUNT_CREDITOR_DATE,
        97 - 3 * days,
        evidence,
        instruction.invoice_ids,
        Settles.IN_FULL,
        (),
        instruction.end_to_end_id,
    )


class AmountCreditorDate(PaymentRule):
    name = MatchMethod.AMOUNT_CREDITOR_DATE

    def line_keys(self, line: BankLine) -> list[str]:
        return [f"acct:{line.counterparty_account}"] if line.counterparty_account else []

    def instruction_keys(self, instruction: OpenInstruction) -> list[str]:
        return [f"acct:{instruction.creditor_account}"]

    def candidates(self, lookup: Lookup, earlier: Sequence[PaymentMatch]) -> list[PaymentMatch]:
        line = lookup.line
        found = [score(line, i, lookup.policy) for i in lookup.instructions if i.end_to_end_id != line.end_to_end_id]
        return [match for match in found if match is not None]
