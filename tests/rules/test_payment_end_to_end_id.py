"""`end_to_end_id`: our own id echoed links the line to its instruction whatever the amount; the amount says
how sure, and a difference is a settlement_amount_mismatch for treasury."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import OTHER_IBAN, batch, settlement, vendor
from factories import instruction as sent
from factories import invoice as captured
from matching_cases import LEDGER, auto, instruction, line, lookup
from reconstream.matchers.payment_matching import Outcome, Settles, match_payment
from reconstream.matchers.payment_rules.end_to_end_id import EndToEndId, mismatch, score
from reconstream.models.exceptions import Category
from reconstream.models.outputs import Match
from reconstream.streams import Engine
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState

# (booked amount, currency, credit, instructed) -> (confidence, settles, mismatch raised)
CASES = [
    ("250.00", "EUR", False, "250.00", 100, Settles.IN_FULL, False),
    ("249.00", "EUR", False, "250.00", 80, Settles.PARTLY, True),
    ("254.50", "EUR", False, "250.00", 80, Settles.OVER, True),  # our charges added to the debit
    ("250.00", "USD", False, "250.00", 80, Settles.OVER, True),  # another currency than instructed
    ("250.00", "EUR", True, "250.00", 80, Settles.OVER, True),  # money in under our id is no settlement
]


@pytest.mark.parametrize(("booked", "currency", "credit", "instructed", "confidence", "settles", "raised"), CASES)
def test_the_amount_says_how_sure(
    booked: str, currency: str, credit: bool, instructed: str, confidence: int, settles: Settles, raised: bool
) -> None:
    bank_line = line(booked, end_to_end_id="E2E-1", currency=currency, credit=credit)
    sent = instruction(instructed)
    match = score(bank_line, sent)
    assert (match.confidence, match.settles, match.end_to_end_id) == (confidence, settles, "E2E-1")
    finding = mismatch(bank_line, sent, match)
    assert (finding is not None) is raised
    if finding is not None:
        assert finding.category is Category.SETTLEMENT_AMOUNT_MISMATCH and finding.refs == ("E2E-1", "E1")


def test_the_difference_is_named_in_the_mismatch() -> None:
    bank_line, sent = line("249.00", end_to_end_id="E2E-1"), instruction("250.00")
    finding = mismatch(bank_line, sent, score(bank_line, sent))
    assert finding is not None and finding.amount == Decimal("1.00") and "difference -1.00 EUR" in finding.reason


def test_only_the_echoed_instruction_is_a_candidate() -> None:
    rule = EndToEndId()
    found = rule.candidates(
        lookup(line("250.00", end_to_end_id="E2E-1"), [], [instruction("250.00"), instruction("250.00", e2e="E2E-2")]),
        [],
    )
    assert [m.end_to_end_id for m in found] == ["E2E-1"]
    assert rule.candidates(lookup(line("250.00"), [], [instruction("250.00")]), []) == []
    assert rule.line_keys(line("1.00", end_to_end_id="X")) == ["e2e:X"] and rule.line_keys(line("1.00")) == []


def test_in_the_decision_it_wins_and_another_amount_is_only_a_suggestion() -> None:
    decision = match_payment(line("250.00", end_to_end_id="E2E-1"), [instruction("250.00")], LEDGER)
    assert auto(decision) == ("end_to_end_id", ("I2",)) and decision.match is not None
    assert decision.match.confidence == 100
    other = match_payment(line("200.00", end_to_end_id="E2E-1"), [instruction("250.00")], [])
    assert other.outcome is Outcome.SUGGESTED and other.candidates[0].end_to_end_id == "E2E-1"


def test_in_the_engine_it_matches_a_held_line_whose_instruction_was_sent_after_it() -> None:
    """The settlement stream applies the rule itself to a line echoing an open instruction; the registry entry
    is what matches a line that came before the batch sending its id (out-of-order events), was held for an
    invoice it names that is not posted yet, and is matched by the rules when its hold ends."""
    engine = Engine(EngineState(MemoryStore()))
    events = [
        vendor(),
        captured(number="INV-2026-0815"),  # I1: captured, never posted
        captured(invoice_id="I2", number="INV-2026-0999"),
        settlement("2026-11-03T09:00:00Z", "S9", e2e="E1", counterparty=OTHER_IBAN, remittance="INV-2026-0815"),
        batch("2026-11-04T06:00:00Z", instructions=[sent("E1", ("I2",))]),  # sends E1 while S9 is held
        settlement("2026-11-20T09:00:00Z", "S10", e2e=None, remittance="something else"),  # the hold ends
    ]
    records = [o.record for event in events for o in engine.process(event, source="test") if o.stream == "matches"]
    matches = [record for record in records if isinstance(record, Match)]
    assert matches == records  # everything on the matches stream is a Match
    assert [(m.settlement_entry_id, m.method, m.end_to_end_id, m.confidence) for m in matches] == [
        ("S9", "end_to_end_id", "E1", 100)
    ]
