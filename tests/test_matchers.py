"""Each matching rule on its own: positive cases and the look-alikes that must not fire."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from factories import HOUSE_IBAN, OTHER_IBAN, VENDOR_IBAN, invoice, purchase_order, record_of, vendor
from reconstream.matchers import duplicates, payments, three_way, vendors
from reconstream.models.accounts import iban_account
from reconstream.models.exceptions import Category
from reconstream.models.invoices import Invoice
from reconstream.models.master_data import PurchaseOrder, Vendor
from reconstream.models.payments import PaymentInstruction, TransactionStatus
from reconstream.tables.records import InstructionState, InvoiceStage, InvoiceState, ReceivedGoods

T0 = datetime(2026, 11, 3, tzinfo=UTC)


def _invoice(**fields: Any) -> Invoice:
    """The invoice a factory's capture event carries."""
    return record_of(Invoice, invoice(**fields).payload)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("INV-0042", "inv 42"),
        ("INV-2026-0042", "inv/2026/42"),
        ("A-1", "a 0001"),
        (" 12345 ", "12345"),
    ],
)
def test_normalised_numbers_agree(left: str, right: str) -> None:
    assert duplicates.normalize_invoice_number(left) == duplicates.normalize_invoice_number(right)


def test_digit_groups_never_merge() -> None:
    assert duplicates.normalize_invoice_number("2026-0042") != duplicates.normalize_invoice_number("20260042")


def test_exact_duplicate_found_with_reasons() -> None:
    first = _invoice(invoice_id="I1", number="INV-0042")
    again = _invoice(invoice_id="I2", number="inv 42")
    finding = duplicates.find_duplicate(again, [first])
    assert finding is not None and finding.category is Category.DUPLICATE_INVOICE
    assert finding.refs == ("I2", "I1")
    assert "once normalised" in finding.reason


@pytest.mark.parametrize(
    "change",
    [
        {"net": "100.01", "tax": "19.00"},  # another amount: instalment or a different delivery
        {"invoice_date": "2026-11-04"},  # monthly rent: same amount, another date
        {"document_type": "credit_note"},
    ],
)
def test_look_alikes_are_not_exact_duplicates(change: dict[str, str]) -> None:
    first = _invoice(invoice_id="I1", number="INV-0042")
    again = _invoice(invoice_id="I2", number="INV-0042", **change)
    assert duplicates.find_duplicate(again, [first]) is None


def test_same_invoice_id_is_not_its_own_duplicate() -> None:
    first = _invoice(invoice_id="I1")
    assert duplicates.find_duplicate(first, [first]) is None


def _received(qty: str) -> ReceivedGoods:
    return ReceivedGoods(po_number="PO-1", quantities={1: Decimal(qty)}, gr_numbers=("GR-1",))


def test_three_way_match_within_and_beyond_tolerance() -> None:
    po = record_of(PurchaseOrder, purchase_order(qty="10", price="10.00").payload)
    tolerance = three_way.AmountTolerance()
    assert three_way.three_way_match(_invoice(net="100.00", po="PO-1"), po, _received("10"), tolerance) is None
    assert three_way.three_way_match(_invoice(net="100.90", po="PO-1"), po, _received("10"), tolerance) is None
    finding = three_way.three_way_match(_invoice(net="110.00", po="PO-1"), po, _received("10"), tolerance)
    assert finding is not None and finding.category is Category.AMOUNT_MISMATCH
    # Billing for goods that never arrived is a mismatch even though the PO covers it.
    short = three_way.three_way_match(_invoice(net="100.00", po="PO-1"), po, _received("8"), tolerance)
    assert short is not None and short.category is Category.AMOUNT_MISMATCH


def test_three_way_missing_po_and_receipt() -> None:
    po = record_of(PurchaseOrder, purchase_order().payload)
    tolerance = three_way.AmountTolerance()
    missing_po = three_way.three_way_match(_invoice(po="PO-9"), None, None, tolerance)
    assert missing_po is not None and missing_po.category is Category.PO_MISSING
    missing_gr = three_way.three_way_match(_invoice(po="PO-1"), po, None, tolerance)
    assert missing_gr is not None and missing_gr.category is Category.GR_MISSING
    assert three_way.three_way_match(_invoice(), None, None, tolerance) is None  # non-PO invoice


