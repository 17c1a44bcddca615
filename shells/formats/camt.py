"""Statements and notifications in: ISO 20022 camt.052 / camt.053 / camt.054 -> settlements and balances.

Any camt.05x.001.xx message is read by local names, under ISO's namespace or a national one, alone or
inside a SWIFT Alliance Access DataPDU (iso20022.py). Files are streamed with iterparse and every entry
is released once converted, so a 100 MB end-of-day statement costs the memory of one entry.

Entries: one Settlement per transaction detail, so each payment of a batch booking matches its own
instruction. When the details do not add up to the booked amount (charges taken in the booking, or
deducted from a credit), the difference becomes its own Settlement `<entry>/CHRG`, so booked cash equals
what the bank booked. A batch booking whose details carry no amounts (or has none) is one entry-level
Settlement carrying the batch (message id, count). Entries not booked (status PDNG or INFO) are not
settlements and produce nothing.

Balances (`Bal`): one `balance.reported` per balance of a known type, emitted after the statement's
entries (a closing balance counts what was booked). Intermediate balances of a paginated statement
(`SubTp` INTM) are not day balances and are left out.

Accounts: `Acct/Id/IBAN`, or `Othr/Id` with its scheme (BBAN by default), or the older `BBAN`,
`DmstAcct`, `PrtryAcct` and `UPIC` ids, with the servicer's BIC or clearing member id (a US ABA routing
number or UK sort code makes the account that scheme's). A counterparty account that fails its check is
kept as written and flagged; the booking is never lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from reconstream.matchers.remittance import first_rf_reference
from reconstream.models.balances import OPENING, BalanceType
from reconstream.models.creditor_references import reference_scheme
from reconstream.models.errors import InvariantBroken

from . import camt_details as d
from . import safexml as x
from .canonical import (
    FieldError,
    IngestOptions,
    IngestResult,
    ReadAccount,
    SourceFile,
    end_of,
    flag,
    house_account,
    money,
    parse_date,
    parse_datetime,
    with_accounts,
    with_counterparty,
)
from .iso20022 import document_namespace, message_of

CONTAINERS = {"Stmt", "Ntfctn", "Rpt"}
STREAMED = ("GrpHdr", "Acct", "Bal", "Ntry", "Stmt", "Ntfctn", "Rpt")
_BALANCE_TYPES = {member.value for member in BalanceType}
_OPENING_TYPES = {member.value for member in OPENING}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class Container:
    """What a statement, report or notification says once for all its entries."""

    tag: str
    index: int
    ident: str
    account: ReadAccount | None
    account_error: FieldError | None
    currency: str | None
    day: date | None  # the statement's own date: a booking date for entries that give none
    balances: list[etree._Element] = field(default_factory=list)
    balance_count: int = 0

    def account_refused(self, source: SourceFile, position: str) -> IngestResult:
        """The error each record of a container whose account could not be read becomes."""
        if self.account_error is None:
            raise InvariantBroken(f"{self.tag} {self.ident}: its account was refused, but not the error saying why")
        return source.error(position, self.account_error.field, self.account_error.reason)


@dataclass
class Header:
    msg_id: str = ""
    created: datetime | None = None


def message_kind(namespace: str) -> str | None:
    """'camt.053' for a namespace naming any version of it, ISO's or a national one."""
    found = message_of(namespace)
    return found[0] if found is not None and found[0].startswith("camt") else None


def convert(source: SourceFile, options: IngestOptions, expected: str | None = None) -> Iterator[IngestResult]:
    namespace = document_namespace(source.path)
    kind = message_kind(namespace)
    if kind is None or (expected is not None and kind != expected):
        want = expected or "camt.052/053/054"
        yield source.malformed("Document", "namespace", f"expected a {want} message, found {namespace!r}")
        return
    header, container = Header(), None
    counts = dict.fromkeys(CONTAINERS, 0)
    entry_index = 0
    for element in x.iter_elements(source.path, STREAMED):
        name = x.localname(element)
        parent = element.getparent()
        parent_name = x.localname(parent) if parent is not None else ""
        if name in ("Bal", "Ntry") and parent_name in CONTAINERS and container is None:
            # No Acct before it: the schema makes the account mandatory, and a record booked to no account
            # is refused, each by itself, not skipped (libeufin's trimmed GLS and PostFinance samples).
            counts[parent_name] += 1
            container = _without_account(parent, counts[parent_name], header)
            entry_index = 0
        if name == "GrpHdr":
            header = Header(x.text(element, "MsgId") or "", _created(element))
            x.release(element)
        elif name == "Acct" and parent_name in CONTAINERS:
            counts[parent_name] += 1
            container = _container(parent, element, counts[parent_name], options, header)
            entry_index = 0
        elif name == "Bal" and parent_name in CONTAINERS and container is not None:
            container.balances.append(element)
            if x.first_text(element, "Tp/CdOrPrtry/Cd", "Tp/Cd") in _OPENING_TYPES:
                yield from convert_balances(source, header, container)  # before the entries it opens
        elif name == "Ntry" and parent_name in CONTAINERS and container is not None:
            entry_index += 1
            yield from convert_entry(source, element, header, container, entry_index)
            x.release(element)
        elif name in CONTAINERS:
            if container is not None:
                yield from convert_balances(source, header, container)
            container = None
            x.release(element)


