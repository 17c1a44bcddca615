"""The payment rule registry: every rule named once, reported as a match method, tested in its own file,
and the index keys the rules file documents under are the ones the engine has always used."""

from __future__ import annotations

from pathlib import Path

from matching_cases import IBAN, LEDGER, RF, instruction, line
from reconstream.matchers.payment_matching import instruction_keys, invoice_keys, line_keys
from reconstream.matchers.payment_rules import PAYMENT_RULES, RANK
from reconstream.models.outputs import MatchMethod


def test_every_rule_is_named_once_reported_and_tested() -> None:
    names = [rule.name for rule in PAYMENT_RULES]
    assert len(set(names)) == len(names) and all(names)
    # Every method but `manual` is a rule: a person's match is applied, not scored (matchers/manual_match.py).
    assert set(names) == {method.value for method in MatchMethod} - {MatchMethod.MANUAL.value}
    here = Path(__file__).parent
    assert all((here / f"test_payment_{name}.py").is_file() for name in names)
    assert RANK[MatchMethod.END_TO_END_ID] == 0  # our own id ranks first on a tie of scores


def test_keys_are_the_union_of_the_rules_keys_and_those_the_state_already_holds() -> None:
    # Keys are persisted in the state store's index: a refactor of the rules must not change them.
    cheque = line("1000.00", f"RE NL-2026-00004 {RF}", end_to_end_id="E2E-1", cheque=True)
    keys = line_keys(cheque)
    assert len(keys) == len(set(keys)) == 28
    assert set(keys) == {key for rule in PAYMENT_RULES for key in rule.line_keys(cheque)}
    assert {"e2e:E2E-1", f"rf:{RF}", "num:NL202600004", f"acct:{IBAN}", "name:NORDWIND LOGI", "amt:EUR|1000.00"} <= set(
        keys
    )
    assert set(invoice_keys(LEDGER[2])) == {
        f"rf:{RF}",
        "num:202600003",
        "num:20263",
        "num:N120263",
        "num:NL202600003",
        "num:NL20263",
        "amt:EUR|0",
        f"acct:{IBAN}",
        "name:NORDWIND LOGI",
    }
    assert instruction_keys(instruction("1.00")) == ["e2e:E2E-1", f"acct:{IBAN}"]
