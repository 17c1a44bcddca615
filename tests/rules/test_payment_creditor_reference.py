"""`creditor_reference`: a valid ISO 11649 RF reference of an open invoice, in its field or in the text."""

from __future__ import annotations

import pytest
from matching_cases import LEDGER, OTHER, RF, auto, line, lookup
from reconstream.matchers.payment_matching import Outcome, Settles, match_payment
from reconstream.matchers.payment_rules.creditor_reference import CreditorReference, line_references

GROUPED = " ".join(RF[i : i + 4] for i in range(0, len(RF), 4))
BROKEN = RF[:-1] + ("2" if RF[-1] != "2" else "3")

# (amount, where the reference is) -> (confidence, settles), or None for no candidate
CASES = [
    ("75.50", {"creditor_reference": RF}, (99, Settles.IN_FULL)),
    ("75.50", {"text": f"Zahlung {GROUPED}"}, (99, Settles.IN_FULL)),  # printed in groups of four
    ("75.00", {"creditor_reference": RF}, (94, Settles.SHORT)),  # within 1 % short: a write-off
    ("40.00", {"creditor_reference": RF}, (93, Settles.PARTLY)),
    ("75.50", {"creditor_reference": BROKEN}, None),  # check digits fail: not a reference
    (
        "75.50",
        {"creditor_reference": RF, "counterparty_account": OTHER, "counterparty_name": "SOMEONE"},
        (84, Settles.IN_FULL),
    ),
]


@pytest.mark.parametrize(("amount", "where", "expected"), CASES)
def test_reference_and_amount(amount: str, where: dict[str, str], expected: tuple[int, Settles] | None) -> None:
    fields = dict(where)
    text = fields.pop("text", "")
    found = CreditorReference().candidates(lookup(line(amount, text, **fields)), [])
    assert ((found[0].confidence, found[0].settles) if found else None) == expected
    if found:
        assert found[0].invoice_ids == ("I3",)


def test_in_the_decision() -> None:
    assert auto(match_payment(line("75.50", creditor_reference=RF), [], LEDGER)) == ("creditor_reference", ("I3",))
    stranger = line("75.50", creditor_reference=BROKEN, counterparty_account=OTHER, counterparty_name="SOMEONE ELSE")
    assert match_payment(stranger, [], LEDGER).outcome is Outcome.UNMATCHED


def test_keys_are_the_compact_references() -> None:
    assert line_references(line("1.00", f"a {GROUPED} b")) == [RF]
    assert CreditorReference().line_keys(line("1.00", creditor_reference=RF)) == [f"rf:{RF}"]
