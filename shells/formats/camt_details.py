"""What a camt entry or transaction detail says about the payment, read into the settlement payload.

Element names differ by version (camt.05x.001.02 to .08): a party's name is `Cdtr/Nm` until .07 and
`Cdtr/Pty/Nm` from .08; charges are a list of `Chrgs` until .03 and `Chrgs/Rcrd` from .04; a discount is
an amount until .03 and `DscntApldAmt/Amt` from .04. Each reader below tries the names of every version.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree
from reconstream.models.accounts import AccountScheme
from reconstream.models.creditor_references import reference_scheme

from . import safexml as x
from .canonical import FieldError, ReadAccount, amount_text, counterparty_account, money

MAX_TEXT = 500


def account_id(account: etree._Element | None) -> tuple[str | None, AccountScheme | None, str | None]:
    """(id, scheme, issuer) of an `Acct`-like element, in any version's shape; scheme None means 'guess'."""
    if account is None:
        return None, None, None
    iban = x.text(account, "Id/IBAN")
    if iban:
        return iban, AccountScheme.IBAN, None
    other = x.find(account, "Id/Othr")
    if other is not None:
        code = x.first_text(other, "SchmeNm/Cd")
        issuer = x.first_text(other, "SchmeNm/Prtry", "Issr")
        if code == "BBAN" or (code is None and issuer is None):
            return x.text(other, "Id"), AccountScheme.BBAN, None
        return x.text(other, "Id"), AccountScheme.PROPRIETARY, code or issuer
    for path, scheme in (
        ("Id/BBAN", AccountScheme.BBAN),
        ("Id/DmstAcct/Id", AccountScheme.BBAN),
        ("Id/UPIC", AccountScheme.PROPRIETARY),
        ("Id/PrtryAcct/Id", AccountScheme.PROPRIETARY),
    ):
        value = x.text(account, path)
        if value:
            return value, scheme, None
    return None, None, None


def agent_id(agent: etree._Element | None) -> tuple[str | None, str | None]:
    """(bank id, clearing system code) of a servicer or agent: BIC, else the clearing member id."""
    if agent is None:
        return None, None
    bic = x.first_text(agent, "FinInstnId/BICFI", "FinInstnId/BIC")
    if bic:
        return bic, None
    member = x.text(agent, "FinInstnId/ClrSysMmbId/MmbId")
    if member:
        system = x.first_text(agent, "FinInstnId/ClrSysMmbId/ClrSysId/Cd", "FinInstnId/ClrSysMmbId/ClrSysId/Prtry")
        return member, system
    return x.text(agent, "FinInstnId/Othr/Id"), None


_CLEARING_SCHEMES = {"USABA": AccountScheme.US_ABA, "GBDSC": AccountScheme.UK_SORT_CODE}


def scheme_with_clearing(scheme: AccountScheme | None, clearing: str | None) -> AccountScheme | None:
    """A domestic id beside a US ABA routing number or UK sort code belongs to that scheme."""
    if scheme in (AccountScheme.BBAN, None) and clearing in _CLEARING_SCHEMES:
        return _CLEARING_SCHEMES[clearing]
    return scheme


