"""The payment index hands a bank line a handful of candidates whatever the ledger's size: a number many
suppliers print names only the line's counterparty's invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from factories import event, invoice, posted
from reconstream.matchers import payment_matching as pm
from reconstream.streams import Engine
from reconstream.streams.payment_index import COMMON_KEY, candidates
from reconstream.tables import MemoryStore
from reconstream.tables.state import EngineState
from schwifty import IBAN

SUPPLIERS = COMMON_KEY + 4


def iban(n: int) -> str:
    return str(IBAN.generate("DE", bank_code="37040044", account_code=f"5320{n:05d}"))


def supplier(n: int) -> Any:
    payload = {"vendor_id": f"V{n}", "name": f"Lieferant {n} GmbH", "bank_accounts": [{"iban": iban(n)}]}
    return event("vendor.upserted", "2026-11-01T00:00:00Z", payload)


def ledger() -> Engine:
    """Every supplier has sent its invoice "RE 2026/42": the same number, another amount each."""
    engine = Engine(EngineState(MemoryStore()))
    for n in range(SUPPLIERS):
        for item in (
            supplier(n),
            invoice(invoice_id=f"I{n}", number="RE 2026/42", net=f"{100 + n}.00", vendor_id=f"V{n}"),
            posted("2026-11-03T06:00:00Z", f"I{n}"),
        ):
            engine.process(item, source="test")
    return engine


def line(counterparty: str | None, name: str | None, amount: str, text: str = "RE 2026/42") -> pm.BankLine:
    return pm.BankLine("S1", Decimal(amount), "EUR", date(2026, 11, 5), None, counterparty, name, text)


def test_a_number_many_suppliers_print_brings_only_the_counterpartys_invoices() -> None:
    engine = ledger()
    _, invoices = candidates(line(iban(3), None, "122.00"), engine.ctx)
    assert [i.invoice_id for i in invoices] == ["I3"]
    decision = pm.match_payment(line(iban(3), None, "122.00"), [], invoices)
    assert decision.match is not None and decision.match.invoice_ids == ("I3",)


def test_an_unknown_payee_gets_none_of_them_and_a_rare_number_still_finds_its_invoice() -> None:
    engine = ledger()
    assert candidates(line("DE02120300000000202051", "SOMEONE ELSE", "122.00"), engine.ctx)[1] == []
    engine.process(invoice(invoice_id="U1", number="ZX-99817", vendor_id="V1"), source="test")
    engine.process(posted("2026-11-03T07:00:00Z", "U1"), source="test")
    unknown = line(None, None, "119.00", "ZX-99817")
    assert [i.invoice_id for i in candidates(unknown, engine.ctx)[1]] == ["U1"]
