"""Ways a supplier invoice number gets written again: re-keyed, with a prefix or year, misread, mistyped.

The demo month and the labeled quality set plant duplicates with these; the detector must see through
every one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from random import Random

from reconstream.matchers.invoice_numbers import normalize_invoice_number

_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_LAST_DIGITS = re.compile(r"([0-9]+)$")


def rekey(number: str, rng: Random) -> str:
    """The same supplier number as a clerk re-keys it: case, separators, leading zeros.

    The result is different text with the same normalised form, so only the normalising exact tier
    of the duplicate detector can connect it to the original.
    """
    rewrites: list[Callable[[str], str]] = [
        str.lower,
        lambda s: s.replace("-", " "),
        lambda s: s.replace("-", "/"),
        lambda s: s.replace(" ", "-"),
        lambda s: s.replace("/", "-"),
        lambda s: _LEADING_ZEROS.sub("", s),
        lambda s: _LAST_DIGITS.sub(r"00\1", s),
    ]
    target = normalize_invoice_number(number)
    for _ in range(20):
        candidate = number
        for rewrite in rng.sample(rewrites, rng.randint(1, 2)):
            candidate = rewrite(candidate)
        if candidate != number and normalize_invoice_number(candidate) == target:
            return candidate
    return "0" + number  # a leading zero is always the same number once normalised


def add_affix(number: str, year: int, rng: Random) -> str:
    if number[:1].isalpha() and "-" in number and rng.random() < 0.5:
        return number.split("-", 1)[1]  # prefix dropped
    return f"INV-{number}" if rng.random() < 0.5 else f"{number}/{year}"


_TO_OCR = {"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z"}


def ocr_misread(number: str, rng: Random) -> str | None:
    spots = [i for i, ch in enumerate(number) if ch in _TO_OCR]
    if not spots:
        return None
    chosen = rng.sample(spots, min(len(spots), rng.choice((1, 1, 2))))
    return "".join(_TO_OCR[ch] if i in chosen else ch for i, ch in enumerate(number))


def mistype(number: str, rng: Random, kind: str) -> str | None:
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    # Leading zeros hide a change (they are normalised away); type over the significant digits only.
    significant = [i for i in digits if number[i] != "0" or (i > 0 and number[i - 1] in "123456789")]
    if len(significant) < 2:
        return None
    if kind == "transposition":
        pairs = [i for i in significant if i + 1 in significant and number[i] != number[i + 1]]
        if not pairs:
            return None
        i = rng.choice(pairs)
        return number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    i = rng.choice(significant)
    if kind == "missing_digit":
        return number[:i] + number[i + 1 :]
    return number[:i] + rng.choice([d for d in "123456789" if d != number[i]]) + number[i + 1 :]