def _created(element: etree._Element) -> datetime | None:
    raw = x.text(element, "CreDtTm")
    return None if raw is None else parse_datetime(raw, "GrpHdr/CreDtTm")


def _without_account(parent: etree._Element, index: int, header: Header) -> Container:
    tag = x.localname(parent)
    refused = FieldError(f"{tag}/Acct", f"the {tag} names no account (Acct), which ISO 20022 makes mandatory")
    day = header.created.date() if header.created is not None else None
    return Container(tag, index, x.text(parent, "Id") or f"{tag}{index}", None, refused, None, day)


def _container(
    parent: etree._Element, account: etree._Element, index: int, options: IngestOptions, header: Header
) -> Container:
    raw, scheme, _ = d.account_id(account)
    bank_id, clearing = d.agent_id(x.find(account, "Svcr"))
    read, error = None, None
    try:
        read = house_account(
            raw, options, f"{x.localname(parent)}/Acct/Id", bank_id, d.scheme_with_clearing(scheme, clearing)
        )
    except FieldError as exc:
        error = exc
    ident = x.text(parent, "Id") or f"{x.localname(parent)}{index}"
    currency = x.text(account, "Ccy")
    if currency is None and read is not None:
        currency = options.account_currencies.get(read.ref.key)
    # Written before the account in every version: the period's end, else the statement's creation.
    written = x.first_text(parent, "FrToDt/ToDtTm", "FrToDt/ToDt", "CreDtTm")
    day = date.fromisoformat(written[:10]) if written and _ISO_DAY.match(written) else None
    if day is None and header.created is not None:
        day = header.created.date()
    return Container(x.localname(parent), index, ident, read, error, currency, day)


# -- balances --------------------------------------------------------------------------------------
def convert_balances(source: SourceFile, header: Header, container: Container) -> Iterator[IngestResult]:
    """The container's balances read so far, in order; numbered across the container."""
    for element in container.balances:
        container.balance_count += 1
        position = f"{container.tag}{container.index}.Bal{container.balance_count}"
        if container.account is None:
            yield container.account_refused(source, position)
            continue
        try:
            payload = _balance(element, container)
        except FieldError as exc:
            yield source.error(f"{position} (line {element.sourceline})", exc.field, exc.reason)
            continue
        if payload is not None:
            at = payload.pop("_at")
            yield source.event(position, "balance.reported", at or header.created or end_of(payload["date"]), payload)
    for element in container.balances:
        element.clear(keep_tail=False)
    container.balances = []


def _balance(element: etree._Element, container: Container) -> dict[str, Any] | None:
    code = x.first_text(element, "Tp/CdOrPrtry/Cd", "Tp/Cd")
    if code not in _BALANCE_TYPES:
        return None  # a type that is no balance of the account (XPCD expected, INFO, a bank's own codes)
    amount_el = x.find(element, "Amt")
    amount, ccy = d.amount_of(amount_el, "Bal/Amt")
    currency = ccy or container.currency or ""
    # Some banks leave the indicator out of a balance (Lithuanian CENTROlink): the amount is then a credit.
    sign = _direction(x.text(element, "CdtDbtInd") or "CRDT", "Bal/CdtDbtInd")
    when = x.first_text(element, "Dt/DtTm")
    at = parse_datetime(when, "Bal/Dt/DtTm") if when else None
    day = parse_date(x.first_text(element, "Dt/Dt", "Dt/DtTm"), "Bal/Dt")
    value = Decimal(money(amount, currency, "Bal/Amt"))
    if container.account is None:
        raise InvariantBroken(f"{container.tag} {container.ident}: a balance read although its account was refused")
    return {
        "account": container.account.payload(),
        "currency": currency,
        "type": code,
        "amount": str(-value if sign == "DBIT" and value else value),
        "date": day.isoformat(),
        "date_time": at.isoformat() if at else None,
        "statement_id": container.ident,
        "_at": at,
    }


