"""`exact`: same vendor, normalised number, document type, gross amount and date; score 100."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from duplicate_cases import IDENTITIES, ORIGINAL, inv
from reconstream.matchers.duplicate_evidence import DEFAULT_POLICY, SupplierIdentity
from reconstream.matchers.duplicate_rules.exact import Exact
from reconstream.matchers.duplicates import compare
from reconstream.models.invoices import DocumentType

CASES: list[tuple[dict[str, Any], bool | None]] = [
    ({}, True),
    ({"number": "nl 2026 42"}, True),  # the same number once normalised
    ({"on": date(2026, 3, 5)}, False),
    ({"net": "1000.01"}, False),
    ({"vendor": "V1B"}, False),  # another vendor id of the same supplier: a fuzzy rule's call
    ({"document_type": DocumentType.CREDIT_NOTE}, None),  # another kind of document: never compared
]


@pytest.mark.parametrize(("changes", "holds"), CASES)
def test_every_field_must_agree(changes: dict[str, Any], holds: bool | None) -> None:
    pair = compare(inv("I2", **changes), ORIGINAL, IDENTITIES, DEFAULT_POLICY)
    assert (Exact().holds(pair, DEFAULT_POLICY) if pair is not None else None) is holds


def test_score_reasons_and_key() -> None:
    pair = compare(inv("I2", number="nl 2026 42"), ORIGINAL, IDENTITIES, DEFAULT_POLICY)
    assert pair is not None and Exact().score(pair) == 100
    assert Exact().reasons(pair)[1] == "'nl 2026 42' equals 'NL-2026-00042' once normalised"
    assert Exact().keys(ORIGINAL, SupplierIdentity("V1")) == ["V1|NL202642"]
