"""Payee names as banks pass them on: upper case, transliterated, legal form dropped, cut at 27, 35 or 70.

"Müller Logistik GmbH & Co. KG" reaches the statement as "MUELLER LOGISTIK GMBH + CO. KG", "MULLER
LOGISTIK" or "MUELLER LOGISTIK GMBH + CO" cut short. Both sides are brought to one form before they are
compared: letters without accents, the German umlaut spellings folded (AE/OE/UE -> A/O/U, so the two
SEPA transliterations agree), punctuation gone, the legal form dropped.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_UMLAUTS = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "Æ": "AE", "Ø": "O", "Å": "A"})
_FOLDED = (("AE", "A"), ("OE", "O"), ("UE", "U"))
_NOT_WORD = re.compile(r"[^A-Z0-9]+")
# Legal forms and their pieces, as they appear once punctuation is gone ("S.A.R.L." -> "S A R L").
LEGAL_FORMS = frozenset(
    [
        "GMBH",
        "MBH",
        "AG",
        "KG",
        "OHG",
        "GBR",
        "EK",
        "EV",
        "UG",
        "CO",
        "KGAA",
        "SE",
        "BV",
        "NV",
        "VOF",
        "CV",
        "SA",
        "SAS",
        "SASU",
        "SARL",
        "EURL",
        "SNC",
        "SPA",
        "SRL",
        "SRLS",
        "SL",
        "SLU",
        "LTD",
        "LIMITED",
        "PLC",
        "LLP",
        "LLC",
        "INC",
        "CORP",
        "OY",
        "OYJ",
        "AB",
        "ASA",
        "AS",
        "APS",
        "SP",
        "ZOO",
        "Z",
        "O",
        "OO",
        "SPZOO",
        "KFT",
        "ZRT",
        "NYRT",
        "SRO",
        "AS",
        "DOO",
    ]
)
TRUNCATED_MIN = 10  # a bank's cut name counts as the vendor's only if this much of it is left


@lru_cache(maxsize=1 << 14)  # a vendor's name is normalised at each filing and each comparison
def normalized(name: str) -> str:
    """One comparable form of a party name: upper case ASCII words, umlauts folded, no legal form."""
    text = unicodedata.normalize("NFKD", name.upper().translate(_UMLAUTS))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    for written, folded in _FOLDED:
        text = text.replace(written, folded)
    words = [word for word in _NOT_WORD.split(text) if word and word not in LEGAL_FORMS]
    return " ".join(words)


@lru_cache(maxsize=1 << 14)
def name_key(name: str) -> str:
    """The index bucket of a name: its first word and the start of its second (banks cut names short,
    but rarely before that), so the Müller Logistik and Müller Bau of one family land apart."""
    words = normalized(name).split()
    return " ".join([*words[:1], *(word[:4] for word in words[1:2])])


def truncation_of(bank_name: str, vendor_name: str) -> bool:
    """The bank's name is the vendor's, cut short: long enough, and the start of it."""
    written, full = normalized(bank_name), normalized(vendor_name)
    return len(written) >= TRUNCATED_MIN and full.startswith(written)
