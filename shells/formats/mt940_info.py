"""The `:86:` information to account owner, in the dialects banks write it.

- German (Deutsche Kreditwirtschaft): a 3-digit business transaction code (GVC), then `?NN` subfields:
  ?00 posting text, ?20-?29 and ?60-?63 remittance, ?30 bank code or BIC, ?31 account or IBAN, ?32-?33
  name; inside the remittance the SEPA keywords EREF+, KREF+, MREF+, CRED+, SVWZ+, ABWA+, ABWE+.
- Dutch structured (ING, ABN AMRO, Rabobank from 2014, Triodos ...): `/TAG/value` pairs such as
  /TRTP/, /EREF/, /PREF/, /MARF/, /CSID/, /REMI/, /CNTP/ or /BENM/ and /ORDP/ (account/BIC/name/city),
  /IBAN/, /BIC/, /NAME/, /RTRN/, /PURP/, /ULTD/, /ULTC/. Values may hold slashes; a value runs to the next
  known tag. Lines wrap at a fixed width, so a tag word or a reference may be cut across two lines.
- Anything else is free text, kept line by line.
The words EREF or PREF in the `:61:` customer reference only say which reference the `:86:` carries:
they are never an id themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconstream.models.accounts import iban_shaped, valid_iban

_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
# The DK layout: a 3-digit code, then subfields introduced by a separator, "?" by the standard and ">" at
# some Dutch banks (Triodos) that took the layout over.
_GERMAN = re.compile(r"^(\d{3})([?>]|$)")
_OTHER_KEY = re.compile(r"[A-Z]{4}[+:]")  # matched where a piece starts
_SEPA_KEY = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAM|OAMT)\+")
# Top-level tags only: USTD/STRD (inside REMI) and the parts of a party (name, address) are values.
DUTCH_TAGS = frozenset(
    [
        "TRTP",
        "IBAN",
        "BIC",
        "NAME",
        "REMI",
        "EREF",
        "PREF",
        "MARF",
        "CSID",
        "CNTP",
        "ORDP",
        "BENM",
        "ULTC",
        "ULTD",
        "ULTB",
        "PURP",
        "RTRN",
        "BUSP",
        "ISDT",
        "SVCL",
        "EXCH",
        "OCMT",
        "CHGS",
        "BBAN",
    ]
)
NO_REFERENCE = frozenset({"", "NONREF", "NOTPROVIDED", "NOT PROVIDED"})


@dataclass
class Info:
    """What a `:86:` field says, in canonical terms; every field optional."""

    code: str | None = None  # GVC or /TRTP/
    code_issuer: str | None = None
    posting_text: str | None = None
    end_to_end_id: str | None = None
    payment_info_id: str | None = None
    mandate_id: str | None = None
    creditor_scheme_id: str | None = None
    counterparty_account: str | None = None
    counterparty_bank: str | None = None
    counterparty_name: str | None = None
    remittance_lines: list[str] = field(default_factory=list)
    remittance: str | None = None
    creditor_reference: str | None = None
    return_reason: str | None = None
    purpose: str | None = None
    ultimate_debtor: str | None = None
    ultimate_creditor: str | None = None

    def fields(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in (None, [], "")}


def read_info(lines: list[str]) -> Info:
    joined = "".join(lines)
    german = _GERMAN.match(joined.strip())
    if german:
        return _german(joined.strip(), german.group(2) or "?")
    if _is_dutch(joined):
        return _dutch(joined)
    pieces = [line.strip() for line in lines if line.strip()]
    return Info(remittance_lines=pieces, remittance=" ".join(pieces) or None)


# -- German GVC with ?NN subfields -----------------------------------------------------------------
def _german(text: str, separator: str) -> Info:
    code = text[:3]
    parts: dict[str, list[str]] = {}
    # [code, "00", value, "10", value, ...]; a subfield code garbled to "?2A" still opens a subfield
    pieces = re.split(re.escape(separator) + r"(\d[0-9A-Z])", text)
    for number, value in zip(pieces[1::2], pieces[2::2], strict=True):
        parts.setdefault(number, []).append(value)
    purpose_pieces = [value for key in sorted(parts) if key[0] in "26" for value in parts[key]]
    # Triodos writes the DK layout with ">" and puts the counterparty's account in field 10 (31 is its own);
    # on a SEPA transfer field 10 is zeros and the BIC and IBAN lead the text, in 20 and 21.
    bank, account = _first(parts, "30"), _first(parts, "10" if separator == ">" else "31")
    if separator == ">" and _triodos_sepa(parts):
        bank, account = _first(parts, "20"), _first(parts, "21")
        purpose_pieces = [
            value for key in sorted(parts) if key[0] in "26" and key not in ("20", "21") for value in parts[key]
        ]
    if _zeros(account):
        account = None  # zeros: no account (Triodos' card payments and cash, Rabobank's)
    info = Info(
        code=code,
        code_issuer="DK",
        posting_text=_first(parts, "00"),
        counterparty_bank=bank,
        counterparty_account=account,
        counterparty_name=wrapped([v for k in ("32", "33") for v in parts.get(k, ())])[0].strip() or None,
        remittance_lines=[p for p in purpose_pieces if p.strip()],
    )
    _sepa_keywords(info, purpose_pieces)
    return info


def _triodos_sepa(parts: dict[str, list[str]]) -> bool:
    bic, iban = _first(parts, "20"), _first(parts, "21")
    # The IBAN as written, country and check digits or not: the account reader flags one that fails.
    shaped = bool(iban and _IBAN_WRITTEN.fullmatch(iban))
    return _zeros(_first(parts, "10") or "0") and bool(bic and _BIC.match(bic)) and shaped


def _zeros(account: str | None) -> bool:
    return account is not None and not account.strip("0")


_IBAN_WRITTEN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")  # an IBAN's shape, its country and check digits aside


def _first(parts: dict[str, list[str]], key: str) -> str | None:
    values = parts.get(key)
    value = values[0].strip() if values else ""
    return value or None


def _sepa_keywords(info: Info, pieces: list[str]) -> None:
    """SEPA keywords inside the German remittance: EREF+ end-to-end id, SVWZ+ the payer's text ...

    The ?2x pieces are one text wrapped at 27 characters (`wrapped`). A keyword opens a value where a piece
    starts or after a space: Deutsche Bank and Commerzbank write them one after another ("... KREF+...
    MREF+..."), and a keyword may itself be cut by the wrap ("MR" | "EF+"). A value runs to the next keyword,
    or to another bank's tag starting a piece (MTLG:), whose text goes with the free text.
    """
    text, starts = wrapped(pieces)
    marks = [
        (found.start(), found.group(1), found.end())
        for found in _SEPA_KEY.finditer(text)
        if found.start() in starts or (found.start() > 0 and text[found.start() - 1].isspace())
    ]
    if not marks:
        info.remittance = text.strip() or None
        return
    others = [
        (start, None, start) for start in starts if _OTHER_KEY.match(text, start) and not _SEPA_KEY.match(text, start)
    ]
    bounds: list[tuple[int, str | None, int]] = sorted([*marks, *others], key=lambda bound: bound[0])
    values: dict[str, str] = {}
    free = [text[: bounds[0][0]]]
    for (_, key, value_start), (end, _, _) in zip(bounds, [*bounds[1:], (len(text), None, 0)], strict=True):
        if key is None:
            free.append(text[value_start:end])
        else:
            values[key] = values.get(key, "") + text[value_start:end]
    values = {key: value.strip() for key, value in values.items()}
    info.end_to_end_id = _reference(values.get("EREF"))
    info.mandate_id = values.get("MREF") or None
    info.creditor_scheme_id = values.get("CRED") or None
    info.ultimate_debtor = values.get("ABWA") or None
    info.ultimate_creditor = values.get("ABWE") or None
    if values.get("IBAN") and not info.counterparty_account:
        info.counterparty_account = values["IBAN"]
    if values.get("BIC") and not info.counterparty_bank:
        info.counterparty_bank = values["BIC"]
    remittance = " ".join(part.strip() for part in (values.get("SVWZ", ""), *free) if part.strip())
    info.remittance = remittance or None


_WIDTH = 27  # a ?2x (and ?32, ?33) subfield's width in the DK layout


def wrapped(pieces: list[str]) -> tuple[str, set[int]]:
    """Subfields as the one text they wrap, and where each piece starts in it. A full-width piece was cut at
    the width, mid-word as often as not, and runs straight on; a shorter one ended where its writer ended a
    word or a line, so a space stands between it and the next."""
    text, starts, previous = "", set(), ""
    for piece in pieces:
        if text and len(previous) < _WIDTH and not previous[-1:].isspace() and not piece[:1].isspace():
            text += " "
        starts.add(len(text))
        text += piece
        previous = piece
    return text, starts


# -- Dutch /TAG/value ------------------------------------------------------------------------------
def _is_dutch(text: str) -> bool:
    head = text.lstrip()
    return head.startswith("/") and sum(f"/{tag}/" in text for tag in DUTCH_TAGS) >= 1


def dutch_fields(text: str) -> dict[str, str]:
    """`/TAG/value/TAG/value` into {TAG: value}; a value keeps its slashes up to the next known tag."""
    tokens = text.strip().strip("/").split("/")
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for token in tokens:
        if token in DUTCH_TAGS:
            current = token
            fields.setdefault(current, [])
        elif current is not None:
            fields[current].append(token)
    return {tag: "/".join(values).strip("/") for tag, values in fields.items()}


def _dutch(text: str) -> Info:
    values = dutch_fields(text)
    info = Info(code=values.get("TRTP") or None, code_issuer="TRTP" if values.get("TRTP") else None)
    info.end_to_end_id = _reference(values.get("EREF"))
    info.payment_info_id = _reference(values.get("PREF"))
    info.mandate_id = values.get("MARF") or None
    info.creditor_scheme_id = values.get("CSID") or None
    info.return_reason = values.get("RTRN") or None
    info.purpose = values.get("PURP") or None
    party = values.get("CNTP") or values.get("BENM") or values.get("ORDP")
    if party:
        parts = [part.strip() for part in party.split("/")]
        account, rest = parts[0], [part for part in parts[1:] if part]
        bank = rest.pop(0) if rest and _BIC.match(rest[0]) else None  # account/BIC/name/city; some banks skip the BIC
        info.counterparty_account, info.counterparty_bank = account or None, bank
        info.counterparty_name = rest[0] if rest else None
    info.counterparty_account = values.get("IBAN") or values.get("BBAN") or info.counterparty_account
    info.counterparty_bank = values.get("BIC") or info.counterparty_bank
    info.counterparty_name = values.get("NAME") or info.counterparty_name
    info.ultimate_debtor = _party_name(values.get("ULTD"))
    info.ultimate_creditor = _party_name(values.get("ULTC"))
    if "REMI" not in values:
        # No /REMI/: what follows the tags (a bank's own text after a party) is the remittance as written.
        info.remittance = " ".join(part.strip() for part in text.split("/") if part.strip()) or None
        return info
    remittance = values.get("REMI", "")
    # ING: /REMI/STRD/CUR/<ref>; Rabobank: /REMI//CDTRREFTP//CD/SCOR/ISSR/CUR/CDTRREF/<ref> (a Dutch
    # betalingskenmerk, or ISO for an RF reference).
    structured = re.match(r"^STRD/(?:CUR|ISO)/(.+)$", remittance) or re.search(r"(?:^|/)CDTRREF/([^/]+)", remittance)
    if structured:
        info.creditor_reference = structured.group(1).strip()
        remittance = structured.group(1)
    remittance = re.sub(r"^USTD/+", "", remittance).strip("/ ")
    info.remittance = remittance or None
    info.remittance_lines = [remittance] if remittance else []
    return info


def _party_name(value: str | None) -> str | None:
    if not value:
        return None
    name = value.split("/")[0].strip()
    return name or None


def _reference(value: str | None) -> str | None:
    text = (value or "").strip()
    return None if text.upper() in NO_REFERENCE else text[:35]


# -- free text: where banks without a structured layout write the other party ---------------------
_IBAN_TOKEN = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d{2}[A-Z0-9]{11,30})(?![A-Z0-9])")
_ACCOUNT_LINE = re.compile(r"^(P?\d{7,34}|\d{2}\.\d{2}\.\d{2}\.\d{3})$")
_LEADING_ACCOUNT = re.compile(r"^(P?\d{9,10}|\d{2}\.\d{2}\.\d{2}\.\d{3}|[A-Z]{2}\d{2}[A-Z0-9]{11,30})\s+(\S.*)$")
_KEYED_IBAN = re.compile(r"\bIBAN:\s*([A-Z]{2}\d{2}[A-Z0-9]{11,30})\b")
_KEYED_NAME = re.compile(r"\bNAAM:\s*(.+?)(?:\s{2,}|$)")
_KNAB = re.compile(r"REK:\s*([A-Z0-9.]+)\s*/\s*NAAM:\s*(.+)$")
_GIRO = re.compile(r"\bGIRO\s+(\d{1,10})\b\s*(.*)$")
_POLISH = re.compile(r"RACH\.?:\s*(\d{16,26})")
_SOLARIS = re.compile(r"^\d{3}[A-Z_]+:")


def free_counterparty(lines: list[str]) -> tuple[str | None, str | None]:
    """(account, name) from a free-text `:86:`, by the layouts banks use; (None, None) when none fits.

    In order: solarisBank's `code KIND:text:name:account`, Knab's `REK: account/NAAM: name`, ABN AMRO's
    `GIRO number NAME`, an account leading the text (old ING, ABN AMRO, Triodos), a line that is only an
    account (Raiffeisen HU), a Polish `RACH.: number`, else the first IBAN whose check digits hold.
    """
    stripped = [line.strip() for line in lines if line.strip()]
    text = " ".join(stripped)
    if _SOLARIS.match(text):
        # code KIND:text:name:account[:more]; the text may hold colons itself, so read from the account back
        parts = [part.strip() for part in "".join(lines).split(":")]
        accounts = [n for n, part in enumerate(parts) if n >= 2 and _IBAN_WRITTEN.fullmatch(part)]
        if accounts:
            return parts[accounts[-1]], parts[accounts[-1] - 1] or None
    keyed = _KEYED_IBAN.search(text)
    if keyed:
        name = _KEYED_NAME.search(" ".join(lines))
        return keyed.group(1), name.group(1).strip() if name else None
    for pattern in (_KNAB, _GIRO):
        found = pattern.search(text)
        if found:
            return found.group(1), found.group(2).strip() or None
    leading = _LEADING_ACCOUNT.match(text)
    if leading:
        return leading.group(1), None
    for line in stripped:
        if _ACCOUNT_LINE.match(line):
            return line, None
    polish = _POLISH.search(text.replace(" ", ""))
    if polish:
        return polish.group(1), None
    tokens = _IBAN_TOKEN.findall(text)
    # A valid IBAN anywhere; else one with its country's layout and a wrong check digit (kept, and flagged).
    for candidate in [*(t for t in tokens if _valid_iban(t)), *(t for t in tokens if iban_shaped(t))]:
        return candidate, None
    return None, None


def _valid_iban(text: str) -> bool:
    try:
        valid_iban(text)
    except ValueError:
        return False
    return True
