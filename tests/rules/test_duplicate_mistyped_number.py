"""`mistyped_number`: one character mistyped or two swapped outside the running sequence, amount and date close."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from duplicate_cases import IDENTITIES, ORIGINAL, inv
from reconstream.matchers.duplicate_evidence import DEFAULT_POLICY
from reconstream.matchers.duplicate_rules.mistyped_number import MistypedNumber
from reconstream.matchers.duplicates import compare

EARLIER = inv(number="AB1C-00042")

CASES: list[tuple[dict[str, Any], bool]] = [
    ({"number": "AB7C-00042"}, True),  # one character mistyped
    ({"number": "A1BC-00042"}, True),  # two swapped
    ({"number": "AB11C-00042"}, True),  # one too many
    ({"number": "AB7C-00042", "on": date(2026, 4, 3)}, True),  # and day and month swapped
    ({"number": "AB7C-00042", "tax": "0.00"}, True),  # net keyed as the gross
    ({"number": "AB7C-00042", "on": date(2026, 3, 9)}, False),  # five days on: too far for a typo
    ({"number": "AB7C-00042", "net": "1000.40"}, False),  # a typo needs the amount exact
    ({"number": "AB7C-00042", "line": "Maintenance April"}, False),  # other lines: another document
    ({"number": "AB1C-00043"}, False),  # the next number in the sequence: sequence_slip's call
]


@pytest.mark.parametrize(("changes", "holds"), CASES)
def test_one_edit_amount_exact_and_date_close(changes: dict[str, Any], holds: bool) -> None:
    pair = compare(inv("I2", **changes), EARLIER, IDENTITIES, DEFAULT_POLICY)
    assert pair is not None and MistypedNumber().holds(pair, DEFAULT_POLICY) is holds


def test_keys_are_the_amounts_since_the_number_is_wrong() -> None:
    keys = MistypedNumber().keys(ORIGINAL, IDENTITIES["V1"])
    assert "dup:A|T:DE123456789|EUR|1190.00" in keys and "dup:A|T:DE123456789|EUR|1000.00" in keys
