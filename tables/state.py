"""All of the engine's state, as named tables over one store."""

from __future__ import annotations

from reconstream.models.exceptions import ReconException
from reconstream.models.master_data import PurchaseOrder, Vendor
from reconstream.models.payments import Settlement

from .index import BUCKETS, SMALL_BUCKETS
from .records import (
    AccountState,
    InstructionState,
    InvoiceState,
    ReceivedGoods,
    always,
    paid,
    settled_or_rejected,
)
from .seen import SeenIds
from .store import JSON, DocumentCodec, ModelCodec, Store
from .timers import TimerQueue


class EngineState:
    """Cold tables (master data), hot tables (invoice and payment lifecycle), indexes, timers."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.vendors = store.table("vendors", ModelCodec(Vendor))
        # Read when an invoice against the order comes (and a receipt, or an exception naming the order):
        # held encoded in memory too, as objects they cost four to seven times as much (tables/memory.py).
        self.purchase_orders = store.table("purchase_orders", ModelCodec(PurchaseOrder), held_encoded=always)
        self.received_goods = store.table("received_goods", ModelCodec(ReceivedGoods), held_encoded=always)
        # Closed items (paid invoices, settled or rejected instructions) are most of a month-end's state.
        # Their captured documents seldom change while their stages do: RocksDB writes each apart (DocumentCodec).
        self.invoices = store.table("invoices", DocumentCodec(InvoiceState, "invoice"), held_encoded=paid)
        self.instructions = store.table(
            "instructions", DocumentCodec(InstructionState, "instruction"), held_encoded=settled_or_rejected
        )
        self.exceptions = store.table("exceptions", ModelCodec(ReconException))
        # Bank accounts by "<account key>|<currency>": the bank's balances and the entries booked since.
        self.accounts = store.table("accounts", ModelCodec(AccountState))
        # Indexes: blocking keys for duplicate invoices; what a bank line may pay (open instructions, invoices).
        self.invoice_index = store.table("invoice_index", SMALL_BUCKETS, listed=False)  # ten keys an invoice
        self.payment_index = store.table("payment_index", BUCKETS)
        # Bank lines that name an invoice captured but not yet posted: held until it is (or a window ends).
        self.held_lines = store.table("held_lines", ModelCodec(Settlement))
        self.awaited_postings = store.table("awaited_postings", JSON)  # invoice id -> entry ids held for it
        # Lines the rules left to treasury's review, kept until a person matches one by hand (or a window ends).
        self.unmatched_lines = store.table("unmatched_lines", ModelCodec(Settlement))
        # What each applied bank line paid, and where a return of it is found (streams/returns.py).
        # Read only when a return comes back: held encoded in memory, a fifth of what it was as objects.
        self.applied_payments = store.table("applied_payments", JSON, held_encoded=always)
        self.returns_index = store.table("returns_index", JSON, listed=False)
        self.batches = store.table("batches", JSON)
        self.meta = store.table("meta", JSON)
        # Idempotency: event ids and bank entry ids already applied, each for a window of event time (the
        # engine sets the windows from its settings; without them nothing is forgotten).
        self.seen_events = SeenIds(store, "seen_events", self.meta, None)
        self.seen_entries = SeenIds(store, "seen_entries", self.meta, None)
        self.timers = TimerQueue(store)

    def begin(self) -> None:
        """Open a unit: what follows is kept by `end` or undone by `rollback` (tables/journal.py)."""
        self.store.journal.begin()
        self.timers.begin()

    def end(self) -> None:
        self.store.journal.end()
        self.timers.end()

    def rollback(self) -> None:
        self.store.journal.rollback()
        self.timers.rollback()
        self.seen_events.reload()
        self.seen_entries.reload()
