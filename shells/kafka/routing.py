"""The ledger key of every input event: which company code's books it belongs to.

Invoices, purchase orders and payment batches name their company code. Goods receipts, status changes,
acknowledgments and bank entries name a document (or an account) instead; the router remembers which
company code each document was routed to, as the ingest middleware of a finance landscape does. An
event whose document was never seen keeps a key of its own: the engine dead-letters it as an orphan.
"""

from __future__ import annotations

from typing import Any, Final

from reconstream.models.events import Event

BROADCAST: Final = "*"  # master data every ledger needs


class LedgerRouter:
    def __init__(self, house_accounts: dict[str, str] | None = None) -> None:
        self.purchase_orders: dict[str, str] = {}
        self.invoices: dict[str, str] = {}
        self.batches: dict[str, str] = {}
        # House bank account -> company code; a bank entry may be booked before the account's first payment run.
        self.accounts: dict[str, str] = dict(house_accounts or {})

    def key_for(self, event: Event) -> str:
        payload: Any = event.payload  # the event type says which payload it is
        match event.event_type:
            case "vendor.upserted":
                return BROADCAST
            case "purchase_order.created":
                self.purchase_orders[payload.po_number] = payload.company_code
                return payload.company_code
            case "goods_receipt.posted":
                return self.purchase_orders.get(payload.po_number, f"po:{payload.po_number}")
            case "invoice.captured":
                self.invoices[payload.invoice_id] = payload.company_code
                return payload.company_code
            case "invoice.status_changed":
                return self.invoices.get(payload.invoice_id, f"invoice:{payload.invoice_id}")
            case "payment_batch.released":
                self.batches[payload.batch_id] = payload.company_code
                self.accounts.setdefault(payload.debtor_account.key, payload.company_code)
                return payload.company_code
            case "bank_ack.received":
                return self.batches.get(payload.original_batch_id, f"batch:{payload.original_batch_id}")
            case "settlement.booked" | "balance.reported":
                account = payload.account.key
                return self.accounts.get(account, f"account:{account}")
        raise ValueError(f"no ledger rule for event type {event.event_type!r}")
