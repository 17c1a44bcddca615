"""What a bank line is when it pays no supplier invoice, read from its bank transaction code and purpose code.

Salaries, taxes, fees, interest, card settlements, cash, cash-pool sweeps, customer receipts and returns are
booked like any payment; unrecognised, they fill treasury's "unmatched settlement" queue, which exists for
supplier payments that found no invoice. The bank usually says what a line is, in published code schemes:
ISO 20022 bank transaction codes (camt BkTxCd domain/family/subfamily) and purpose codes (Purp/Cd, what the
payer said), the German DK Geschaeftsvorfallcode (GVC), the SWIFT MT940 `:61:` transaction type, and BAI2
type codes. Pure: no I/O; the config layer adds the deployment's own rules through `from_config`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from reconstream.models.bank_details import BankTransactionCode
from reconstream.models.outputs import BooksTo


class LineClass(StrEnum):
    SUPPLIER_PAYMENT = "supplier_payment"
    DIRECT_DEBIT = "direct_debit"
    SALARY = "salary"
    TAX = "tax"
    SOCIAL_SECURITY = "social_security"
    BANK_FEE = "bank_fee"
    INTEREST = "interest"
    CARD = "card"
    CASH = "cash"
    INTERCOMPANY = "intercompany"
    RETURN = "return"
    CUSTOMER_RECEIPT = "customer_receipt"
    DOWN_PAYMENT = "down_payment"
    OTHER = "other"

    @property
    def pays_invoices(self) -> bool:
        # Only these can settle an AP invoice, so only these stay in the review queue when no invoice matched.
        return self in (LineClass.SUPPLIER_PAYMENT, LineClass.DIRECT_DEBIT)


# Where a line of each class is booked when no invoice took it. Classes missing here stay in treasury's
# review queue as unmatched settlements: a supplier payment or direct debit that found no invoice is an AP
# question, and a return that reopened nothing needs treasury's eyes.
BOOKS_TO: dict[LineClass, BooksTo] = {
    LineClass.SALARY: BooksTo.GENERAL_LEDGER,
    LineClass.TAX: BooksTo.GENERAL_LEDGER,
    LineClass.SOCIAL_SECURITY: BooksTo.GENERAL_LEDGER,
    LineClass.BANK_FEE: BooksTo.GENERAL_LEDGER,
    LineClass.INTEREST: BooksTo.GENERAL_LEDGER,
    LineClass.CARD: BooksTo.GENERAL_LEDGER,
    LineClass.CASH: BooksTo.GENERAL_LEDGER,
    LineClass.OTHER: BooksTo.GENERAL_LEDGER,
    LineClass.CUSTOMER_RECEIPT: BooksTo.ACCOUNTS_RECEIVABLE,
    LineClass.DOWN_PAYMENT: BooksTo.ACCOUNTS_PAYABLE,
    LineClass.INTERCOMPANY: BooksTo.TREASURY,
}
# Classes no supplier invoice is ever paid with: the bank's word outranks a suggestion the amount made.
# A customer receipt, a down payment or "other" may still be a supplier refunding a credit note, so a line
# of those classes with candidates stays in review.
NEVER_PAYS_INVOICES = frozenset(
    {
        LineClass.SALARY,
        LineClass.TAX,
        LineClass.SOCIAL_SECURITY,
        LineClass.BANK_FEE,
        LineClass.INTEREST,
        LineClass.CASH,
        LineClass.INTERCOMPANY,
    }
)


# Which scheme a proprietary rule speaks: its `issuer`. A GVC, a SWIFT type and a BAI code can share
# characters ("166" is a SEPA credit as GVC and an ACH settlement as BAI type), so a rule only ever
# reads the piece of the code its own scheme writes (see `_parse`).
DK, SWIFT, BAI = "DK", "SWIFT", "BAI"
_ISSUER_ALIASES = {"ZKA": DK}  # the Zentraler Kreditausschuss renamed itself DK in 2011; banks still write ZKA
_SWIFT_TYPE = re.compile(r"[NF][A-Z0-9]{3}")  # N (or F, first advice) + code; S + MT number names no kind
_THREE_DIGITS = re.compile(r"[0-9]{3}")
# Codes that only name the payment instrument (a transfer went out, a debit came in): any more telling
# signal, even the payer's purpose code, says more about what the money was for.
_INSTRUMENTS = frozenset({LineClass.SUPPLIER_PAYMENT, LineClass.CUSTOMER_RECEIPT, LineClass.DIRECT_DEBIT})


@dataclass(frozen=True, slots=True)
class CodeRule:
    """One published (or configured) meaning: the code parts that must all be present, and what they mean."""

    means: LineClass
    source: str
    domain: str | None = None
    family: str | None = None
    subfamily: str | None = None
    proprietary: str | None = None
    issuer: str | None = None  # DK: GVC; SWIFT: :61: type without N/F; BAI: type code; else exact code
    purpose: str | None = None
    credit_debit: str | None = None  # "CRDT" / "DBIT": the meaning holds in that direction only

    def __post_init__(self) -> None:
        if not isinstance(self.means, LineClass):
            raise ValueError(f"CodeRule.means must be a LineClass, got {self.means!r}")
        if not self.source.strip():
            raise ValueError("CodeRule.source must name where the meaning comes from")
        if not any((self.domain, self.family, self.subfamily, self.proprietary, self.purpose)):
            raise ValueError(
                f"CodeRule ({self.source}) needs a domain, family, subfamily, proprietary or purpose code: "
                "a rule without one would classify every bank line"
            )
        if self.credit_debit not in (None, "CRDT", "DBIT"):
            raise ValueError(f"CodeRule.credit_debit must be CRDT, DBIT or None, got {self.credit_debit!r}")
        if self.issuer is not None and self.proprietary is None:
            raise ValueError(f"CodeRule ({self.source}) names issuer {self.issuer!r} but no proprietary code")


@dataclass(frozen=True, slots=True)
class LineClassification:
    line_class: LineClass
    evidence: str
    rule: CodeRule


class _Code(NamedTuple):
    """A bank transaction code read once: its ISO parts and the piece each proprietary scheme writes."""

    domain: str | None
    family: str | None
    subfamily: str | None
    proprietary: str | None
    issuer: str | None
    gvc: str | None  # "166" of "NTRF+166+9310" (DK) or of "166"
    swift: str | None  # "NTRF" of "NTRF+166" or of "NTRF"
    bai: str | None  # "475" of a BAI2 16 record, or a bare three-digit code nobody claims


def _norm(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value or None


def _issuer(value: str | None) -> str | None:
    value = _norm(value)
    return _ISSUER_ALIASES.get(value, value) if value else None


def _parse(code: BankTransactionCode | None) -> _Code | None:
    if code is None:
        return None
    proprietary, issuer = _norm(code.proprietary), _issuer(code.issuer)
    pieces = proprietary.split("+") if proprietary else [""]
    # BAI codes are digits, so the SWIFT shape never fits them; the issuer check only guards odd files.
    swift = pieces[0] if issuer != BAI and _SWIFT_TYPE.fullmatch(pieces[0]) else None
    gvc = None
    # A GVC is DK's: trusted with issuer DK/ZKA, or without issuer in the unmistakable "NTRF+166" shape.
    if issuer == DK or (issuer is None and swift and len(pieces) > 1):
        candidate = pieces[1] if swift and len(pieces) > 1 else pieces[0]
        gvc = candidate if _THREE_DIGITS.fullmatch(candidate) else None
    # A bare three-digit code is BAI's only when no issuer claims it (US banks often omit Prtry/Issr).
    bai = proprietary if issuer == BAI or (issuer is None and _THREE_DIGITS.fullmatch(proprietary or "")) else None
    return _Code(_norm(code.domain), _norm(code.family), _norm(code.subfamily), proprietary, issuer, gvc, swift, bai)


# -- the default table: published meanings only ---------------------------------------------------------
_L, _C, _D = LineClass, "CRDT", "DBIT"
_BTC, _PURPOSE = "BTC", "PURPOSE"
_TRADE = "SUPP TRAD GDDS SCVE IVPT"  # trade purposes: a supplier paid on a debit, a customer paying on a credit
_SCHEMES = {
    _BTC: "ISO 20022 BTC list",
    _PURPOSE: "ISO 20022 ExternalPurpose1Code",
    DK: "DK DFÜ-Abkommen Anlage 3 GVC",
    SWIFT: "SWIFT MT940 :61: subfield 6 type",
    BAI: "BAI2 detail type code",
}


def _rules(scheme: str, means: LineClass, meaning: str, codes: str, cd: str | None = None) -> tuple[CodeRule, ...]:
    """One rule per code of a scheme that share a meaning; BTC codes as paths, "*" for any ("*/*/CHRG")."""
    made = []
    for code in codes.split():
        fields: dict[str, str | None] = {"proprietary": code, "issuer": scheme}
        if scheme == _BTC:
            parts = [None if part == "*" else part for part in code.split("/")] + [None, None]
            fields = dict(zip(("domain", "family", "subfamily"), parts[:3], strict=True))
        elif scheme == _PURPOSE:
            fields = {"purpose": code}
        made.append(CodeRule(means, f"{_SCHEMES[scheme]} {code} ({meaning})", credit_debit=cd, **fields))
    return tuple(made)


DEFAULT_RULES: tuple[CodeRule, ...] = (
    # ISO 20022 Bank Transaction Code list (external code set, edition of 30 June 2017). The generic
    # sub-families (CHRG, FEES, COMx, INTR, TAXE) may stand under any domain and family.
    *_rules(_BTC, _L.BANK_FEE, "charges, fees, commission", "*/*/CHRG */*/FEES */*/COMM */*/COME */*/COMI */*/COMT"),
    *_rules(_BTC, _L.INTEREST, "interest", "*/*/INTR"),
    *_rules(_BTC, _L.TAX, "taxes; treasury tax and loan service", "*/*/TAXE PMNT/ICDT/TTLS"),
    *_rules(_BTC, _L.SALARY, "payroll/salary payment", "PMNT/ICDT/SALA PMNT/RCDT/SALA PMNT/IRCT/SALA PMNT/RRCT/SALA"),
    *_rules(_BTC, _L.SALARY, "cross-border payroll/salary payment", "PMNT/ICDT/XBSA PMNT/RCDT/XBSA"),
    *_rules(_BTC, _L.RETURN, "reversal: payment return", "PMNT/ICDT/RRTN PMNT/RCDT/RRTN PMNT/IRCT/RRTN PMNT/RRCT/RRTN"),
    *_rules(_BTC, _L.RETURN, "reversal due to payment cancellation request", "PMNT/ICDT/RPCR PMNT/RCDT/RPCR"),
    *_rules(_BTC, _L.RETURN, "direct debit unpaid, reversed", "PMNT/RDDT/UPDD PMNT/RDDT/PRDD PMNT/RDDT/RCDD"),
    *_rules(_BTC, _L.RETURN, "direct debit unpaid, reversed", "PMNT/IDDT/UPDD PMNT/IDDT/PRDD PMNT/IDDT/RCDD"),
    *_rules(_BTC, _L.RETURN, "unpaid cheque, cheque reversal", "PMNT/RCHQ/UPCQ PMNT/ICHQ/UPCQ PMNT/RCHQ/CQRV"),
    *_rules(_BTC, _L.RETURN, "unpaid card transaction", "PMNT/MCRD/UPCT"),
    *_rules(_BTC, _L.SUPPLIER_PAYMENT, "issued transfer or cheque", "PMNT/ICDT PMNT/IRCT PMNT/ICHQ", _D),
    *_rules(_BTC, _L.DIRECT_DEBIT, "received direct debit", "PMNT/RDDT", _D),
    *_rules(_BTC, _L.CUSTOMER_RECEIPT, "received transfer or cheque", "PMNT/RCDT PMNT/RRCT PMNT/RCHQ", _C),
    *_rules(_BTC, _L.CUSTOMER_RECEIPT, "collected debit, lockbox", "PMNT/IDDT PMNT/LBOX PMNT/CNTR/CHKD", _C),
    *_rules(_BTC, _L.CARD, "customer / merchant card transaction", "PMNT/CCRD PMNT/MCRD"),
    *_rules(_BTC, _L.CASH, "counter, cash", "PMNT/CNTR PMNT/CCRD/CWDL PMNT/CCRD/CDPT PMNT/CCRD/XBCW"),
    *_rules(_BTC, _L.INTERCOMPANY, "cash concentration", "PMNT/RCCN PMNT/ICCN"),
    *_rules(_BTC, _L.INTERCOMPANY, "cash pooling; account balancing (ZABA, SWEP, TOPG)", "CAMT/CAPL CAMT/ACCB"),
    # ISO 20022 ExternalPurpose1Code (external code sets): what the payer said the payment is for.
    *_rules(_PURPOSE, _L.SALARY, "salary, payroll, bonus, pension", "SALA PAYR BONU PENS SPSP"),
    *_rules(_PURPOSE, _L.TAX, "taxes: general, VAT, withholding, income", "TAXS VATX WHLD INTX NITX GSTX"),
    *_rules(_PURPOSE, _L.TAX, "taxes: estate, housing, property, road; tax refund", "ESTX HSTX PTXP RDTX TAXR"),
    *_rules(_PURPOSE, _L.SOCIAL_SECURITY, "social security benefit, government insurance", "SSBE GOVI"),
    *_rules(_PURPOSE, _L.INTERCOMPANY, "intra-company, cash management, own-account, liquidity", "INTC CASH ACCT LIMA"),
    *_rules(_PURPOSE, _L.CARD, "credit/debit card payment or settlement", "CCRD DCRD CBLK CBCR DBCR"),
    *_rules(_PURPOSE, _L.CASH, "ATM cash withdrawal", "CDCD"),
    *_rules(_PURPOSE, _L.INTEREST, "interest", "INTE"),
    *_rules(_PURPOSE, _L.DOWN_PAYMENT, "advance payment", "ADVA"),
    *_rules(_PURPOSE, _L.OTHER, "charity, treasury operation", "CHAR TREA"),
    *_rules(_PURPOSE, _L.SUPPLIER_PAYMENT, "supplier, trade, goods, services, invoices", _TRADE, _D),
    *_rules(_PURPOSE, _L.CUSTOMER_RECEIPT, "supplier, trade, goods, services, invoices", _TRADE, _C),
    # Die Deutsche Kreditwirtschaft, DFÜ-Abkommen Anlage 3 (Spezifikation der Datenformate), GVC table.
    *_rules(DK, _L.SUPPLIER_PAYMENT, "SEPA/DTA transfer, standing order", "116 117 118 177 191 020 008", _D),
    *_rules(DK, _L.DIRECT_DEBIT, "SEPA B2B/core or DTA direct debit", "104 105 195 197 004 005", _D),
    *_rules(DK, _L.CUSTOMER_RECEIPT, "SEPA/DTA transfer or standing order credit", "166 168 194 189 152 051", _C),
    *_rules(DK, _L.CUSTOMER_RECEIPT, "SEPA core/B2B direct debit collected", "171 174 192 196", _C),
    *_rules(DK, _L.SALARY, "SEPA credit transfer: salary, wage, pension", "153"),
    *_rules(DK, _L.RETURN, "SEPA transfer returned; debit returned/refunded", "159 160 108 109 181 184 193"),
    # Abschluss settles interest and charges together; a net credit can only be credit interest.
    *_rules(DK, _L.BANK_FEE, "account closing (Abschluss)", "805", _D),
    *_rules(DK, _L.INTEREST, "account closing (Abschluss)", "805", _C),
    *_rules(DK, _L.BANK_FEE, "fees (Gebühren), commission (Provisionen)", "808 809"),
    *_rules(DK, _L.INTEREST, "interest (Zinsen)", "814"),
    # SWIFT MT940 field 61 subfield 6, transaction type identification code (N or F + three characters).
    *_rules(SWIFT, _L.BANK_FEE, "charges and other expenses, commission, overdraft charge", "CHG COM ODC"),
    *_rules(SWIFT, _L.INTEREST, "interest", "INT"),
    *_rules(SWIFT, _L.RETURN, "returned item", "RTI"),
    *_rules(SWIFT, _L.INTERCOMPANY, "cash management: zero balancing, sweeping, topping, pooling", "CMZ CMS CMT CMN"),
    *_rules(SWIFT, _L.SUPPLIER_PAYMENT, "transfer, cheque, standing order", "TRF CHK STO", _D),
    *_rules(SWIFT, _L.DIRECT_DEBIT, "direct debit item", "DDT", _D),
    *_rules(SWIFT, _L.CUSTOMER_RECEIPT, "transfer, cheque, standing order, debit, lock box", "TRF CHK STO DDT LBX", _C),
    # BAI Cash Management Balance Reporting Specifications Version 2, detail type codes.
    *_rules(BAI, _L.BANK_FEE, "fees, fee refund, commission", "564 567 661 698 398 224 524"),
    *_rules(BAI, _L.INTEREST, "interest credit/debit and adjustments", "354 359 346 654 659"),
    *_rules(BAI, _L.SALARY, "customer payroll", "373 673"),
    *_rules(BAI, _L.TAX, "treasury tax and loan", "377 677"),
    *_rules(BAI, _L.SUPPLIER_PAYMENT, "check paid, outgoing money transfer, ACH funding", "475 474 495 508 447"),
    *_rules(BAI, _L.DIRECT_DEBIT, "ACH debit received, preauthorized ACH debit", "451 455"),
    *_rules(BAI, _L.CUSTOMER_RECEIPT, "lockbox, commercial or cheque deposit", "115 116 301 175"),
    *_rules(BAI, _L.CUSTOMER_RECEIPT, "ACH credit, incoming money transfer", "142 165 164 195 208"),
    *_rules(BAI, _L.CASH, "currency and coin, ATM", "366 666 295 595"),
    *_rules(BAI, _L.CARD, "individual bank card deposit", "147"),
    *_rules(BAI, _L.INTERCOMPANY, "ZBA and ACH concentration", "275 277 575 577 145 445"),
    *_rules(BAI, _L.RETURN, "returned, rejected or reversed items", "255 257 258 261 266 395 555 557 558 561 566"),
)


# -- matching -----------------------------------------------------------------------------------------------
# BAI2 reserves 100-399 for credits and 400-699 for debits: a "544" booked as a credit is another scheme's number.
_BAI_SIDE = {"CRDT": range(100, 400), "DBIT": range(400, 700)}


def _proprietary_matches(rule: CodeRule, code: _Code, direction: str) -> bool:
    want, issuer = _norm(rule.proprietary), _issuer(rule.issuer)
    if want is None:
        return True
    if issuer == DK:
        return code.gvc == want
    if issuer == SWIFT:
        return code.swift is not None and code.swift[1:] == want
    if issuer == BAI:
        return code.bai == want and want.isdigit() and int(want) in _BAI_SIDE[direction]
    return (issuer is None or issuer == code.issuer) and code.proprietary == want


def _matches(rule: CodeRule, code: _Code | None, purpose: str | None, direction: str) -> bool:
    if rule.credit_debit not in (None, direction) or (rule.purpose is not None and _norm(rule.purpose) != purpose):
        return False
    wanted = (_norm(rule.domain), _norm(rule.family), _norm(rule.subfamily))
    if code is None:
        return rule.proprietary is None and wanted == (None, None, None)
    if any(want not in (None, have) for want, have in zip(wanted, code[:3], strict=True)):
        return False
    return _proprietary_matches(rule, code, direction)


def _has_code(rule: CodeRule) -> bool:
    return any(part is not None for part in (rule.domain, rule.family, rule.subfamily, rule.proprietary))


def _order(pair: tuple[int, CodeRule]) -> tuple[int, bool, bool, int]:
    # Depth: how finely the code parts pin the line down. A subfamily says more than its family, which
    # says more than its domain; a bank's business code (GVC, BAI, a configured code) is as fine as a
    # subfamily, SWIFT's three-letter kind as coarse as a domain. Then an operation over a mere instrument,
    # a rule limited to the line's direction, and the earlier rule (so the answer is deterministic).
    index, rule = pair
    depth = 4 * (rule.subfamily is not None) + 2 * (rule.family is not None) + (rule.domain is not None)
    depth += 0 if rule.proprietary is None else 1 if _issuer(rule.issuer) == SWIFT else 4
    return depth, rule.means not in _INSTRUMENTS, rule.credit_debit is not None, -index


def _pick(matching: list[tuple[int, CodeRule]]) -> CodeRule | None:
    """The winner among one table's rules that match a line.

    A rule on code and purpose (configured) beats either alone. Otherwise the best code rule (`_order`)
    wins, unless it names only the instrument (a transfer went out, a debit came in) and a purpose code
    matched: over a plain transfer what the payer said the money is for is the better evidence, but a
    return, fee or salary payment the bank booked stands whatever the purpose said.
    """
    both = [pair for pair in matching if _has_code(pair[1]) and pair[1].purpose is not None]
    codes = [pair for pair in matching if pair[1].purpose is None]
    purposes = [pair for pair in matching if not _has_code(pair[1])]
    if both:
        return max(both, key=_order)[1]
    code_rule = max(codes, key=_order)[1] if codes else None
    if code_rule is not None and (code_rule.means not in _INSTRUMENTS or not purposes):
        return code_rule
    return max(purposes, key=_order)[1] if purposes else None


def _evidence(rule: CodeRule, code: _Code | None) -> str:
    said = []
    if code is not None and (rule.domain or rule.family or rule.subfamily):
        said.append("bank transaction code " + "/".join(part or "-" for part in code[:3]))
    if code is not None and rule.proprietary is not None:
        named = {DK: f"DK GVC {code.gvc}", SWIFT: f"MT940 :61: type {code.swift}", BAI: f"BAI2 type {code.bai}"}
        other = f"proprietary code {code.proprietary} ({code.issuer or 'no issuer'})"
        said.append(named.get(_issuer(rule.issuer) or "", other))
    if rule.purpose is not None:
        said.append(f"purpose code {_norm(rule.purpose)}")
    direction = {"CRDT": " on a credit", "DBIT": " on a debit"}.get(rule.credit_debit or "", "")
    return f"{' and '.join(said)}{direction}: {rule.source}"


def classify(
    code: BankTransactionCode | None,
    purpose: str | None,
    credit: bool,
    rules: Sequence[CodeRule] = DEFAULT_RULES,
    configured: Sequence[CodeRule] = (),
) -> LineClassification | None:
    """The class of one bank line, or None when no rule speaks for its codes (precedence: `_pick`)."""
    parsed, wanted, direction = _parse(code), _norm(purpose), "CRDT" if credit else "DBIT"
    # The deployment's rules speak for its own banks; the published defaults answer only where none does.
    for table in (configured, rules):
        rule = _pick([(i, rule) for i, rule in enumerate(table) if _matches(rule, parsed, wanted, direction)])
        if rule is not None:
            return LineClassification(rule.means, _evidence(rule, parsed), rule)
    return None


def from_config(
    domain: str | None,
    family: str | None,
    subfamily: str | None,
    proprietary: str | None,
    purpose: str | None,
    means: str,
    *,
    issuer: str | None = None,
    credit_debit: str | None = None,
) -> CodeRule:
    """A deployment's rule from plain config values (so this module needs no pydantic); blanks mean "any"."""
    try:
        line_class = LineClass((means or "").strip().lower())
    except ValueError:
        raise ValueError(f"unknown line class {means!r}; use one of {', '.join(LineClass)}") from None
    fields = (_norm(domain), _norm(family), _norm(subfamily), _norm(proprietary), _issuer(issuer), _norm(purpose))
    return CodeRule(line_class, "configured", *fields, credit_debit=_norm(credit_debit))
