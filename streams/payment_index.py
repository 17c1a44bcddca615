"""What a bank line may pay: open instructions and open invoices, under the payment matcher's keys.

A bank line looks up its own keys (end-to-end id, RF reference, invoice numbers in its text, counterparty
account) and gets a handful of candidates, whatever the size of the ledger. An instruction is open from
release until it is settled or rejected; an invoice from posting until it is paid in full. Entries that
outlive their document (a vendor's accounts changed meanwhile) are dropped at lookup.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconstream.matchers import payment_matching as pm
from reconstream.matchers.invoice_numbers import number_forms
from reconstream.matchers.remittance import number_mentions
from reconstream.models.invoices import Invoice
from reconstream.models.master_data import Vendor
from reconstream.tables.index import enter, withdraw
from reconstream.tables.records import InstructionState, InvoiceStage, InvoiceState, settled_or_rejected

from .context import Context

_INSTRUCTION = "i:"
_INVOICE = "v:"
_UNPOSTED = "u:"  # captured, not posted yet: a line may name it before the ERP has booked it
_KIND = 2  # every ref starts with one of these kinds, then the document's id


def open_invoice(state: InvoiceState, ctx: Context) -> pm.OpenInvoice:
    return ctx.open_items.of(state, ctx.state.vendors.get(state.invoice.vendor_id))


def add_instruction(state: InstructionState, ctx: Context) -> None:
    keys = pm.instruction_keys(ctx.open_items.instruction(state))
    enter(ctx.state.payment_index, keys, _INSTRUCTION + state.instruction.end_to_end_id)


def remove_instruction(state: InstructionState, ctx: Context) -> None:
    keys = pm.instruction_keys(ctx.open_items.instruction(state))
    withdraw(ctx.state.payment_index, keys, _INSTRUCTION + state.instruction.end_to_end_id)
    ctx.open_items.forget_instruction(state.instruction.end_to_end_id)


def add_invoice(state: InvoiceState, ctx: Context) -> None:
    enter(ctx.state.payment_index, pm.invoice_keys(open_invoice(state, ctx)), _INVOICE + state.invoice.invoice_id)


def remove_invoice(state: InvoiceState, ctx: Context) -> None:
    withdraw(ctx.state.payment_index, pm.invoice_keys(open_invoice(state, ctx)), _INVOICE + state.invoice.invoice_id)
    ctx.open_items.forget(state.invoice.invoice_id)


def _number_keys(invoice: Invoice) -> list[str]:
    return [f"num:{form}" for form in sorted(number_forms(invoice.supplier_invoice_number))]


def add_unposted(invoice: Invoice, ctx: Context) -> None:
    enter(ctx.state.payment_index, _number_keys(invoice), _UNPOSTED + invoice.invoice_id)


def remove_unposted(invoice: Invoice, ctx: Context) -> None:
    withdraw(ctx.state.payment_index, _number_keys(invoice), _UNPOSTED + invoice.invoice_id)


def unposted_named(line: pm.BankLine, ctx: Context) -> list[str]:
    """Invoices the line names by number that are captured but not posted: what it may be waiting for."""
    mentions = number_mentions(line.remittance_info) if line.remittance_info else frozenset()
    found = []
    for key in (f"num:{mention}" for mention in sorted(mentions)):
        for ref in ctx.state.payment_index.get(key) or ():
            state = ctx.state.invoices.get(ref[len(_UNPOSTED) :]) if ref.startswith(_UNPOSTED) else None
            if state is not None and state.stage in _AWAITING_POSTING:
                found.append(state.invoice.invoice_id)
    return sorted(set(found))


_AWAITING_POSTING = frozenset({InvoiceStage.VALIDATED, InvoiceStage.APPROVED, InvoiceStage.ON_HOLD})


# A key filed under more documents than this (a year, "RE 2026/42" printed by many suppliers, an amount
# many invoices share) names none of them by itself: only those of the line's counterparty are taken from
# it. Without it the candidates of a line grow with the ledger, and none of those dropped could be
# auto-matched: a number names an invoice only together with its payee (an unknown payee costs a named
# invoice 15 points, below the threshold), and a cheque only when its amount is unique.
COMMON_KEY = 8


def candidates(line: pm.BankLine, ctx: Context) -> tuple[list[pm.OpenInstruction], list[pm.OpenInvoice]]:
    buckets = {key: ctx.state.payment_index.get(key) or () for key in pm.line_keys(line)}
    party_keys = pm.party_keys(line)  # among the line's keys: their buckets are read once, above
    party: set[str] | None = None
    refs: dict[str, None] = {}
    for key, bucket in buckets.items():
        if len(bucket) > COMMON_KEY and key not in party_keys:
            if party is None:
                party = {ref for party_key in party_keys for ref in buckets.get(party_key, ())}
            bucket = [ref for ref in bucket if ref in party]
        refs.update(dict.fromkeys(bucket))
    return _open_instructions(refs, ctx), _open_invoices(refs, ctx)


# A large payee's bank line reads hundreds of refs (issue #12): each kind is read in one pass, the
# lookups bound once, a vendor read once for all of its invoices.
def _open_instructions(refs: Iterable[str], ctx: Context) -> list[pm.OpenInstruction]:
    table, build, found = ctx.state.instructions, ctx.open_items.instruction, []
    for ref in refs:
        if ref[:_KIND] == _INSTRUCTION:
            state = table.get(ref[_KIND:])
            if state is not None and not settled_or_rejected(state):
                found.append(build(state))
    return found


def _open_invoices(refs: Iterable[str], ctx: Context) -> list[pm.OpenInvoice]:
    table, vendors, build, found = ctx.state.invoices, ctx.state.vendors, ctx.open_items.of, []
    vendor_of: dict[str, Vendor | None] = {}
    for ref in refs:
        if ref[:_KIND] == _INVOICE:
            state = table.get(ref[_KIND:])
            if state is not None and state.stage is InvoiceStage.BOOKED:
                vendor_id = state.invoice.vendor_id
                if vendor_id not in vendor_of:
                    vendor_of[vendor_id] = vendors.get(vendor_id)
                found.append(build(state, vendor_of[vendor_id]))
    return found
