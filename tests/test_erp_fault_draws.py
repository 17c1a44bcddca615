"""The ERP simulators' faults are drawn per request (shells/erp/simulator.py `fault_drawn`): a seed gives each
posting the same faults in whatever order the posting service's workers send them, so the ERP tests and the
demo repeat. Each adapter's retries of one posting must read as one subject, or the attempt count would not
move and every attempt would draw the same fault."""

from __future__ import annotations

import re
from collections import Counter
from typing import cast

import factories
import orjson
import pytest
from reconstream.models.invoices import Invoice
from reconstream.shells.erp.errors import ErpUnavailable
from reconstream.shells.erp.local import start_local
from reconstream.shells.erp.registry import adapter_class
from reconstream.shells.erp.simulator import (
    DROP,
    Faults,
    Reply,
    Request,
    Route,
    Simulator,
    fault_drawn,
    write_subject,
)


class Ledger(Simulator):
    """A simulator with one write route: what the fault layer does, without an ERP's API around it."""

    kind = "ledger"

    def api_routes(self) -> list[Route]:
        return [Route("POST", re.compile(r"/documents"), lambda request, _: Reply.json(201, request.json()), True)]


def _write(reference: str, message_id: str = "", created: str = "", url: str = "") -> Request:
    body = orjson.dumps({"reference": reference, "message_id": message_id, "created": created, "url": url})
    return Request("POST", "/documents", {}, {}, body)


def _outcome(reply: object) -> str:
    return "dropped" if reply is DROP else str(getattr(reply, "status", ""))


def test_a_draw_is_repeatable_and_as_frequent_as_its_rate() -> None:
    subjects = [f"subject-{n}" for n in range(20_000)]
    drawn = [fault_drawn(7, "server_error", subject, 1, 0.08) for subject in subjects]
    assert drawn == [fault_drawn(7, "server_error", subject, 1, 0.08) for subject in subjects]
    assert 0.07 < sum(drawn) / len(drawn) < 0.09
    assert drawn != [fault_drawn(8, "server_error", subject, 1, 0.08) for subject in subjects]  # the seed counts
    assert drawn != [fault_drawn(7, "throttle", subject, 1, 0.08) for subject in subjects]  # each fault its own
    assert drawn != [fault_drawn(7, "server_error", subject, 2, 0.08) for subject in subjects]  # and each attempt
    assert not any(fault_drawn(7, "server_error", subject, 1, 0.0) for subject in subjects[:1000])
    assert all(fault_drawn(7, "server_error", subject, 1, 1.0) for subject in subjects[:1000])


def test_what_an_attempt_or_a_start_makes_anew_does_not_change_the_subject() -> None:
    first = _write(
        "INV-1", "3f2b8c1e-0d4a-4b7e-9a51-6c2f0e8d7b13", "2026-11-27T13:40:01.123Z", "http://127.0.0.1:45491/data"
    )
    again = _write(
        "INV-1", "9c0e7f2a-51b3-4d6c-8e2f-0a1b2c3d4e5f", "2026-11-27T13:40:03.456Z", "http://127.0.0.1:38211/data"
    )
    hex_id = _write(
        "INV-1", "0123456789abcdef0123456789abcdef", "2026-11-27T13:40:01+01:00", "http://localhost:8080/data"
    )
    assert write_subject(first) == write_subject(again) == write_subject(hex_id)
    assert write_subject(_write("INV-2", "3f2b8c1e-0d4a-4b7e-9a51-6c2f0e8d7b13")) != write_subject(_write("INV-1"))


def test_which_request_draws_a_fault_does_not_depend_on_the_order_they_arrive_in() -> None:
    def faults() -> Faults:
        return Faults(throttle_rate=0.2, server_error_rate=0.2, drop_after_commit_rate=0.2, seed=5)

    requests = [_write(f"INV-{n}", f"{n:032x}") for n in range(200)] * 3  # three attempts of each
    in_order, reversed_order = Ledger(faults()), Ledger(faults())
    forward = [(write_subject(r), _outcome(in_order.handle(r))) for r in requests]
    backward = [(write_subject(r), _outcome(reversed_order.handle(r))) for r in reversed(requests)]

    def by_subject(outcomes: list[tuple[str, str]]) -> dict[str, list[str]]:
        attempts: dict[str, list[str]] = {}
        for subject, outcome in outcomes:
            attempts.setdefault(subject, []).append(outcome)
        return attempts

    assert by_subject(forward) == by_subject(backward)
    seen = Counter(outcome for _, outcome in forward)
    assert seen["429"] and seen["500"] and seen["dropped"] and seen["201"]  # every fault drawn somewhere
    assert in_order.stats == reversed_order.stats


def _invoice() -> Invoice:
    line = {"line_no": 1, "description": "Chairs", "quantity": "2", "unit_price": "50.00", "net_amount": "100.00"}
    captured = factories.invoice(invoice_id="ap-draws-1", number="DRAW-1", due_date="2026-12-03", lines=[line])
    return cast(Invoice, captured.payload)


@pytest.mark.parametrize("kind", ["sap", "oracle", "d365", "netsuite", "infor"])
def test_an_adapters_retries_of_one_posting_are_one_subject(kind: str) -> None:
    local = start_local(kind, Faults(server_error_rate=1.0))
    adapter = adapter_class(kind)(local.target(timeout_seconds=5.0))
    try:
        for _ in range(3):
            with pytest.raises(ErpUnavailable):
                adapter.post(_invoice())
        attempts = local.running.simulator.records()["write_attempts"]
    finally:
        adapter.close()
        local.stop()
    assert list(attempts.values()) == [3], attempts
