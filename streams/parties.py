"""Whose books and which supplier an exception concerns, from what the engine holds about its refs.

Exceptions name documents by id; a finance team filters its queue by company code and vendor. The first
ref the engine knows decides: an invoice, one of our payment instructions, a purchase order, or a bank line
waiting in review (its account's company code, and the name the bank gave for the counterparty).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the context raises exceptions with what this finds: imported for the type only
    from .context import Context


class Parties(NamedTuple):
    company_code: str | None = None
    vendor_id: str | None = None
    vendor_name: str | None = None


def parties_of(refs: tuple[str, ...], ctx: Context) -> Parties:
    state = ctx.state
    for ref in refs:
        invoice = state.invoices.get(ref)
        if invoice is not None:
            return _with_name(invoice.invoice.company_code, invoice.invoice.vendor_id, ctx)
        instruction = state.instructions.get(ref)
        if instruction is not None:
            return _with_name(instruction.company_code or None, instruction.instruction.vendor_id, ctx)
        order = state.purchase_orders.get(ref)
        if order is not None:
            return _with_name(order.company_code, order.vendor_id, ctx)
        line = state.unmatched_lines.get(ref) or state.held_lines.get(ref)
        if line is not None:
            return Parties(_company_of_account(line.account.key, line.currency, ctx), None, line.counterparty_name)
    return Parties()


def _with_name(company_code: str | None, vendor_id: str, ctx: Context) -> Parties:
    vendor = ctx.state.vendors.get(vendor_id)
    return Parties(company_code, vendor_id, vendor.name if vendor is not None else None)


def _company_of_account(account: str, currency: str, ctx: Context) -> str | None:
    configured = ctx.settings.account_companies.get(account)
    if configured is not None:
        return configured
    known = ctx.state.accounts.get(f"{account}|{currency}")  # learnt from the payment runs that debit it
    return known.company_code if known is not None else None