def test_vendor_checks() -> None:
    active = record_of(Vendor, vendor().payload)
    blocked = record_of(Vendor, vendor(active=False).payload)
    inv = _invoice()
    assert vendors.check_vendor(inv, active) is None
    assert vendors.check_vendor(inv, None).category is Category.UNKNOWN_VENDOR  # type: ignore[union-attr]
    assert vendors.check_vendor(inv, blocked).category is Category.INACTIVE_VENDOR  # type: ignore[union-attr]


def _instruction(e2e: str = "E1", iban: str = VENDOR_IBAN, amount: str = "119.00") -> PaymentInstruction:
    return PaymentInstruction(
        end_to_end_id=e2e,
        invoice_ids=("I1",),
        vendor_id="V1",
        amount=Decimal(amount),
        currency="EUR",
        creditor_account=iban_account(iban),
    )


def test_payment_to_an_account_not_on_file() -> None:
    active = record_of(Vendor, vendor().payload)
    assert vendors.check_creditor_account(_instruction(), active) is None
    finding = vendors.check_creditor_account(_instruction(iban=OTHER_IBAN), active)
    assert finding is not None and finding.category is Category.VENDOR_BANK_MISMATCH


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        (None, TransactionStatus.ACTC, TransactionStatus.ACTC),
        (TransactionStatus.ACTC, TransactionStatus.ACSP, TransactionStatus.ACSP),
        (TransactionStatus.ACSP, TransactionStatus.ACTC, None),  # late, lower status: no step back
        (TransactionStatus.ACSP, TransactionStatus.RJCT, TransactionStatus.RJCT),
        (TransactionStatus.ACSC, TransactionStatus.RJCT, None),
        (TransactionStatus.RJCT, TransactionStatus.ACSP, None),
        (TransactionStatus.PDNG, TransactionStatus.ACCP, TransactionStatus.ACCP),
    ],
)
def test_ack_status_machine(current, incoming, expected) -> None:  # type: ignore[no-untyped-def]
    assert payments.next_ack_status(current, incoming) == expected


def _state(instruction: PaymentInstruction, **fields) -> InstructionState:  # type: ignore[no-untyped-def]
    return InstructionState(
        instruction=instruction,
        batch_id="B1",
        debtor_account=HOUSE_IBAN,
        requested_execution_date=date(2026, 11, 3),
        sent_at=T0,
        **fields,
    )


def _invoice_state(live: tuple[str, ...]) -> InvoiceState:
    return InvoiceState(invoice=_invoice(), stage=InvoiceStage.BOOKED, captured_at=T0, live_payments=live)


def test_duplicate_payment_rules() -> None:
    second = _instruction("E2")
    finding = payments.duplicate_payment(second, None, {"I1": _invoice_state(("E1",))})
    assert finding is not None and finding.refs == ("E2", "I1", "E1")
    assert payments.duplicate_payment(second, None, {"I1": _invoice_state(())}) is None  # retry after a rejection
    resent = payments.duplicate_payment(_instruction("E1"), _state(_instruction("E1")), {})
    assert resent is not None and resent.category is Category.DUPLICATE_PAYMENT


def test_party_names_compare_past_case_umlauts_legal_forms_and_truncation() -> None:
    from reconstream.matchers.party_names import name_key, normalized, truncation_of

    written = normalized("MUELLER LOGISTIK GMBH + CO. KG")
    assert normalized("Müller Logistik GmbH & Co. KG") == written == "MULLER LOGISTIK"
    assert name_key("Müller Logistik GmbH") != name_key("MÜLLER BAU GMBH")
    assert truncation_of("WESER STAHLHAN", "Weser Stahlhandel GmbH") and not truncation_of("WESER", "Weser Stahlhandel")
