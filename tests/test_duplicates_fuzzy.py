"""The fuzzy duplicate tier: every pattern it must catch, and the look-alikes it must leave alone."""

from __future__ import annotations

from datetime import date

import pytest
from duplicate_cases import IDENTITIES, ORIGINAL, inv
from hypothesis import given
from hypothesis import strategies as st
from reconstream.matchers import duplicates
from reconstream.matchers.duplicates import check_duplicate, duplicate_keys
from reconstream.matchers.invoice_numbers import (
    NumberRelation,
    compare_numbers,
    core_number,
    fold,
    normalize_invoice_number,
)
from reconstream.models.exceptions import Category
from reconstream.models.invoices import DocumentType, Invoice


def flag(copy: Invoice, earlier: Invoice = ORIGINAL) -> duplicates.DuplicateDecision | None:
    return check_duplicate(copy, [earlier], IDENTITIES)


# -- numbers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "earlier", "relation"),
    [
        ("nl 2026 42", "NL-2026-00042", NumberRelation.NORMALISED),
        ("2026-00042", "NL-2026-00042", NumberRelation.AFFIXES),
        ("INV-00042/2026", "2026-00042", NumberRelation.AFFIXES),
        ("NL-2O26-OOO42", "NL-2026-00042", NumberRelation.OCR),
        ("INV 000I23", "INV 000123", NumberRelation.OCR),
        ("AB-S5B8Z", "AB-55882", NumberRelation.OCR),
        ("NL-2026-04712", "NL-2026-04172", NumberRelation.TRANSPOSITION),
        ("AB7C-00042", "AB1C-00042", NumberRelation.TYPO),
        ("NL-226-00042", "NL-2026-00042", NumberRelation.TYPO),
        ("NK-2026-00042", "NL-2026-00042", NumberRelation.AFFIXES),  # another prefix, same number
        ("NL-2026-00043", "NL-2026-00042", NumberRelation.SEQUENCE),
        ("NL-2026-00042", "NL-2026-00917", NumberRelation.DIFFERENT),
        ("RE 2025/42", "RE 2026/42", NumberRelation.SEQUENCE),  # not an affix: another year's number 42
    ],
)
def test_number_relations(number: str, earlier: str, relation: NumberRelation) -> None:
    assert compare_numbers(number, earlier).relation is relation


def test_ocr_reason_names_the_confusion() -> None:
    assert "O/0" in compare_numbers("NL-2026-OOO42", "NL-2026-00042").reason


# Digit groups end in a significant digit: the legacy normaliser merges "0-0" into "00" (not idempotent).
@given(st.from_regex(r"[A-Za-z]{0,3}[ /-]?([0-9OoIlSBZ]{0,3}[1-9][ /.-]?){1,3}", fullmatch=True))
def test_normalising_and_folding_are_idempotent(number: str) -> None:
    once = normalize_invoice_number(number)
    assert normalize_invoice_number(once) == once
    assert fold(number.lower()) == fold(number.upper())  # case never matters, also for O/0 and l/1
    assert normalize_invoice_number(core_number(number)) == core_number(number)


# -- duplicates caught -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("copy", "must_say"),
    [
        (inv("I2", number="nl/2026/42"), "once normalised"),
        (inv("I2", number="INV-NL-2026-00042"), "prefix/suffix"),
        (inv("I2", number="NL-2026-00042/2026"), "prefix/suffix"),
        (inv("I2", number="NL-2O26-OOO42"), "O/0"),
        (inv("I2", number="NL-2026-00024"), "swapped"),
        (inv("I2", number="NL-226-00042"), "one missing or extra character"),
        (inv("I2", number="NL-2026-0042", net="1000.40"), "+0.40 EUR"),
        (inv("I2", tax="0.00"), "net amount of one equals the gross"),
        (inv("I2", on=date(2026, 3, 6)), "date +2 days"),
        (inv("I2", on=date(2026, 4, 3)), "day and month swapped"),
        (inv("I2", vendor="V1B"), "tax id DE123456789"),
        (inv("I2", vendor="V1C", number="NL 2026 42"), "bank account"),
        (inv("I2", number="NL-2026-00043"), "sequence digit"),  # same amount, date, lines: a re-keyed copy
    ],
)
def test_copies_are_flagged_with_score_and_reasons(copy: Invoice, must_say: str) -> None:
    decision = flag(copy)
    assert decision is not None and decision.earlier_invoice_id == "I1"
    assert 70 <= decision.score <= 100
    finding = decision.finding()
    assert finding.category is Category.DUPLICATE_INVOICE and finding.refs == ("I2", "I1")
    assert f"score {decision.score}" in finding.reason and must_say in finding.reason


def test_reason_reads_like_a_clerk_would_say_it() -> None:
    decision = flag(inv("I2", number="NL-2O26-00042", on=date(2026, 3, 6)))
    assert decision is not None
    assert decision.reasons == (
        "same vendor",
        "number 'NL-2O26-00042' differs from 'NL-2026-00042' by O/0",
        "same gross amount",
        "date +2 days",
    )


