"""`re_keyed_number`: the number re-written (punctuation, prefix, year, zeros, OCR), the rest near."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from duplicate_cases import IDENTITIES, ORIGINAL, inv
from reconstream.matchers.duplicate_evidence import DEFAULT_POLICY
from reconstream.matchers.duplicate_rules.re_keyed_number import ReKeyedNumber
from reconstream.matchers.duplicates import compare, duplicate_keys

CASES: list[tuple[dict[str, Any], bool]] = [
    ({"number": "INV-NL-2026-00042"}, True),  # a prefix added
    ({"number": "NL-2O26-OOO42"}, True),  # scanned: O for 0
    ({"number": "NL202600042", "net": "1000.40"}, True),  # punctuation dropped, amount within tolerance
    ({"number": "NL-2026-00042/2026", "on": date(2026, 3, 11)}, True),  # the receipt date, a week on
    ({"number": "NL-2026-00042", "tax": "0.00"}, True),  # net keyed as the gross
    ({"number": "INV-NL-2026-00042", "net": "1500.00"}, False),  # another amount: another document
    ({"number": "INV-NL-2026-00042", "on": date(2026, 5, 4)}, False),  # two months apart
    ({"number": "INV-NL-2026-00042", "po_number": "PO-2", "original_po": "PO-1"}, False),
    ({"number": "NL-2026-00043"}, False),  # one edit: another rule's
]


@pytest.mark.parametrize(("changes", "holds"), CASES)
def test_re_written_number_and_the_rest_near(changes: dict[str, Any], holds: bool) -> None:
    earlier = ORIGINAL
    if "original_po" in changes:
        earlier = inv(po_number=changes.pop("original_po"))
    pair = compare(inv("I2", **changes), earlier, IDENTITIES, DEFAULT_POLICY)
    assert pair is not None and ReKeyedNumber().holds(pair, DEFAULT_POLICY) is holds


def test_keys_meet_a_re_punctuated_copy_under_any_vendor_id_of_the_supplier() -> None:
    rule = ReKeyedNumber()
    copy = inv("I2", number="NL2026 00042", vendor="V1B", net="1300.00")
    assert set(rule.keys(copy, IDENTITIES["V1B"])) & set(rule.keys(ORIGINAL, IDENTITIES["V1"]))
    assert set(rule.keys(ORIGINAL, IDENTITIES["V1"])) <= set(duplicate_keys(ORIGINAL, IDENTITIES["V1"]))
