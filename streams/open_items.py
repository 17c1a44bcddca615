"""Each booked invoice and open instruction as payment matching sees it, built once per version of its records.

A bank line reads every open item of its counterparty: hundreds for a large supplier at month-end.
Building each anew for every line made a line's cost grow with the ledger (issue #12). This is derived
data, never state: an entry counts only while the invoice state and vendor it was built from are the
records in the tables (records are replaced, never changed in place, so identity says so), so a rollback,
a vendor update or a restart simply rebuilds it.
"""

from __future__ import annotations

from typing import Any

from reconstream.matchers.payment_model import OpenInstruction, OpenInvoice
from reconstream.models.master_data import Vendor
from reconstream.tables.records import InstructionState, InvoiceState

# About the open invoices of a month-end; past it the older half goes (a cache, so correctness never depends on it).
CAPACITY = 200_000


class OpenItems:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._built: dict[str, tuple[InvoiceState, Vendor | None, OpenInvoice]] = {}
        self._instructions: dict[str, tuple[InstructionState, OpenInstruction]] = {}
        self._capacity = capacity

    def of(self, state: InvoiceState, vendor: Vendor | None) -> OpenInvoice:
        invoice_id = state.invoice.invoice_id
        built = self._built.get(invoice_id)
        if built is not None and built[0] is state and built[1] is vendor:
            return built[2]
        item = OpenInvoice.of(state, vendor, state.invoice.creditor_reference)
        if built is None:
            _make_room(self._built, self._capacity)
        self._built[invoice_id] = (state, vendor, item)
        return item

    def instruction(self, state: InstructionState) -> OpenInstruction:
        """A large payee's open instructions are read by each of its bank lines, like its invoices."""
        end_to_end_id = state.instruction.end_to_end_id
        built = self._instructions.get(end_to_end_id)
        if built is not None and built[0] is state:
            return built[1]
        item = OpenInstruction.of(state)
        if built is None:
            _make_room(self._instructions, self._capacity)
        self._instructions[end_to_end_id] = (state, item)
        return item

    def forget_instruction(self, end_to_end_id: str) -> None:
        self._instructions.pop(end_to_end_id, None)

    def forget(self, invoice_id: str) -> None:
        """The invoice is no longer open (paid, retired): nothing keeps its records alive here."""
        self._built.pop(invoice_id, None)

    def __len__(self) -> int:
        return len(self._built) + len(self._instructions)


def _make_room(built: dict[str, Any], capacity: int) -> None:
    """For one more entry: when full, the older half goes."""
    if len(built) >= capacity:
        for old in list(built)[: capacity // 2]:
            del built[old]
