"""The duplicate rule registry: strongest first, each named once and tested in its own file; the keys an
invoice is indexed under are the union of the rules' keys, the exact tier's first."""

from __future__ import annotations

from pathlib import Path

from duplicate_cases import IDENTITIES, ORIGINAL, inv
from reconstream.matchers.duplicate_rules import DUPLICATE_RULES
from reconstream.matchers.duplicates import check_duplicate, duplicate_keys


def test_every_rule_is_named_once_and_tested() -> None:
    names = [rule.name for rule in DUPLICATE_RULES]
    assert names[0] == "exact" and len(set(names)) == len(names)
    assert all((Path(__file__).parent / f"test_duplicate_{name}.py").is_file() for name in names)


def test_the_first_rule_that_holds_names_the_pair() -> None:
    decision = check_duplicate(inv("I2", number="nl 2026 42"), [ORIGINAL], IDENTITIES)
    assert decision is not None and (decision.rule, decision.score) == ("exact", 100)
    slipped = check_duplicate(inv("I2", number="NL-2026-00043"), [ORIGINAL], IDENTITIES)
    assert slipped is not None and slipped.rule == "sequence_slip" and slipped.score < 100


def test_keys_are_the_union_of_the_rules_keys() -> None:
    keys = duplicate_keys(ORIGINAL, IDENTITIES["V1"])
    assert keys[0] == "V1|NL202642" and len(keys) == len(set(keys))
    assert set(keys) == {key for rule in DUPLICATE_RULES for key in rule.keys(ORIGINAL, IDENTITIES["V1"])}