# -- entries ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """The entry-level facts every transaction detail of a booking shares."""

    ref: str
    amount: Decimal
    currency: str
    credit_debit: str
    booking_date: str
    value_date: str
    info: str | None
    code: dict[str, Any] | None
    batch: dict[str, Any] | None
    charges: list[dict[str, Any]]


def convert_entry(
    source: SourceFile, ntry: etree._Element, header: Header, container: Container, index: int
) -> Iterator[IngestResult]:
    position = f"{container.tag}{container.index}.Ntry{index}"
    if container.account is None:
        yield container.account_refused(source, position)
        return
    try:
        if _status(ntry) not in ("BOOK", None):
            return
        entry = _entry(ntry, header, container, index)
        details = x.findall(ntry, "NtryDtls/TxDtls")
        event_time = header.created or end_of(date.fromisoformat(entry.booking_date))
        payloads = split_entry(entry, details, container)
    except FieldError as exc:
        yield source.error(f"{position} (line {ntry.sourceline})", exc.field, exc.reason)
        return
    batch_id = x.first_text(ntry, "NtryDtls/Btch/MsgId")
    for suffix, payload, batch in payloads:
        yield source.event(f"{position}{suffix}", "settlement.booked", event_time, payload, None, batch or batch_id)


def _status(ntry: etree._Element) -> str | None:
    # camt.05x.001.02-07: <Sts>BOOK</Sts>; from .08: <Sts><Cd>BOOK</Cd></Sts>.
    return x.first_text(ntry, "Sts/Cd", "Sts/Prtry", "Sts")


