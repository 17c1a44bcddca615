"""The payment rules, in the order they are asked and rank on a tie of scores.

Adding a rule: one module in this package (a `PaymentRule` with its keys and scorer), one line below,
one test file `tests/rules/test_payment_<name>.py`, and its name in `models.outputs.MatchMethod`.
"""

from __future__ import annotations

from .amount_counterparty import AmountCounterparty
from .amount_creditor_date import AmountCreditorDate
from .base import Lookup, PaymentRule
from .cheque_amount import ChequeAmount
from .creditor_reference import CreditorReference
from .end_to_end_id import EndToEndId
from .invoice_number_in_text import InvoiceNumberInText

PAYMENT_RULES: tuple[PaymentRule, ...] = (
    EndToEndId(),
    CreditorReference(),
    InvoiceNumberInText(),
    AmountCreditorDate(),
    ChequeAmount(),
    AmountCounterparty(),
)
RANK = {rule.name: rank for rank, rule in enumerate(PAYMENT_RULES)}

__all__ = ["PAYMENT_RULES", "RANK", "Lookup", "PaymentRule"]
