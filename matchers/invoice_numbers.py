"""Supplier invoice numbers as clerks, scanners and suppliers write them: normalise, fold, compare.

Three views of one number, each coarser than the last:
- normalised: upper case, no punctuation or spaces, no leading zeros in a digit group (the exact tier);
- core: the normalised number without a letter prefix ("INV-", "RE ") and without a year group in
  front or behind ("2026-" / "/2026"), so "INV-2026-0042", "42/2026" and "0042" agree;
- skeleton: the core (or the whole number) with the letters OCR mistakes for digits folded into them
  (O->0, I/L->1, S->5, B->8, Z->2), so a scanned "1NV-OO42" meets the keyed "INV-0042".
Two numbers one edit apart are compared on their skeletons with rapidfuzz's optimal string alignment
distance, which counts an adjacent transposition as one edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from rapidfuzz.distance import OSA

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_PREFIX = re.compile(r"^(?:[A-Z]+[^0-9A-Z]*)+(?=[0-9])")
_YEAR_FIRST = re.compile(r"^((?:19|20)[0-9]{2})[^0-9A-Z]+(?=[0-9A-Z])")
_YEAR_LAST = re.compile(r"(?<=[0-9A-Z])[^0-9A-Z]+((?:19|20)[0-9]{2})$")
_TRAILING_DIGITS = re.compile(r"[0-9]+$")

# Letters a scanner reads where the supplier printed a digit (and the reverse, folded the same way).
OCR_PAIRS = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"}
OCR_FOLD = str.maketrans(OCR_PAIRS)

# Every form below is a pure function of one number, asked for again each time its invoice is filed in
# or taken out of an index and each time a copy of it is compared: a bounded cache answers the repeats.
FORMS_CACHE = 1 << 16

# Typos in numbers shorter than this are too cheap to find by chance to count as evidence.
MIN_TYPO_LENGTH = 4


@lru_cache(maxsize=FORMS_CACHE)
def normalize_invoice_number(number: str) -> str:
    """Upper case, no leading zeros in any digit group, no punctuation or spaces.

    Zeros go before separators do, so 'INV-2026-0042' and 'inv 2026/42' agree, but 2026-0042 never
    collapses into the different number 20260042.
    """
    return _NOT_ALNUM.sub("", _LEADING_ZEROS.sub("", number.upper())) or "0"


@lru_cache(maxsize=FORMS_CACHE)
def compact_number(number: str) -> str:
    """Upper case without separators, zeros kept: "INV-2026-000504" and "INV2026000504" are one number,
    which stripping each digit group's zeros first ("INV2026504") would keep apart."""
    return _NOT_ALNUM.sub("", number.upper())


MIN_CORE_LENGTH = 5  # a bare sequence shorter than this ("42") turns up in any text


@lru_cache(maxsize=FORMS_CACHE)
def number_forms(number: str) -> frozenset[str]:
    """The forms a payer's text may carry an invoice number in: normalised, without separators (zeros
    kept), with OCR look-alikes folded, and without its prefix and year (when long enough to mean it)."""
    forms = {normalize_invoice_number(number), compact_number(number), fold(number)}
    bare = _PREFIX.sub("", number.upper().strip())  # "F-2025-00017" paid as "2025-00017"
    for short in (core_number(number), normalize_invoice_number(bare), compact_number(bare)):
        if len(short) >= MIN_CORE_LENGTH:
            forms.add(short)
    return frozenset(form for form in forms if form and form != "0")


def core_number(number: str) -> str:
    """The normalised number without a letter prefix and without a leading or trailing year group."""
    return _split_year(number)[0]


@lru_cache(maxsize=FORMS_CACHE)
def _split_year(number: str) -> tuple[str, frozenset[str]]:
    """(core, the year groups taken off it)."""
    text = _PREFIX.sub("", number.upper().strip())
    years: set[str] = set()
    for pattern in (_YEAR_LAST, _YEAR_FIRST):
        found = pattern.search(text)
        if found is not None:
            years.add(found.group(1))
            text = text[: found.start()] + text[found.end() :]
    return normalize_invoice_number(text), frozenset(years)


def _years_agree(years: frozenset[str], earlier_years: frozenset[str]) -> bool:
    # Numbering restarts each year: RE 2025/42 and RE 2026/42 are two invoices, not one with an affix.
    return not years or not earlier_years or bool(years & earlier_years)


@lru_cache(maxsize=FORMS_CACHE)
def fold(number: str) -> str:
    """OCR look-alike letters as the digits they stand for, then normalised."""
    return normalize_invoice_number(number.upper().translate(OCR_FOLD))


@lru_cache(maxsize=FORMS_CACHE)
def skeletons(number: str) -> tuple[str, ...]:
    """The folded whole number and the folded core: the blocking keys for re-keyed and scanned copies.

    Both are needed: folding first turns a prefix into digits ("INV" -> "1NV"), so only the whole
    number meets a copy scanned with a misread prefix; the core meets a copy keyed without one.
    """
    whole, core = fold(number), fold(core_number(number))
    return (whole,) if whole == core else (whole, core)


