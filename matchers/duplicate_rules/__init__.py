"""The duplicate-invoice rules, strongest first: the first that holds for a pair names it.

Adding a rule: one module in this package (a `DuplicateRule` with its keys and test), one line below,
one test file `tests/rules/test_duplicate_<name>.py`.
"""

from __future__ import annotations

from .base import DuplicateRule, Pair
from .exact import Exact
from .mistyped_number import MistypedNumber
from .re_keyed_number import ReKeyedNumber
from .sequence_slip import SequenceSlip

DUPLICATE_RULES: tuple[DuplicateRule, ...] = (Exact(), ReKeyedNumber(), MistypedNumber(), SequenceSlip())

__all__ = ["DUPLICATE_RULES", "DuplicateRule", "Pair"]
