"""E-invoices in: UBL 2.1 Invoice and CreditNote (PEPPOL BIS Billing 3.0 / EN 16931) -> canonical Invoices.

Totals come from LegalMonetaryTotal (BT-109 net, BT-112 gross) and the TaxTotal in the document currency
(BT-110). Lines are kept only when they add up to the net total: document-level allowances and charges
(BG-20/21) and negative lines have no place in the canonical line model, and a wrong line sum would
refuse an otherwise valid invoice. The supplier and buyer are identified by their party ids, mapped to
vendor_id / company_code through IngestOptions when the AP platform's ids differ from the suppliers'.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from lxml import etree
from reconstream.models.accounts import looks_like_iban, read_account
from reconstream.models.ids import stable_id

from . import safexml as x
from .canonical import (
    FieldError,
    IngestOptions,
    IngestResult,
    SourceFile,
    amount_text,
    money,
    parse_date,
    start_of,
)

NAMESPACE = re.compile(r"^urn:oasis:names:specification:ubl:schema:xsd:(Invoice|CreditNote)-2$")
PARTY_IDS = ("PartyIdentification/ID", "EndpointID", "PartyTaxScheme/CompanyID", "PartyLegalEntity/CompanyID")


def convert(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    root = x.parse_document(source.path, options.max_document_bytes)
    match = NAMESPACE.match(x.namespace(root))
    if match is None or x.localname(root) != match.group(1):
        yield source.malformed("document", "namespace", f"not a UBL 2.1 Invoice or CreditNote: {x.namespace(root)!r}")
        return
    try:
        payload = invoice(root, options, credit_note=match.group(1) == "CreditNote")
    except FieldError as exc:
        yield source.error("document", exc.field, exc.reason)
        return
    event_time = start_of(parse_date(payload["invoice_date"], "IssueDate"))
    correlation = stable_id("corr", payload["vendor_id"], payload["supplier_invoice_number"])
    yield source.event("document", "invoice.captured", event_time, payload, correlation_id=correlation)


def invoice(root: etree._Element, options: IngestOptions, credit_note: bool) -> dict[str, Any]:
    number = _required(root, "ID")
    currency = _required(root, "DocumentCurrencyCode")
    supplier = x.find(root, "AccountingSupplierParty/Party")
    vendor_id = _party(supplier, options.vendors, "AccountingSupplierParty")
    totals = x.find(root, "LegalMonetaryTotal")
    net = money(x.text(totals, "TaxExclusiveAmount"), currency, "LegalMonetaryTotal/TaxExclusiveAmount")
    gross = money(x.text(totals, "TaxInclusiveAmount"), currency, "LegalMonetaryTotal/TaxInclusiveAmount")
    tax = _tax(root, currency)
    if Decimal(gross) < 0 and Decimal(net) <= 0 and Decimal(tax) <= 0:
        # A negative (corrective) invoice takes money back: it is a credit note for the same amounts.
        credit_note, net, gross, tax = True, _positive(net), _positive(gross), _positive(tax)
    return {
        "invoice_id": f"{vendor_id}/{number}",
        "supplier_invoice_number": number,
        "document_type": "credit_note" if credit_note else "invoice",
        "vendor_id": vendor_id,
        "company_code": _company(root, options),
        "invoice_date": parse_date(_required(root, "IssueDate"), "IssueDate").isoformat(),
        "due_date": x.first_text(root, "DueDate", "PaymentMeans/PaymentDueDate"),
        "currency": currency,
        "net_amount": net,
        "tax_amount": tax,
        "gross_amount": gross,
        "po_number": x.text(root, "OrderReference/ID"),
        "lines": _lines(root, Decimal(net), credit_note) or None,
        **_payee_account(root),
    }


def _positive(amount: str) -> str:
    return str(abs(Decimal(amount)))


def _required(root: etree._Element, path: str) -> str:
    value = x.text(root, path)
    if value is None:
        raise FieldError(path, "missing")
    return value


def _party(party: etree._Element | None, mapping: Any, where: str) -> str:
    ids = [value for path in PARTY_IDS if (value := x.text(party, path))]
    for value in ids:
        if value in mapping:
            return str(mapping[value])
    if not ids:
        raise FieldError(f"{where}/Party", "no party identification, endpoint id or company id")
    return ids[0]


def _company(root: etree._Element, options: IngestOptions) -> str:
    buyer = x.find(root, "AccountingCustomerParty/Party")
    ids = [value for path in PARTY_IDS if (value := x.text(buyer, path))]
    for value in ids:
        if value in options.companies:
            return str(options.companies[value])
    if options.default_company_code:
        return options.default_company_code
    if not ids:
        raise FieldError("AccountingCustomerParty/Party", "no buyer id and no default company code")
    return ids[0]


def _tax(root: etree._Element, currency: str) -> str:
    # A second TaxTotal may restate the VAT in the accounting currency (BT-111); ours is BT-110.
    for total in x.findall(root, "TaxTotal"):
        amount = x.find(total, "TaxAmount")
        if amount is not None and amount.get("currencyID", currency) == currency:
            return money(amount.text, currency, "TaxTotal/TaxAmount")
    raise FieldError("TaxTotal/TaxAmount", f"no tax total in the document currency {currency}")


def _payee_account(root: etree._Element) -> dict[str, Any]:
    """The account the supplier asks to be paid to (BT-84), kept even when it fails its check, and flagged."""
    raw = x.text(root, "PaymentMeans/PayeeFinancialAccount/ID")
    if raw is None:
        return {}
    bank = x.text(root, "PaymentMeans/PayeeFinancialAccount/FinancialInstitutionBranch/ID")
    ref, problem = read_account(raw, bank if not looks_like_iban(raw) else None)
    fields: dict[str, Any] = {"payee_account": ref.model_dump(mode="json", exclude_none=True)}
    if problem:
        fields["data_quality"] = [{"field": "PaymentMeans/PayeeFinancialAccount/ID", "reason": problem}]
    return fields


def _lines(root: etree._Element, net: Decimal, credit_note: bool) -> list[dict[str, Any]]:
    tag, quantity_tag = ("CreditNoteLine", "CreditedQuantity") if credit_note else ("InvoiceLine", "InvoicedQuantity")
    lines: list[dict[str, Any]] = []
    for number, line in enumerate(x.findall(root, tag), 1):
        where = f"{tag}[{number}]"
        quantity = Decimal(amount_text(x.text(line, quantity_tag), f"{where}/{quantity_tag}"))
        amount = Decimal(amount_text(x.text(line, "LineExtensionAmount"), f"{where}/LineExtensionAmount"))
        if quantity <= 0 or amount < 0:
            return []  # a discount or return line: totals are authoritative, lines are dropped
        raw_id = x.text(line, "ID") or ""
        po_line = x.text(line, "OrderLineReference/LineID")
        lines.append(
            {
                "line_no": int(raw_id) if raw_id.isdigit() and int(raw_id) > 0 else number,
                "description": x.text(line, "Item/Name") or "",
                "quantity": str(quantity),
                "unit_price": amount_text(x.text(line, "Price/PriceAmount"), f"{where}/Price/PriceAmount"),
                "net_amount": str(amount),
                "tax_rate": x.text(line, "Item/ClassifiedTaxCategory/Percent") or "0",
                "po_line_no": int(po_line) if po_line and po_line.isdigit() else None,
            }
        )
    if sum((Decimal(line["net_amount"]) for line in lines), Decimal(0)) != net:
        return []
    return [{key: value for key, value in line.items() if value is not None} for line in lines]
