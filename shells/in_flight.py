"""Payment instructions in flight: sent to the bank and neither settled nor rejected yet, as the engine's
outputs say. One fold, read by the treasury page (which instructions, for how much) and by the metrics (the
reconciliation-completion time runs from the instruction's sending to its first settlement)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class PaymentInFlight:
    end_to_end_id: str
    sent_at: Any  # as the caller reads outputs: a datetime in the engine, the ISO text in a folder
    invoice_ids: list[str]
    details: dict[str, Any] = field(default_factory=dict)  # amount, currency, creditor, batch, debtor account


class PaymentsInFlight:
    """By end-to-end id, oldest sent first. `limit` bounds memory where only durations are wanted: the oldest
    instruction is forgotten once that many newer ones wait."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._payments: OrderedDict[str, PaymentInFlight] = OrderedDict()

    def sent(self, end_to_end_id: str, invoice_id: str, at: Any, details: dict[str, Any] | None = None) -> bool:
        """An invoice's payment went out in this instruction; True when the instruction is new (one
        instruction may pay several invoices, each with its own status update)."""
        payment = self._payments.get(end_to_end_id)
        if payment is not None:
            if invoice_id not in payment.invoice_ids:
                payment.invoice_ids.append(invoice_id)
            return False
        self._payments[end_to_end_id] = PaymentInFlight(end_to_end_id, at, [invoice_id], details or {})
        if self.limit is not None and len(self._payments) > self.limit:
            self._payments.popitem(last=False)
        return True

    def landed(self, end_to_end_id: str) -> PaymentInFlight | None:
        """The instruction settled or was rejected: out of flight; what it was, if it was in flight."""
        return self._payments.pop(end_to_end_id, None)

    def __contains__(self, end_to_end_id: str) -> bool:
        return end_to_end_id in self._payments

    def __len__(self) -> int:
        return len(self._payments)

    def payments(self) -> list[PaymentInFlight]:
        return list(self._payments.values())
