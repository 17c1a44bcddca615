"""Statements and notifications in: ISO 20022 camt.053 / camt.054 (and camt.052) -> canonical Settlements.

Any camt.05x.001.xx namespace is read by local names. Files are streamed with iterparse and every entry
is released once converted, so a 100 MB end-of-day statement costs the memory of one entry.

One Settlement per transaction detail: a batched entry (one booking for a whole payment batch) is split
so each payment matches its own instruction by EndToEndId. When the details do not add up to the booked
entry amount (charges taken in the booking, or deducted from a credit), the difference becomes its own
Settlement `<entry>/CHRG`, so booked cash always equals what the bank booked. Entries that are not
booked (status PDNG or INFO) are not settlements and produce nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from reconstream.matchers.remittance import first_rf_reference as creditor_reference

from . import safexml as x
from .canonical import (
    FieldError,
    IngestOptions,
    IngestResult,
    SourceFile,
    amount_text,
    compact_iban,
    end_of,
    parse_date,
    parse_datetime,
    resolve_account,
)

NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.001\.\d{2}$")
CONTAINERS = {"Stmt", "Ntfctn", "Rpt"}
STREAMED = ("GrpHdr", "Acct", "Ntry", "Stmt", "Ntfctn", "Rpt")


@dataclass
class Container:
    """What a statement / notification says once for all its entries."""

    tag: str
    index: int
    ident: str
    account_iban: str | None
    account_error: FieldError | None
    currency: str | None


@dataclass
class Header:
    msg_id: str = ""
    created: datetime | None = None


def message_kind(namespace: str) -> str | None:
    match = NAMESPACE.match(namespace)
    return match.group(1) if match else None


def convert(source: SourceFile, options: IngestOptions, expected: str | None = None) -> Iterator[IngestResult]:
    namespace, _ = x.root_namespace(source.path)
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
        if name == "GrpHdr":
            header = Header(x.text(element, "MsgId") or "", _created(element))
            x.release(element)
        elif name == "Acct" and parent_name in CONTAINERS:
            counts[parent_name] += 1
            container = _container(parent, element, counts[parent_name], options)
            entry_index = 0
        elif name == "Ntry" and parent_name in CONTAINERS and container is not None:
            entry_index += 1
            yield from convert_entry(source, element, header, container, entry_index)
            x.release(element)
        elif name in CONTAINERS:
            x.release(element)


def _created(element: etree._Element) -> datetime | None:
    raw = x.text(element, "CreDtTm")
    return None if raw is None else parse_datetime(raw, "GrpHdr/CreDtTm")


def _container(parent: etree._Element, account: etree._Element, index: int, options: IngestOptions) -> Container:
    raw = x.first_text(account, "Id/IBAN", "Id/Othr/Id")
    iban, error = None, None
    try:
        iban = resolve_account(raw, options.accounts, f"{x.localname(parent)}/Acct/Id")
    except FieldError as exc:
        error = exc
    ident = x.text(parent, "Id") or f"{x.localname(parent)}{index}"
    return Container(x.localname(parent), index, ident, iban, error, x.text(account, "Ccy"))


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


def convert_entry(
    source: SourceFile, ntry: etree._Element, header: Header, container: Container, index: int
) -> Iterator[IngestResult]:
    position = f"{container.tag}{container.index}.Ntry{index}"
    if container.account_error is not None:
        yield source.error(position, container.account_error.field, container.account_error.reason)
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
    amount_el = x.find(ntry, "Amt")
    if amount_el is None:
        raise FieldError("Ntry/Amt", "missing amount")
    booked = x.first_text(ntry, "BookgDt/Dt", "BookgDt/DtTm")
    booking = parse_date(booked, "Ntry/BookgDt")
    value = parse_date(x.first_text(ntry, "ValDt/Dt", "ValDt/DtTm") or booked, "Ntry/ValDt")
    ref = x.first_text(ntry, "AcctSvcrRef", "NtryRef") or f"{header.msg_id}/{container.ident}/{index}"
    return Entry(
        ref=ref,
        amount=Decimal(amount_text(amount_el.text, "Ntry/Amt")),
        currency=amount_el.get("Ccy") or container.currency or "",
        credit_debit=_direction(x.text(ntry, "CdtDbtInd"), "Ntry/CdtDbtInd"),
        booking_date=booking.isoformat(),
        value_date=value.isoformat(),
        info=x.text(ntry, "AddtlNtryInf"),
    )


def _direction(raw: str | None, field: str) -> str:
    if raw not in ("CRDT", "DBIT"):
        raise FieldError(field, f"expected CRDT or DBIT, got {raw!r}")
    return raw


def split_entry(
    entry: Entry, details: list[etree._Element], container: Container
) -> list[tuple[str, dict[str, Any], str | None]]:
    """(position suffix, settlement payload, batch id) for each transaction detail, plus any charges line."""
    if not details:
        return [("", _settlement(entry, entry.ref, entry.amount, entry.credit_debit, container), None)]
    out: list[tuple[str, dict[str, Any], str | None]] = []
    signed_total = Decimal(0)
    for number, tx in enumerate(details, 1):
        amount = _tx_amount(tx, entry, single=len(details) == 1, number=number)
        direction = _direction(x.text(tx, "CdtDbtInd") or entry.credit_debit, f"TxDtls[{number}]/CdtDbtInd")
        signed_total += amount if direction == "CRDT" else -amount
        entry_id = _tx_ref(tx, entry, len(details), number)
        payload = _settlement(entry, entry_id, amount, direction, container)
        payload.update(_tx_fields(tx, direction))
        suffix = f".Tx{number}" if len(details) > 1 else ""
        out.append((suffix, payload, x.first_text(tx, "Refs/MsgId")))
    residual = (entry.amount if entry.credit_debit == "CRDT" else -entry.amount) - signed_total
    if residual:
        charges = _settlement(entry, f"{entry.ref}/CHRG", abs(residual), "CRDT" if residual > 0 else "DBIT", container)
        charges["remittance_info"] = f"charges/difference booked with entry {entry.ref}"
        out.append((".Chrg", charges, None))
    return out


def _tx_amount(tx: etree._Element, entry: Entry, single: bool, number: int) -> Decimal:
    # Prefer an amount in the booked currency: the split must add up against the booking.
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        element = x.find(tx, path)
        if element is not None and (element.get("Ccy") or entry.currency) == entry.currency:
            return Decimal(amount_text(element.text, f"TxDtls[{number}]/{path}"))
    if single:
        return entry.amount
    raise FieldError(f"TxDtls[{number}]/Amt", f"no amount in {entry.currency} for a detail of a batched entry")


def _tx_ref(tx: etree._Element, entry: Entry, count: int, number: int) -> str:
    own = x.text(tx, "Refs/AcctSvcrRef")
    if own and (count == 1 or own != entry.ref):
        return own
    return entry.ref if count == 1 else f"{entry.ref}/{number}"


def _settlement(entry: Entry, entry_id: str, amount: Decimal, direction: str, container: Container) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "account_iban": container.account_iban,
        "amount": str(amount),
        "currency": entry.currency,
        "credit_debit": direction,
        "booking_date": entry.booking_date,
        "value_date": entry.value_date,
        "remittance_info": entry.info,
    }


def _tx_fields(tx: etree._Element, direction: str) -> dict[str, Any]:
    # The counterparty of a debit is the creditor we paid; of a credit, the debtor who paid us.
    party, account = ("Cdtr", "CdtrAcct") if direction == "DBIT" else ("Dbtr", "DbtrAcct")
    unstructured = [u.text.strip() for u in x.findall(tx, "RmtInf/Ustrd") if u.text and u.text.strip()]
    reference = x.text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
    fields: dict[str, Any] = {
        "end_to_end_id": x.text(tx, "Refs/EndToEndId"),
        "counterparty_iban": compact_iban(x.text(tx, f"RltdPties/{account}/Id/IBAN")),
        "counterparty_name": x.first_text(tx, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm"),
        "creditor_reference": reference or creditor_reference(" ".join(unstructured)),
    }
    if unstructured:
        fields["remittance_info"] = " ".join(unstructured)[:500]
    return fields
