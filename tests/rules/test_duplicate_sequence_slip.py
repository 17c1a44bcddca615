"""`sequence_slip`: one edit inside the running sequence counts only for a perfect copy otherwise."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from duplicate_cases import IDENTITIES, ORIGINAL, inv
from reconstream.matchers.duplicate_evidence import DEFAULT_POLICY
from reconstream.matchers.duplicate_rules.sequence_slip import SequenceSlip
from reconstream.matchers.duplicates import compare

CASES: list[tuple[dict[str, Any], bool]] = [
    ({"number": "NL-2026-00043"}, True),  # same amount, date and lines: keyed again with the next number
    ({"number": "NL-2026-00043", "on": date(2026, 3, 5)}, False),  # the next day: the next invoice
    ({"number": "NL-2026-00043", "net": "1000.40"}, False),
    ({"number": "NL-2026-00043", "line": "Instalment 2 of 6"}, False),  # same-day instalments differ in lines
    ({"number": "NL-2026-00043", "due_date": date(2026, 5, 4), "original_due": date(2026, 4, 3)}, False),
    ({"number": "NL-2026-00024"}, True),  # two digits of the running number swapped, all else equal
    ({"number": "NL-2026-00024", "on": date(2026, 3, 5)}, False),
]


@pytest.mark.parametrize(("changes", "holds"), CASES)
def test_only_a_perfect_copy_counts(changes: dict[str, Any], holds: bool) -> None:
    earlier = ORIGINAL
    if "original_due" in changes:
        earlier = inv(due_date=changes.pop("original_due"))
    pair = compare(inv("I2", **changes), earlier, IDENTITIES, DEFAULT_POLICY)
    assert pair is not None and SequenceSlip().holds(pair, DEFAULT_POLICY) is holds