def test_exact_copy_scores_100_and_the_best_candidate_wins() -> None:
    weaker = inv("I0", number="NL-2026-0042", on=date(2026, 3, 7))
    decision = check_duplicate(inv("I2"), [weaker, ORIGINAL], IDENTITIES)
    assert decision is not None and (decision.earlier_invoice_id, decision.rule, decision.score) == ("I1", "exact", 100)
    assert check_duplicate(inv("I2"), [ORIGINAL, weaker], IDENTITIES) == decision  # order does not matter


# -- look-alikes left alone ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lookalike",
    [
        inv("I2", number="NL-2026-00043", on=date(2026, 4, 4)),  # next month's rent, same amount
        inv("I2", number="NL-2026-00043", on=date(2026, 3, 13), line="Instalment 2/3"),  # instalment
        inv("I2", number="NL-2026-00042-2", due_date=date(2026, 5, 4), line="Instalment 2/3"),
        inv("I2", document_type=DocumentType.CREDIT_NOTE),  # credit note for the same amount and number
        inv("I2", number="NL-2026-00043", net="1040.00", tax="197.60"),  # next invoice, similar amount
        inv("I2", number="NL-2026-00043", line="Service fee site Bremen"),  # same fee, another site
        inv("I2", vendor="V2"),  # another supplier that prints the same number
        inv("I2", number="NL-2026-00042", net="2500.00", tax="475.00"),  # same number, another amount
        inv("I2", number="NL-2026-00042", on=date(2026, 5, 20)),  # same number and amount, months apart
        inv("I2", number="NL-226-00042", net="1000.40"),  # a typo needs the amount to agree exactly
        inv("I2", number="NL-2O26-00042", po_number="PO-2"),  # another purchase order
        inv("I2", number="RE 2025/42"),  # numbering restarted: last year's number 42
    ],
)
def test_lookalikes_are_not_flagged(lookalike: Invoice) -> None:
    earlier = inv("I1", po_number="PO-1") if lookalike.po_number else ORIGINAL
    if lookalike.supplier_invoice_number == "RE 2025/42":
        earlier = inv("I1", number="RE 2026/42", on=date(2026, 3, 4))
        lookalike = inv("I2", number="RE 2025/42", on=date(2025, 3, 4))
    assert flag(lookalike, earlier) is None


def test_unknown_supplier_relation_is_never_a_duplicate() -> None:
    assert check_duplicate(inv("I2", vendor="V9"), [ORIGINAL], IDENTITIES) is None


# -- blocking --------------------------------------------------------------------------------------
def test_every_caught_copy_shares_a_blocking_key_with_its_original() -> None:
    copies = [
        inv("I2", number="NL-2O26-OOO42"),
        inv("I2", number="NL-226-00042"),
        inv("I2", tax="0.00"),
        inv("I2", vendor="V1B", number="2026-42"),
        inv("I2", vendor="V1C", number="NL-2026-00024"),
    ]
    original_keys = set(duplicate_keys(ORIGINAL, IDENTITIES["V1"]))
    for copy in copies:
        assert original_keys & set(duplicate_keys(copy, IDENTITIES[copy.vendor_id])), copy.supplier_invoice_number


def test_keys_start_with_the_exact_tier_key_and_stay_few() -> None:
    keys = duplicate_keys(ORIGINAL, IDENTITIES["V1"])
    assert keys[0] == duplicates.blocking_keys(ORIGINAL)[0] == "V1|NL202642"
    assert len(keys) == len(set(keys)) <= 10
    # No amount or number key is shared by another supplier's invoice of the same amount.
    assert not set(keys) & set(duplicate_keys(inv("I9", vendor="V2"), IDENTITIES["V2"]))


def test_exact_tier_is_unchanged() -> None:
    finding = duplicates.find_duplicate(inv("I2", number="nl 2026 42"), [ORIGINAL])
    assert finding is not None and finding.reason.startswith("duplicate of I1: same vendor")
    assert duplicates.find_duplicate(inv("I2", on=date(2026, 3, 6)), [ORIGINAL]) is None


def test_copies_differing_only_in_separators_meet_and_match() -> None:
    # Stripping each digit group's zeros before the separators kept these apart ("INV2026504" vs "INV2026000504").
    for number, copy in (("INV-2026-000504", "INV2026000504"), ("2026-08-0191", "2026080191")):
        original, again = inv("P1", number=number), inv("P2", number=copy)
        assert set(duplicate_keys(original, IDENTITIES["V1"])) & set(duplicate_keys(again, IDENTITIES["V1"]))
        decision = duplicates.check_duplicate(again, [original], IDENTITIES)
        assert decision is not None and decision.rule in ("exact", "re_keyed_number"), (number, decision)
