"""What a bank line says about what it pays: ISO 11649 creditor references and invoice numbers in text.

The reference checks are data validation and live with the model (models/creditor_references.py).
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from functools import lru_cache

from reconstream.models.creditor_references import compact_rf, is_valid_rf, rf_reference

from .invoice_numbers import number_forms

__all__ = [
    "compact_rf",
    "find_rf_references",
    "first_rf_reference",
    "is_valid_rf",
    "mentions_invoice",
    "number_mentions",
    "rf_reference",
]

_RF_IN_TEXT = re.compile(r"RF[0-9]{2}(?: ?[0-9A-Z]){1,21}")
_TOKEN = re.compile(r"[0-9A-Za-z]+")
# A token with at least one digit, or a short letter run that prefixes one ("INV 42", "RE 2026/42").
_MAX_GRAM = 4
MIN_NUMBER_LENGTH = 3  # "1" or "42" alone turns up in any text as a quantity or a date


def find_rf_references(text: str) -> list[str]:
    """Valid RF references in free text, compacted, in order of appearance.

    Payers print them whole or in groups of four, and a word after the reference may pass the check
    with it one time in 97. So every run that passes and is grouped as printed (all groups of four but
    the last) is returned, longest first: only one of them is an open invoice's reference.
    """
    found: list[str] = []
    for match in _RF_IN_TEXT.finditer(text.upper()):
        groups = match.group(0).split(" ")
        cuts = [groups[:n] for n in range(len(groups), 0, -1)]
        valid = [cut for cut in cuts if is_valid_rf("".join(cut))]
        grouped = [cut for cut in valid if len(cut) == 1 or all(len(group) == 4 for group in cut[:-1])]
        found += ["".join(cut) for cut in (grouped or valid)]
    return list(dict.fromkeys(found))


@lru_cache(maxsize=1 << 12)  # one line's text is read for its keys, its candidates and what it waits for
def number_mentions(text: str) -> frozenset[str]:
    """Normalised forms of every run of up to four adjacent tokens that holds a digit.

    "Pmt INV 000042 + INV-43/2026" yields "INV42", "42", "INV43", "432026" ... so an invoice number
    matches whether it was written with spaces, dashes or slashes. Only normalised equality counts later:
    no substring search, which would find "42" inside every amount.
    """
    tokens = _TOKEN.findall(text)
    mentions: set[str] = set()
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + _MAX_GRAM, len(tokens)) + 1):
            gram = tokens[start:end]
            if not any(ch.isdigit() for ch in gram[-1]):
                continue
            mentions |= {form for form in number_forms("-".join(gram)) if len(form) >= MIN_NUMBER_LENGTH}
    return frozenset(mentions)


def mentions_invoice(mentions: AbstractSet[str], invoice_number: str) -> bool:
    """Whether the text names the number in any of its forms: punctuated, without its prefix or leading
    zeros, misread by a scanner (number_forms)."""
    return not _long_forms(invoice_number).isdisjoint(mentions)


@lru_cache(maxsize=1 << 14)  # a bank line is read against every open invoice of its payee
def _long_forms(invoice_number: str) -> frozenset[str]:
    return frozenset(form for form in number_forms(invoice_number) if len(form) >= MIN_NUMBER_LENGTH)


def first_rf_reference(text: str | None) -> str | None:
    """The first valid RF reference in free text: banks often pass a structured one as unstructured text."""
    found = find_rf_references(text) if text else []
    return found[0] if found else None
