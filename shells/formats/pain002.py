"""Payment status reports in: ISO 20022 pain.002 (any 001.xx version) -> one canonical BankAck event.

Versions differ in namespace and in a few wrappers, not in the names we read, so elements are matched
on local names and the namespace only tells which message this is. Statuses live on three levels:
group (OrgnlGrpInfAndSts/GrpSts), payment information (OrgnlPmtInfAndSts/PmtInfSts) and transaction
(TxInfAndSts/TxSts). A transaction without its own status inherits its payment information's status;
a payment-information status with no transaction detail stands for the group when the group has none
(our pain.001 writes one payment information block per batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree

from . import safexml as x
from .canonical import FieldError, IngestOptions, IngestResult, SourceFile, parse_datetime
from .iso20022 import message_document, message_of


def is_pain002(namespace: str) -> bool:
    """Any version of pain.002, under ISO's namespace or a national one (Swiss SIX `...pain.002.001.03.ch.02.xsd`)."""
    found = message_of(namespace)
    return found is not None and found[0] == "pain.002"


# Codes newer pain.002 versions added, mapped to the nearest status the engine acts on.
STATUS_ALIASES = {"RCVD": "PDNG", "ACFC": "ACCP", "ACWP": "ACWC", "ACPD": "ACSP", "ACCC": "ACSC"}
# Verification of Payee (EU instant payments regulation, from October 2025), as German banks report it on a
# file of credit transfers before it is authorised: received, and the payee's name matches (RCVC), closely
# matches (RVMC), does not match (RVNM), or could not be checked (RVNA). Nothing is executed yet: pending,
# with the outcome kept as the reason, where a no-match is what the payer must look at.
PAYEE_VERIFICATION = {"RCVC", "RVMC", "RVNM", "RVNA"}
STATUS_ALIASES |= dict.fromkeys(PAYEE_VERIFICATION, "PDNG")
KNOWN_STATUSES = {"ACTC", "ACCP", "ACSP", "ACSC", "ACWC", "PDNG", "PART", "RJCT"}


def convert(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    root = message_document(x.parse_document(source.path, options.max_document_bytes))
    if not is_pain002(x.namespace(root)):
        yield source.malformed("Document", "namespace", f"not a pain.002 message: {x.namespace(root)!r}")
        return
    report = x.find(root, "CstmrPmtStsRpt")
    if report is None:
        yield source.malformed("Document", "CstmrPmtStsRpt", "missing the payment status report element")
        return
    try:
        payload, created = read_report(report)
    except FieldError as exc:
        yield source.error("message", exc.field, exc.reason)
        return
    yield source.event(
        "message", "bank_ack.received", created, payload, batch_correlation_id=payload["original_batch_id"]
    )


def read_report(report: etree._Element) -> tuple[dict[str, Any], Any]:
    header = x.find(report, "GrpHdr")
    created = parse_datetime(x.text(header, "CreDtTm"), "GrpHdr/CreDtTm")
    group = x.find(report, "OrgnlGrpInfAndSts")
    original = x.text(group, "OrgnlMsgId")
    if original is None:
        raise FieldError("OrgnlGrpInfAndSts/OrgnlMsgId", "missing: the ack cannot be tied to a payment batch")
    group_code = x.text(group, "GrpSts")
    group_status = _status(group_code, "OrgnlGrpInfAndSts/GrpSts")
    group_reason = _reason(group, group_code)
    transactions: list[dict[str, Any]] = []
    info_statuses: list[tuple[str, str | None]] = []
    for index, info in enumerate(x.findall(report, "OrgnlPmtInfAndSts"), 1):
        where = f"OrgnlPmtInfAndSts[{index}]"
        info_status = _status(x.text(info, "PmtInfSts"), f"{where}/PmtInfSts")
        found = [_transaction(tx, info_status, f"{where}/TxInfAndSts[{n}]") for n, tx in enumerate(_txs(info), 1)]
        transactions += found
        if info_status and not found:
            info_statuses.append((info_status, reason_code(info)))
    if group_status is None and len(info_statuses) == 1:
        group_status, group_reason = info_statuses[0]
    elif group_status is None and len(info_statuses) > 1 and not transactions:
        raise FieldError("OrgnlPmtInfAndSts/PmtInfSts", "several payment-information statuses without transactions")
    payload = {
        "ack_id": x.text(header, "MsgId"),
        "original_batch_id": original,
        "group_status": group_status,
        "group_reason_code": group_reason,
        "transactions": transactions,
    }
    return payload, created


def _txs(info: etree._Element) -> list[etree._Element]:
    return x.findall(info, "TxInfAndSts")


def _transaction(tx: etree._Element, inherited: str | None, where: str) -> dict[str, Any]:
    end_to_end_id = x.text(tx, "OrgnlEndToEndId")
    if end_to_end_id is None:
        raise FieldError(f"{where}/OrgnlEndToEndId", f"missing (line {tx.sourceline})")
    code = x.text(tx, "TxSts")
    status = _status(code, f"{where}/TxSts") or inherited
    if status is None:
        raise FieldError(f"{where}/TxSts", f"no transaction status and none inherited (line {tx.sourceline})")
    found = {
        "end_to_end_id": end_to_end_id,
        "status": status,
        "reason_code": _reason(tx, code),
        "reason_text": reason_text(tx),
    }
    return {key: value for key, value in found.items() if value is not None}


def _status(code: str | None, field: str) -> str | None:
    if code is None:
        return None
    code = STATUS_ALIASES.get(code, code)
    if code not in KNOWN_STATUSES:
        raise FieldError(field, f"unknown payment status {code!r}")
    return code


def _reason(element: etree._Element | None, status: str | None) -> str | None:
    """The reason code given, else a payee verification's outcome, which is its own reason."""
    return reason_code(element) or (status if status in PAYEE_VERIFICATION else None)


def reason_code(element: etree._Element | None) -> str | None:
    # Direct StsRsnInf only: a group's reason is not a transaction's reason.
    for info in x.findall(element, "StsRsnInf"):
        code = x.first_text(info, "Rsn/Cd", "Rsn/Prtry")
        if code:
            return code
    return None


def reason_text(element: etree._Element) -> str | None:
    lines = [line.text.strip() for line in x.findall(element, "StsRsnInf/AddtlInf") if line.text and line.text.strip()]
    return " ".join(lines) or None
