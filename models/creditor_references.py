"""Creditor references and the checks that make a mistyped one fail, before it pays the wrong invoice.

Each scheme's check digits come from python-stdnum where it has the scheme (ISO 11649 RF, the Swiss
QR/ESR reference, the Belgian structured communication, the Luhn mod 10 of Nordic references); the
Dutch betalingskenmerk, the Finnish reference and the Norwegian KID mod 11 variant it does not have are
written out below from their published rules. A digits-only reference rarely says its scheme, so
`reference_scheme` tries the schemes from the most to the least specific and names the first that holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum import iso11649, luhn
from stdnum.be import ogm_vcs
from stdnum.ch import esr
from stdnum.iso7064 import mod_97_10

from .bank_details import ReferenceScheme

_RF_PAYLOAD = re.compile(r"^[0-9A-Z]{1,21}$")
_SEPARATORS = re.compile(r"[\s+/.\-]")


def compact_reference(reference: str) -> str:
    return _SEPARATORS.sub("", reference).upper()


def compact_rf(reference: str) -> str:
    return iso11649.compact(reference)


def is_valid_rf(reference: str) -> bool:
    # stdnum.iso11649 checks the length (5-25), the RF prefix and the mod 97-10 digits; the payload check on
    # top keeps it to ASCII letters and digits, as ISO 11649 has it: stdnum reads any character int(c, 36)
    # takes, so "RF18٥39007٥47034" (Arabic-Indic fives) passes stdnum alone and is refused here.
    compact = compact_rf(reference)
    return bool(_RF_PAYLOAD.match(compact[4:])) and iso11649.is_valid(compact)


def rf_reference(payload: str) -> str:
    """The ISO 11649 creditor reference for a payload of up to 21 letters and digits, e.g. RF18539007547034."""
    body = "".join(payload.split()).upper()
    if not _RF_PAYLOAD.match(body):
        raise ValueError(f"payload: {payload!r} must be 1-21 letters or digits")
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def _swiss_qr(digits: str) -> bool:
    return len(digits) == 27 and esr.is_valid(digits)


def _belgian(digits: str) -> bool:
    return len(digits) == 12 and ogm_vcs.is_valid(digits)


_NL_WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6, 1, 2, 4, 8, 5, 10)


def _dutch(digits: str) -> bool:
    """Betalingskenmerk, 16-digit form: the first digit checks the other 15 (weights from the right, mod 11)."""
    if len(digits) != 16:
        return False
    total = sum(int(d) * w for d, w in zip(reversed(digits[1:]), _NL_WEIGHTS, strict=True))
    check = 11 - total % 11
    return int(digits[0]) == {10: 1, 11: 0}.get(check, check)


def _finnish(digits: str) -> bool:
    """Viitenumero: 4-20 digits, the last checks the rest with weights 7, 3, 1 from the right."""
    if not 4 <= len(digits) <= 20:
        return False
    weights = (7, 3, 1)
    total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(digits[:-1])))
    return int(digits[-1]) == (10 - total % 10) % 10


def _kid_mod11(digits: str) -> bool:
    weights = (2, 3, 4, 5, 6, 7)
    total = sum(int(d) * weights[i % 6] for i, d in enumerate(reversed(digits[:-1])))
    check = 11 - total % 11
    return check != 10 and int(digits[-1]) == (0 if check == 11 else check)


def _norwegian(digits: str) -> bool:
    return 2 <= len(digits) <= 25 and (luhn.is_valid(digits) or _kid_mod11(digits))


def _swedish(digits: str) -> bool:
    return 2 <= len(digits) <= 25 and luhn.is_valid(digits)


_DIGIT_SCHEMES: tuple[tuple[ReferenceScheme, Callable[[str], bool]], ...] = (
    (ReferenceScheme.CH_QR, _swiss_qr),
    (ReferenceScheme.BE_OGM, _belgian),
    (ReferenceScheme.NL_PAYMENT_REFERENCE, _dutch),
    (ReferenceScheme.FI_REFERENCE, _finnish),
    (ReferenceScheme.NO_KID, _norwegian),
    (ReferenceScheme.SE_OCR, _swedish),
)


def reference_scheme(reference: str) -> ReferenceScheme | None:
    """The scheme whose check the reference passes, most specific first; None when it passes none."""
    compact = compact_reference(reference)
    if compact.startswith("RF"):
        return ReferenceScheme.RF if is_valid_rf(compact) else None
    if not compact.isdigit():
        return None
    return next((scheme for scheme, check in _DIGIT_SCHEMES if check(compact)), None)