class NumberRelation(StrEnum):
    """How two supplier invoice numbers relate, strongest first."""

    SAME = "same"
    NORMALISED = "normalised"  # case, separators, leading zeros
    AFFIXES = "affixes"  # a prefix such as INV- or a year such as /2026 added or dropped
    OCR = "ocr"  # letters read as digits
    TRANSPOSITION = "transposition"  # two adjacent characters swapped
    TYPO = "typo"  # one character wrong, missing or extra
    SEQUENCE = "sequence"  # one digit of the trailing sequence differs: could as well be the next invoice
    DIFFERENT = "different"


@dataclass(frozen=True, slots=True)
class NumberComparison:
    relation: NumberRelation
    reason: str
    in_sequence: bool = False  # the difference sits in the trailing digits that count up invoice by invoice


def compare_numbers(number: str, earlier: str) -> NumberComparison:
    if number == earlier:
        return NumberComparison(NumberRelation.SAME, "same invoice number")
    if normalize_invoice_number(number) == normalize_invoice_number(earlier) or compact_number(
        number
    ) == compact_number(earlier):
        return NumberComparison(NumberRelation.NORMALISED, f"number {number!r} equals {earlier!r} once normalised")
    (core, years), (earlier_core, earlier_years) = _split_year(number), _split_year(earlier)
    if core == earlier_core and _years_agree(years, earlier_years):
        return NumberComparison(NumberRelation.AFFIXES, f"number {number!r} differs from {earlier!r} by prefix/suffix")
    mine, theirs = set(skeletons(number)), set(skeletons(earlier))
    if mine & theirs and _years_agree(years, earlier_years):
        confusions = ocr_confusions(number, earlier)
        which = ", ".join(confusions) if confusions else "letters read as digits"
        return NumberComparison(NumberRelation.OCR, f"number {number!r} differs from {earlier!r} by {which}")
    # The whole number, the number as typed (a dropped digit can expose a zero that normalising would
    # hide) and the core (one copy keyed with its prefix, the other without): the first one edit apart.
    for left, right in (
        (fold(number), fold(earlier)),
        (_typed(number), _typed(earlier)),
        (fold(core), fold(earlier_core)),
    ):
        if _within_one_edit(left, right):
            return _one_edit(number, earlier, left, right)
    return NumberComparison(NumberRelation.DIFFERENT, f"number {number!r} differs from {earlier!r}")


def _typed(number: str) -> str:
    return _NOT_ALNUM.sub("", number.upper().translate(OCR_FOLD))


def _within_one_edit(left: str, right: str) -> bool:
    return max(len(left), len(right)) >= MIN_TYPO_LENGTH and OSA.distance(left, right, score_cutoff=1) <= 1


def ocr_confusions(number: str, earlier: str) -> list[str]:
    """The look-alike pairs that separate two numbers, e.g. ['O/0'], read position by position."""
    pairs: dict[str, None] = {}
    for left, right in _aligned(number, earlier):
        for a, b in ((left, right), (right, left)):
            if OCR_PAIRS.get(a) == b:
                pairs[f"{a}/{b}"] = None
    return list(pairs)


def _aligned(number: str, earlier: str) -> list[tuple[str, str]]:
    # Compare without separators; an equal length is the only alignment a clerk can read at a glance.
    left, right = _NOT_ALNUM.sub("", number.upper()), _NOT_ALNUM.sub("", earlier.upper())
    if len(left) != len(right):
        left, right = _NOT_ALNUM.sub("", core_number(number)), _NOT_ALNUM.sub("", core_number(earlier))
    return [(a, b) for a, b in zip(left, right, strict=False) if a != b] if len(left) == len(right) else []


def _one_edit(number: str, earlier: str, left: str, right: str) -> NumberComparison:
    if left == right or not _within_one_edit(left, right):
        return NumberComparison(NumberRelation.DIFFERENT, f"number {number!r} differs from {earlier!r}")
    first = next((i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), min(len(left), len(right)))
    sequence = _TRAILING_DIGITS.search(left)
    # A difference inside the running sequence may just as well be the supplier's next invoice.
    in_sequence = sequence is not None and first >= sequence.start()
    if len(left) != len(right):
        why = f"number {number!r} differs from {earlier!r} by one missing or extra character"
        return NumberComparison(NumberRelation.TYPO, why, in_sequence)
    if sum(a != b for a, b in zip(left, right, strict=True)) == 2:
        why = f"number {number!r} is {earlier!r} with two characters swapped"
        return NumberComparison(NumberRelation.TRANSPOSITION, why, in_sequence)
    if in_sequence:
        why = f"number {number!r} differs from {earlier!r} in one sequence digit"
        return NumberComparison(NumberRelation.SEQUENCE, why, True)
    return NumberComparison(NumberRelation.TYPO, f"number {number!r} differs from {earlier!r} by one character")
