"""Account numbers as a reader without the right to them sees them: the first four and last four kept.

Applied to any text shown to such a reader (an exception's reason, its refs, a timeline note), because
an IBAN travels inside free text as often as in its own field.
"""

from __future__ import annotations

import re

# An IBAN written whole or in groups of four: country, check digits, 11 to 30 more letters and digits.
_IBAN = re.compile(r"\b([A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30})\b")
_HIDDEN = "…"


def mask_iban(value: str) -> str:
    compact = value.replace(" ", "")
    return f"{compact[:4]}{_HIDDEN}{compact[-4:]}"


def mask_accounts(text: str) -> str:
    """Every IBAN in `text` masked; everything else as it was."""
    return _IBAN.sub(lambda found: mask_iban(found.group(1)), text)
