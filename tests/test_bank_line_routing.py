"""Bank lines that pay no supplier invoice are routed by their bank codes to the books they belong in, not
to treasury's unmatched queue; lines that may pay an invoice, or that a supplier's refund may explain, stay
in review. Every routed line and every match carries the version of the policy that decided it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from factories import HOUSE_IBAN, VENDOR_IBAN, event, invoice, posted, settlement, vendor
from reconstream.matchers.bank_codes import from_config
from reconstream.models.events import Event
from reconstream.streams import Engine, Output, Settings
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState


def line(entry_id: str, amount: str, credit: bool = False, **fields: Any) -> Event:
    payload: dict[str, Any] = {
        "entry_id": entry_id,
        "account": HOUSE_IBAN,
        "amount": amount,
        "currency": "EUR",
        "credit_debit": "CRDT" if credit else "DBIT",
        "booking_date": "2026-11-05",
        "value_date": "2026-11-05",
        **fields,
    }
    return event("settlement.booked", "2026-11-05T18:00:00Z", payload, schema_version=2)


def run(events: Iterable[Event], settings: Settings | None = None) -> dict[str, list[Any]]:
    engine = Engine(EngineState(MemoryStore()), settings)
    outputs: list[Output] = []
    for item in events:
        outputs += engine.process(item, source="test")
    by_stream: dict[str, list[Any]] = {}
    for output in outputs:
        by_stream.setdefault(output.stream, []).append(output.record)
    return by_stream


def unmatched(outputs: dict[str, list[Any]]) -> list[str]:
    return [e.refs[0] for e in outputs.get("exceptions", []) if e.category.value == "unmatched_settlement"]


def test_salary_tax_fee_and_customer_receipt_are_routed_and_a_plain_transfer_stays_in_review() -> None:
    outputs = run(
        [
            line(
                "SAL",
                "52000.00",
                bank_transaction_code={"domain": "PMNT", "family": "ICDT", "subfamily": "ESCT"},
                purpose="SALA",
                remittance_info="LOHN/GEHALT 11/2026",
            ),
            line("TAX", "18250.00", purpose="TAXS", counterparty_name="FINANZAMT NORDHAFEN"),
            line("FEE", "23.50", bank_transaction_code={"domain": "ACMT", "family": "MDOP", "subfamily": "CHRG"}),
            line("GVC", "4.10", bank_transaction_code={"proprietary": "NCHG+808+9310", "issuer": "DK"}),
            line(
                "AR",
                "1190.00",
                credit=True,
                bank_transaction_code={"domain": "PMNT", "family": "RCDT", "subfamily": "ESCT"},
                remittance_info="D1000-42",
            ),
            line(
                "OUT",
                "777.00",
                bank_transaction_code={"domain": "PMNT", "family": "ICDT", "subfamily": "ESCT"},
                remittance_info="RE 99999",
            ),
            line("BARE", "12.00"),
        ]
    )
    routed = {r.settlement_entry_id: (r.line_class, r.books_to.value) for r in outputs["classified_lines"]}
    assert routed == {
        "SAL": ("salary", "general_ledger"),
        "TAX": ("tax", "general_ledger"),
        "FEE": ("bank_fee", "general_ledger"),
        "GVC": ("bank_fee", "general_ledger"),
        "AR": ("customer_receipt", "accounts_receivable"),
    }
    assert sorted(unmatched(outputs)) == ["BARE", "OUT"]  # a supplier payment that found no invoice; no code
    salary = next(r for r in outputs["classified_lines"] if r.settlement_entry_id == "SAL")
    assert "purpose code SALA" in salary.evidence and salary.policy_version.startswith("policy-")


def test_a_payment_that_pays_an_invoice_is_matched_whatever_its_code() -> None:
    outputs = run(
        [
            vendor(),
            invoice(net="100.00"),
            posted("2026-11-03T06:00:00Z"),
            settlement("2026-11-05T08:00:00Z", amount="119.00", e2e=None, remittance="INV-1"),
        ]
    )
    assert "classified_lines" not in outputs and [m.invoice_ids for m in outputs["matches"]] == [("I1",)]
    assert outputs["matches"][0].policy_version == Settings().policy_version


def test_a_configured_code_speaks_before_the_published_defaults_and_changes_the_policy_version() -> None:
    own = Settings(code_rules=(from_config(None, None, None, "NMSC+835", None, "intercompany"),))
    outputs = run([line("POOL", "250000.00", bank_transaction_code={"proprietary": "NMSC+835"})], own)
    (routed,) = outputs["classified_lines"]
    assert (routed.line_class, routed.books_to.value) == ("intercompany", "treasury")
    assert routed.policy_version == own.policy_version != Settings().policy_version
    assert unmatched(run([line("POOL", "250000.00", bank_transaction_code={"proprietary": "NMSC+835"})])) == ["POOL"]


def test_a_credit_a_supplier_refund_may_explain_stays_in_review() -> None:
    # Two open credit notes of the supplier for the amount: a tie, so the line goes to review with both,
    # although its code says "a transfer received" (which, alone, would be a customer receipt).
    notes = [
        invoice(invoice_id=f"C{n}", number=f"CN-7{n}", net="-100.00", tax="-19.00", document_type="credit_note")
        for n in (1, 2)
    ]
    refund = line(
        "REFUND",
        "119.00",
        credit=True,
        counterparty_account=VENDOR_IBAN,
        bank_transaction_code={"domain": "PMNT", "family": "RCDT", "subfamily": "ESCT"},
    )
    outputs = run(
        [vendor(), *notes, posted("2026-11-03T06:00:00Z", "C1"), posted("2026-11-03T06:00:00Z", "C2"), refund]
    )
    assert "classified_lines" not in outputs and unmatched(outputs) == ["REFUND"]
    (review,) = [e for e in outputs["exceptions"] if e.category.value == "unmatched_settlement"]
    assert {"C1", "C2"} <= set(review.refs) and review.policy_version == Settings().policy_version


def test_a_line_reported_again_in_a_later_statement_changes_nothing() -> None:
    # The intraday camt.054 and the evening camt.053 report the same bank line under other event ids.
    paying = settlement("2026-11-05T08:00:00Z", entry_id="S9", amount="119.00", e2e=None, remittance="INV-1")
    again = settlement("2026-11-05T21:00:00Z", entry_id="S9", amount="119.00", e2e=None, remittance="INV-1")
    fee = [
        line("FEE", "23.50", bank_transaction_code={"domain": "ACMT", "family": "MDOP", "subfamily": "CHRG"})
        for _ in range(2)
    ]
    outputs = run([vendor(), invoice(net="100.00"), posted("2026-11-03T06:00:00Z"), paying, again, *fee])
    assert [m.settlement_entry_id for m in outputs["matches"]] == ["S9"]
    assert [c.settlement_entry_id for c in outputs["classified_lines"]] == ["FEE"]
    assert [u.status.value for u in outputs["status_updates"] if u.status.value == "paid"] == ["paid"]
