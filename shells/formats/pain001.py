"""Payment initiation out: a canonical PaymentBatch as ISO 20022 pain.001 (versions 001.001.03 and 001.001.09).

The ids the bank echoes back are the canonical ones, so acks and settlements correlate without lookup
tables: MsgId = batch_id (pain.002 OrgnlMsgId), PmtInfId = payment_info_id (or one derived from the
batch id), EndToEndId = the instruction's end_to_end_id (pain.002 OrgnlEndToEndId, camt EndToEndId).
One batch is one payment information block: one debtor account and one requested execution date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree
from reconstream.matchers.remittance import is_valid_rf as is_creditor_reference
from reconstream.models.accounts import AccountRef, AccountScheme
from reconstream.models.ids import stable_id
from reconstream.models.money import quantize
from reconstream.models.payments import PaymentBatch, PaymentInstruction
from schwifty import IBAN

VERSIONS = {"03": "pain.001.001.03", "09": "pain.001.001.09"}
SCHEMA_DIR = Path(__file__).parent / "schemas"
MAX35 = 35
MAX140 = 140


def namespace(version: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{message_name(version)}"


def message_name(version: str) -> str:
    if version not in VERSIONS:
        raise ValueError(f"pain.001 version must be one of {sorted(VERSIONS)}, got {version!r}")
    return VERSIONS[version]


def payment_info_id(batch: PaymentBatch) -> str:
    """The batch's own PmtInfId, else a deterministic one (the same batch always gets the same id)."""
    if batch.payment_info_id:
        return batch.payment_info_id[:MAX35]
    derived = f"{batch.batch_id}-PI1"
    return derived if len(derived) <= MAX35 else stable_id("PI", batch.batch_id)


def build_pain001(
    batch: PaymentBatch,
    version: str = "03",
    created_at: datetime | None = None,
    debtor_name: str | None = None,
    debtor_bic: str | None = None,
) -> bytes:
    """The pain.001 document as UTF-8 bytes; created_at fixes CreDtTm so the output is reproducible."""
    ns = namespace(version)
    document = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})
    initiation = _sub(document, ns, "CstmrCdtTrfInitn")
    name = debtor_name or f"Company {batch.company_code}"
    _group_header(initiation, ns, batch, created_at or datetime.now(UTC), name)
    _payment_information(initiation, ns, batch, version, name, debtor_bic)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def validate_pain001(document: bytes, version: str = "03") -> None:
    """Raise etree.DocumentInvalid naming the first schema error (the official ISO 20022 XSD)."""
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"{message_name(version)}.xsd")))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    schema.assertValid(etree.fromstring(document, parser))


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _money(amount: Decimal, currency: str) -> str:
    return str(quantize(amount, currency))


def _control_sum(batch: PaymentBatch) -> str:
    # Mixed currencies have no meaningful sum, but the schema only asks for the arithmetic total.
    return str(sum((i.amount for i in batch.instructions), Decimal(0)))


def _group_header(parent: etree._Element, ns: str, batch: PaymentBatch, created_at: datetime, name: str) -> None:
    header = _sub(parent, ns, "GrpHdr")
    _sub(header, ns, "MsgId", batch.batch_id)
    _sub(header, ns, "CreDtTm", created_at.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat())
    _sub(header, ns, "NbOfTxs", str(len(batch.instructions)))
    _sub(header, ns, "CtrlSum", _control_sum(batch))
    _sub(_sub(header, ns, "InitgPty"), ns, "Nm", name[:70])


def _payment_information(
    parent: etree._Element, ns: str, batch: PaymentBatch, version: str, name: str, bic: str | None
) -> None:
    info = _sub(parent, ns, "PmtInf")
    _sub(info, ns, "PmtInfId", payment_info_id(batch))
    _sub(info, ns, "PmtMtd", "TRF")
    _sub(info, ns, "NbOfTxs", str(len(batch.instructions)))
    _sub(info, ns, "CtrlSum", _control_sum(batch))
    if all(i.currency == "EUR" for i in batch.instructions):
        _sub(_sub(_sub(info, ns, "PmtTpInf"), ns, "SvcLvl"), ns, "Cd", "SEPA")
    execution = batch.requested_execution_date.isoformat()
    if version == "03":
        _sub(info, ns, "ReqdExctnDt", execution)
    else:
        _sub(_sub(info, ns, "ReqdExctnDt"), ns, "Dt", execution)
    _sub(_sub(info, ns, "Dbtr"), ns, "Nm", name[:70])
    _account(info, ns, "DbtrAcct", batch.debtor_account)
    _agent(info, ns, "DbtrAgt", version, bic)
    _sub(info, ns, "ChrgBr", "SLEV")
    for instruction in batch.instructions:
        _transaction(info, ns, instruction)


def _account(parent: etree._Element, ns: str, tag: str, account: AccountRef) -> None:
    """An IBAN, or any other account as `Othr/Id` with its scheme (BBAN for a national account number)."""
    identification = _sub(_sub(parent, ns, tag), ns, "Id")
    if account.iban is not None:
        _sub(identification, ns, "IBAN", str(IBAN(account.iban)))
        return
    other = _sub(identification, ns, "Othr")
    _sub(other, ns, "Id", account.id[:34])
    if account.scheme is AccountScheme.BBAN:
        _sub(_sub(other, ns, "SchmeNm"), ns, "Cd", "BBAN")


def _agent(parent: etree._Element, ns: str, tag: str, version: str, bic: str | None) -> None:
    institution = _sub(_sub(parent, ns, tag), ns, "FinInstnId")
    if bic:
        _sub(institution, ns, "BIC" if version == "03" else "BICFI", bic)
    else:
        # IBAN-only SEPA: the bank derives the agent; the schema still wants the element.
        _sub(_sub(institution, ns, "Othr"), ns, "Id", "NOTPROVIDED")


def _transaction(parent: etree._Element, ns: str, instruction: PaymentInstruction) -> None:
    transaction = _sub(parent, ns, "CdtTrfTxInf")
    _sub(_sub(transaction, ns, "PmtId"), ns, "EndToEndId", instruction.end_to_end_id)
    amount = _sub(_sub(transaction, ns, "Amt"), ns, "InstdAmt", _money(instruction.amount, instruction.currency))
    amount.set("Ccy", instruction.currency)
    _sub(_sub(transaction, ns, "Cdtr"), ns, "Nm", (instruction.creditor_name or instruction.vendor_id)[:70])
    _account(transaction, ns, "CdtrAcct", instruction.creditor_account)
    _remittance(transaction, ns, instruction.remittance_info or ", ".join(instruction.invoice_ids))


def _remittance(parent: etree._Element, ns: str, info: str) -> None:
    remittance = _sub(parent, ns, "RmtInf")
    if is_creditor_reference(info):
        # A structured RF reference survives the chain to the creditor's bank; free text may be cut.
        reference = _sub(_sub(remittance, ns, "Strd"), ns, "CdtrRefInf")
        kind = _sub(reference, ns, "Tp")
        _sub(_sub(kind, ns, "CdOrPrtry"), ns, "Cd", "SCOR")
        _sub(kind, ns, "Issr", "ISO")
        _sub(reference, ns, "Ref", info.replace(" ", ""))
    else:
        _sub(remittance, ns, "Ustrd", info[:MAX140])