def counterparty(tx: etree._Element, direction: str) -> tuple[ReadAccount | None, str | None]:
    """The other side of the payment: the creditor we paid on a debit, the debtor who paid us on a credit."""
    party, account, agent = ("Cdtr", "CdtrAcct", "CdtrAgt") if direction == "DBIT" else ("Dbtr", "DbtrAcct", "DbtrAgt")
    raw, scheme, _ = account_id(x.find(tx, f"RltdPties/{account}"))
    bank_id, clearing = agent_id(x.find(tx, f"RltdAgts/{agent}"))
    name = x.first_text(tx, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm")
    bank = bank_id if scheme is not AccountScheme.IBAN else None
    return counterparty_account(raw, bank, scheme_with_clearing(scheme, clearing)), name


def remittance(tx: etree._Element, currency: str) -> dict[str, Any]:
    # A line break and indentation inside a piece are the file's layout, not the payer's text (ABN AMRO's sample).
    pieces = [" ".join(u.text.split()) for u in x.findall(tx, "RmtInf/Ustrd") if u.text and u.text.strip()]
    fields: dict[str, Any] = {}
    if pieces:
        fields["remittance_lines"] = pieces
        fields["remittance_info"] = " ".join(pieces)[:MAX_TEXT]
    blocks = x.findall(tx, "RmtInf/Strd")
    documents = [doc for number, block in enumerate(blocks, 1) for doc in _documents(block, number, currency)]
    if documents:
        fields["referred_documents"] = documents
    reference = next((ref for block in blocks if (ref := x.text(block, "CdtrRefInf/Ref"))), None)
    if reference:
        fields["creditor_reference"] = reference
    return fields


_DOCUMENT_AMOUNTS = (
    ("due_amount", ("DuePyblAmt",)),
    ("discount_amount", ("DscntApldAmt/Amt", "DscntApldAmt")),
    ("credit_note_amount", ("CdtNoteAmt",)),
    ("tax_amount", ("TaxAmt/Amt", "TaxAmt")),
    ("adjustment_amount", ("AdjstmntAmtAndRsn/Amt",)),
    ("remitted_amount", ("RmtdAmt",)),
)


def _documents(block: etree._Element, number: int, currency: str) -> list[dict[str, Any]]:
    """One referred document per RfrdDocInf; the block's amounts belong to its first document."""
    infos = x.findall(block, "RfrdDocInf")
    amounts = x.find(block, "RfrdDocAmt")
    if not infos and amounts is None:
        return []
    reference = x.text(block, "CdtrRefInf/Ref")
    first: dict[str, Any] = {
        "creditor_reference": reference,
        "reference_scheme": reference_scheme(reference) if reference else None,
        "additional_info": " ".join(
            a.text.strip() for a in x.findall(block, "AddtlRmtInf") if a.text and a.text.strip()
        )[:MAX_TEXT]
        or None,
    }
    for field, paths in _DOCUMENT_AMOUNTS:
        element = next((found for path in paths if (found := x.find(amounts, path)) is not None), None)
        if element is not None and element.text and element.text.strip():
            first[field] = money(element.text, element.get("Ccy") or currency, f"Strd[{number}]/RfrdDocAmt")
            first["currency"] = element.get("Ccy") or currency
    documents = []
    for index, info in enumerate(infos or [None]):
        document = dict(first) if index == 0 else {}
        if info is not None:
            document["number"] = x.text(info, "Nb")
            document["kind"] = x.first_text(info, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry", "Tp/Cd")
            document["date"] = x.first_text(info, "RltdDt/Dt", "RltdDt")
        documents.append({key: value for key, value in document.items() if value is not None})
    return documents


def charges(element: etree._Element, currency: str) -> list[dict[str, Any]]:
    """Charges records of any version: `Chrgs` with an `Amt` (up to .03), or `Chrgs/Rcrd` (from .04)."""
    records = [c for c in x.findall(element, "Chrgs") if x.find(c, "Amt") is not None] + x.findall(
        element, "Chrgs/Rcrd"
    )
    found = []
    for number, record in enumerate(records, 1):
        amount = x.find(record, "Amt")
        if amount is None or not (amount.text or "").strip():
            continue
        included = x.text(record, "ChrgInclInd")
        ccy = amount.get("Ccy") or currency
        found.append(
            {
                "amount": money(amount.text, ccy, f"Chrgs[{number}]/Amt"),
                "currency": ccy,
                "included": None if included is None else included.lower() == "true",
                "kind": x.first_text(record, "Tp/Cd", "Tp/Prtry/Id", "Tp/Prtry"),
                "bearer": x.text(record, "Br"),
            }
        )
    return [{k: v for k, v in charge.items() if v is not None} for charge in found]


def foreign_exchange(tx: etree._Element, booked_currency: str, booked: Decimal) -> dict[str, Any] | None:
    """The amount the payer instructed, when it is not what was booked: in another currency (with the bank's
    rate), or in the same one with charges taken in the booking."""
    instructed = x.find(tx, "AmtDtls/InstdAmt/Amt")
    if instructed is None:
        return None
    currency = instructed.get("Ccy") or booked_currency
    if currency == booked_currency and Decimal(money(instructed.text, currency, "AmtDtls/InstdAmt/Amt")) == booked:
        return None
    exchange = next(
        (
            found
            for path in ("AmtDtls/InstdAmt/CcyXchg", "AmtDtls/TxAmt/CcyXchg", "AmtDtls/CntrValAmt/CcyXchg")
            if (found := x.find(tx, path)) is not None
        ),
        None,
    )
    rate = x.text(exchange, "XchgRate")
    try:
        rate_value = str(Decimal(rate)) if rate else None
    except ArithmeticError:
        raise FieldError("AmtDtls/CcyXchg/XchgRate", f"not a decimal rate: {rate!r}") from None
    found = {
        "instructed_amount": money(instructed.text, currency, "AmtDtls/InstdAmt/Amt"),
        "instructed_currency": currency,
        "rate": rate_value,
        "source_currency": x.text(exchange, "SrcCcy"),
        "target_currency": x.text(exchange, "TrgtCcy"),
    }
    return {k: v for k, v in found.items() if v is not None}


def bank_transaction_code(element: etree._Element) -> dict[str, Any] | None:
    code = x.find(element, "BkTxCd")
    if code is None:
        return None
    found = {
        "domain": x.text(code, "Domn/Cd"),
        "family": x.text(code, "Domn/Fmly/Cd"),
        "subfamily": x.text(code, "Domn/Fmly/SubFmlyCd"),
        "proprietary": x.text(code, "Prtry/Cd"),
        "issuer": x.text(code, "Prtry/Issr"),
    }
    found = {k: v for k, v in found.items() if v is not None}
    return found or None


def return_info(tx: etree._Element) -> dict[str, Any] | None:
    info = x.find(tx, "RtrInf")
    if info is None:
        return None
    found = {
        "reason_code": x.first_text(info, "Rsn/Cd", "Rsn/Prtry"),
        "reason_text": " ".join(a.text.strip() for a in x.findall(info, "AddtlInf") if a.text and a.text.strip())[
            :MAX_TEXT
        ]
        or None,
        "original_end_to_end_id": x.text(tx, "Refs/EndToEndId"),
        "original_reference": x.first_text(info, "OrgnlBkTxCd/Prtry/Cd"),
    }
    return {k: v for k, v in found.items() if v is not None}


def parties(tx: etree._Element) -> dict[str, Any]:
    scheme_id = x.first_text(
        tx,
        "RltdPties/Cdtr/Id/PrvtId/Othr/Id",
        "RltdPties/Cdtr/Pty/Id/PrvtId/Othr/Id",
        "RltdPties/Cdtr/Id/OrgId/Othr/Id",
    )
    return {
        "ultimate_debtor": x.first_text(tx, "RltdPties/UltmtDbtr/Nm", "RltdPties/UltmtDbtr/Pty/Nm"),
        "ultimate_creditor": x.first_text(tx, "RltdPties/UltmtCdtr/Nm", "RltdPties/UltmtCdtr/Pty/Nm"),
        "mandate_id": x.text(tx, "Refs/MndtId"),
        "creditor_scheme_id": scheme_id if x.text(tx, "Refs/MndtId") else None,
        "purpose": x.first_text(tx, "Purp/Cd", "Purp/Prtry"),
    }


def amount_of(element: etree._Element | None, field: str) -> tuple[str, str | None]:
    """(amount text, its Ccy attribute) of an amount element."""
    if element is None:
        raise FieldError(field, "missing amount")
    return amount_text(element.text, field), element.get("Ccy")