def _entry(ntry: etree._Element, header: Header, container: Container, index: int) -> Entry:
    raw_amount, ccy = d.amount_of(x.find(ntry, "Amt"), "Ntry/Amt")
    currency = ccy or container.currency or ""
    # Without a booking date (some banks give none), the value date, else the statement's own date.
    booked = x.first_text(ntry, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")
    if booked is None and container.day is not None:
        booked = container.day.isoformat()
    booking = parse_date(booked, "Ntry/BookgDt")
    value = parse_date(x.first_text(ntry, "ValDt/Dt", "ValDt/DtTm") or booked, "Ntry/ValDt")
    ref = x.first_text(ntry, "AcctSvcrRef", "NtryRef") or f"{header.msg_id}/{container.ident}/{index}"
    batch = {
        "message_id": x.first_text(ntry, "NtryDtls/Btch/MsgId"),
        "payment_info_id": x.first_text(ntry, "NtryDtls/Btch/PmtInfId"),
        "count": _count(x.first_text(ntry, "NtryDtls/Btch/NbOfTxs"), "NtryDtls/Btch/NbOfTxs"),
    }
    return Entry(
        ref=ref,
        amount=Decimal(money(raw_amount, currency, "Ntry/Amt")),
        currency=currency,
        credit_debit=_direction(x.text(ntry, "CdtDbtInd"), "Ntry/CdtDbtInd"),
        booking_date=booking.isoformat(),
        value_date=value.isoformat(),
        info=x.text(ntry, "AddtlNtryInf"),
        code=d.bank_transaction_code(ntry),
        batch={k: v for k, v in batch.items() if v is not None} or None,
        charges=d.charges(ntry, currency),
    )


def _count(raw: str | None, field: str) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise FieldError(field, f"not a number of transactions: {raw!r}")
    return int(raw)


def _direction(raw: str | None, field: str) -> str:
    if raw not in ("CRDT", "DBIT"):
        raise FieldError(field, f"expected CRDT or DBIT, got {raw!r}")
    return raw


def split_entry(
    entry: Entry, details: list[etree._Element], container: Container
) -> list[tuple[str, dict[str, Any], str | None]]:
    """(position suffix, settlement payload, batch id) for each transaction detail, plus any charges line."""
    amounts = [_tx_amount(tx, entry, number) for number, tx in enumerate(details, 1)]
    if not details or (len(details) > 1 and None in amounts):
        return [("", _batch_booking(entry, details, container), None)]
    out: list[tuple[str, dict[str, Any], str | None]] = []
    signed_total = Decimal(0)
    for number, (tx, amount) in enumerate(zip(details, amounts, strict=True), 1):
        amount = entry.amount if amount is None else amount  # a single detail is the entry
        stated = _direction(x.text(tx, "CdtDbtInd") or entry.credit_debit, f"TxDtls[{number}]/CdtDbtInd")
        # One detail is the booking itself: the account moved the way the entry says (PostFinance writes a
        # debit's only detail as CRDT, the underlying payment's own direction).
        direction = entry.credit_debit if len(details) == 1 else stated
        signed_total += amount if direction == "CRDT" else -amount
        entry_id = _tx_ref(tx, entry, len(details), number)
        payload = _detail(entry, tx, entry_id, amount, direction, container, single=len(details) == 1)
        if stated != direction:
            flag(payload, "TxDtls/CdtDbtInd", f"the detail says {stated}, the entry booked {direction}")
        out.append((f".Tx{number}" if len(details) > 1 else "", payload, x.first_text(tx, "Refs/MsgId")))
    residual = (entry.amount if entry.credit_debit == "CRDT" else -entry.amount) - signed_total
    if residual:
        out.append((".Chrg", _difference(entry, residual, signed_total, container), None))
    return out


def _difference(entry: Entry, residual: Decimal, details: Decimal, container: Container) -> dict[str, Any]:
    """The booked amount less what its details add up to, as a line of its own: charges the bank took in the
    booking, named in its Chrgs or not. A credit (charges are never one) or a difference other than the
    charges the bank named is flagged: the bank's figures disagree (Goldman Sachs' sample books a 100.00
    credit whose detail says 64.00)."""
    direction = "CRDT" if residual > 0 else "DBIT"
    line = _settlement(entry, f"{entry.ref}/CHRG", abs(residual), direction, container)
    line["remittance_info"] = f"charges/difference booked with entry {entry.ref}"
    line["bank_transaction_code"] = entry.code
    line["charges"] = entry.charges or None
    named = sum(
        (Decimal(c["amount"]) for c in entry.charges if c.get("currency", entry.currency) == entry.currency), Decimal(0)
    )
    if direction == "CRDT" or (named and named != abs(residual)):
        booked = entry.amount if entry.credit_debit == "CRDT" else -entry.amount
        reason = f"the entry books {booked}, its details add up to {details}, charges named: {named}"
        flag(line, "Ntry/Amt", reason)
    return line


def _tx_amount(tx: etree._Element, entry: Entry, number: int) -> Decimal | None:
    # Prefer an amount in the booked currency: the split must add up against the booking.
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        element = x.find(tx, path)
        if element is not None and (element.get("Ccy") or entry.currency) == entry.currency:
            return Decimal(money(element.text, entry.currency, f"TxDtls[{number}]/{path}"))
    return None


def _tx_ref(tx: etree._Element, entry: Entry, count: int, number: int) -> str:
    own = x.text(tx, "Refs/AcctSvcrRef")
    if own and (count == 1 or own != entry.ref):
        return own
    return entry.ref if count == 1 else f"{entry.ref}/{number}"


def _settlement(entry: Entry, entry_id: str, amount: Decimal, direction: str, container: Container) -> dict[str, Any]:
    if container.account is None:
        raise InvariantBroken(f"{container.tag} {container.ident}: an entry read although its account was refused")
    payload = {
        "entry_id": entry_id,
        "amount": str(amount),
        "currency": entry.currency,
        "credit_debit": direction,
        "booking_date": entry.booking_date,
        "value_date": entry.value_date,
        "remittance_info": entry.info,
        "statement_id": container.ident,
    }
    return with_accounts(payload, container.account, None, ("Acct/Id", ""))


def _detail(
    entry: Entry,
    tx: etree._Element,
    entry_id: str,
    amount: Decimal,
    direction: str,
    container: Container,
    single: bool,
) -> dict[str, Any]:
    payload = _settlement(entry, entry_id, amount, direction, container)
    if container.account is None:
        raise InvariantBroken(f"{container.tag} {container.ident}: an entry read although its account was refused")
    code = _transaction_code(d.bank_transaction_code(tx), entry.code)
    returned = x.find(tx, "RtrInf") is not None or (code or {}).get("subfamily") == "RRTN"
    party_of, other, name = _counterparty(tx, direction, returned, container.account)
    if other is not None:  # the statement's own account is in the payload already (_settlement)
        side = "CdtrAcct" if party_of == "DBIT" else "DbtrAcct"
        with_counterparty(payload, other, f"TxDtls/RltdPties/{side}/Id")
    payload["end_to_end_id"] = x.text(tx, "Refs/EndToEndId")
    payload["counterparty_name"] = name
    payload.update(d.remittance(tx, entry.currency))
    additional = x.text(tx, "AddtlTxInf")
    if additional and "remittance_lines" not in payload:
        payload["additional_info"] = additional[: d.MAX_TEXT]
    text = payload.get("remittance_info") or additional or ""
    reference = payload.get("creditor_reference") or first_rf_reference(text)
    if reference:
        payload["creditor_reference"] = reference
        payload["reference_scheme"] = reference_scheme(reference)
    # The entry's own charges belong to its only detail; in a batch booking they are the charges line's.
    payload["charges"] = d.charges(tx, entry.currency) or (entry.charges if single else None) or None
    payload["fx"] = d.foreign_exchange(tx, entry.currency, amount)
    payload["bank_transaction_code"] = code
    payload["return_info"] = d.return_info(tx)
    payload.update(d.parties(tx))
    return payload


def _transaction_code(detail: dict[str, Any] | None, entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A detail's bank transaction code, its ISO part (domain, family, sub-family) taken from the entry where
    the detail gives only a proprietary one (ABN AMRO: PMNT/RCDT/ESCT on the entry, its own code on each detail)."""
    if detail is None or entry is None or "domain" in detail or "domain" not in entry:
        return detail or entry
    return {**{k: entry[k] for k in ("domain", "family", "subfamily") if k in entry}, **detail}


def _counterparty(
    tx: etree._Element, direction: str, returned: bool, ours: ReadAccount
) -> tuple[str, ReadAccount | None, str | None]:
    """The other party of a transaction: the creditor of a debit, the debtor of a credit, and which of the two.

    A return carries the original payment's parties, so the side to look at is the other one: on our
    returned transfer the debtor is us and the creditor is who the money did not reach; on a direct debit
    returned unpaid the creditor is us (often named by our SEPA creditor id alone, without an account, as
    Bank of Ireland writes it) and the debtor is who did not pay. Some banks turn the parties round on a
    return, so the sides are swapped only where the party found is us or has no account while the other
    side has one that is not ours.
    """
    other, name = d.counterparty(tx, direction)
    if not returned or (other is not None and other.ref.key != ours.ref.key):
        return direction, other, name
    opposite = "CRDT" if direction == "DBIT" else "DBIT"
    flipped, flipped_name = d.counterparty(tx, opposite)
    if other is not None or (flipped is not None and flipped.ref.key != ours.ref.key):
        return opposite, flipped, flipped_name
    return direction, other, name


def _batch_booking(entry: Entry, details: list[etree._Element], container: Container) -> dict[str, Any]:
    """One settlement for a booking whose parts carry no amounts: what the details say is kept as text."""
    payload = _settlement(entry, entry.ref, entry.amount, entry.credit_debit, container)
    batch = dict(entry.batch or {})
    if details:
        batch.setdefault("count", len(details))
        batch.setdefault("message_id", x.first_text(details[0], "Refs/MsgId"))
        batch.setdefault("payment_info_id", x.first_text(details[0], "Refs/PmtInfId"))
    pieces: list[str] = []
    documents: list[dict[str, Any]] = []
    end_to_ends = list(
        dict.fromkeys(e for tx in details if (e := x.text(tx, "Refs/EndToEndId")) not in (None, "NOTPROVIDED"))
    )
    if len(end_to_ends) == 1 and len(details) > 1:
        payload["end_to_end_id"] = end_to_ends[0]  # one payment booked in parts: its id is the entry's
    elif end_to_ends:
        batch["end_to_end_ids"] = end_to_ends
    for tx in details:
        remittance = d.remittance(tx, entry.currency)
        pieces += remittance.get("remittance_lines", [])
        documents += remittance.get("referred_documents", [])
    if batch:
        payload["batch"] = {k: v for k, v in batch.items() if v is not None}
    if pieces:
        payload["remittance_lines"] = pieces
        payload["remittance_info"] = " ".join(pieces)[: d.MAX_TEXT]
    if documents:
        payload["referred_documents"] = documents
    payload["bank_transaction_code"] = entry.code
    payload["charges"] = entry.charges or None
    return payload
