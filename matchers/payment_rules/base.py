"""What a payment rule is: the index keys it files documents and lines under, and its scorer.

A rule sees the bank line, the open instructions and invoices its keys (and the other rules' keys)
selected, the policy, and the candidates the rules before it in the registry found: a costly rule may
stand down when an earlier one already scores beyond its reach, and an amount-only rule weighs what the
payer named. It returns candidates, each scored 0-100 with its evidence; it never decides alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconstream.models.outputs import MatchMethod

from ..payment_model import BankLine, MatchPolicy, OpenInstruction, OpenInvoice, PaymentMatch


@dataclass(frozen=True, slots=True)
class Lookup:
    """A bank line and the open documents its keys selected, deduplicated and in a stable order."""

    line: BankLine
    instructions: Sequence[OpenInstruction]
    invoices: Sequence[OpenInvoice]
    policy: MatchPolicy


class PaymentRule:
    """Base of every payment rule: no keys, no candidates. A rule overrides what it uses."""

    name: MatchMethod  # each rule's own: what a match it makes reports as its method

    def line_keys(self, line: BankLine) -> list[str]:
        """Keys a bank line looks its candidates up under."""
        return []

    def invoice_keys(self, invoice: OpenInvoice) -> list[str]:
        """Keys an open invoice is filed under while money is open on it."""
        return []

    def instruction_keys(self, instruction: OpenInstruction) -> list[str]:
        """Keys an open payment instruction is filed under until it is settled or rejected."""
        return []

    def candidates(self, lookup: Lookup, earlier: Sequence[PaymentMatch]) -> list[PaymentMatch]:
        """Every target this rule finds for the line, each scored with its evidence."""
        raise NotImplementedError
