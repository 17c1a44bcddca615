"""`amount_counterparty`: the counterparty's open invoices, one to five of them, whose open amounts add up to
the line exactly, after an early-payment discount, or short within tolerance (bounded subset-sum search).

The amount is the only evidence besides the payee, so: an unknown account weighs double, two
combinations that fit equally well are a tie for review, a search that ran out of budget cannot prove
uniqueness, and a reference the payer wrote outranks any set of invoices the amount happens to fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from reconstream.models.outputs import MatchMethod

from ..party_names import name_key
from ..payment_model import BankLine, MatchPolicy, OpenInvoice, PaymentMatch, Settles
from ..settling import HUNDRED, allocate, capped, cents, counterparty_evidence, settles
from .base import Lookup, PaymentRule

# The rules whose candidates are invoices the payer named.
NAMING_RULES = frozenset({MatchMethod.CREDITOR_REFERENCE, MatchMethod.INVOICE_NUMBER_IN_TEXT})


@dataclass(slots=True)
class _Search:
    items: list[tuple[int, OpenInvoice]]
    low: int
    high: int
    max_size: int
    budget: int
    found: list[tuple[int, ...]] = field(default_factory=list)
    exhausted: bool = False


def subsets_near(
    amount: Decimal, invoices: Sequence[OpenInvoice], booked: date, policy: MatchPolicy
) -> tuple[list[tuple[OpenInvoice, ...]], bool]:
    """Sets of 1..max invoices whose open total could explain `amount` (in full, discounted or short).

    Depth-first over amounts in descending order with sum bounds; at most `subset_budget` nodes. The
    flag says the budget ran out, so uniqueness is unproven.
    """
    found, exhausted = settled_subsets(amount, invoices, booked, policy)
    return [chosen for chosen, _ in found], exhausted


def settled_subsets(
    amount: Decimal, invoices: Sequence[OpenInvoice], booked: date, policy: MatchPolicy
) -> tuple[list[tuple[tuple[OpenInvoice, ...], tuple[Settles, str]]], bool]:
    """The sets of `subsets_near`, each with how the amount settles it and why."""
    currency = invoices[0].currency if invoices else "EUR"
    paid = cents(amount, currency)
    top_discount = max((*policy.discount_percents, *(i.discount_percent or Decimal(0) for i in invoices)))
    # The open total lies between the amount (in full) and the amount grossed up by the largest discount.
    high = max(
        int(Decimal(paid) * HUNDRED / (HUNDRED - top_discount)) + policy.max_invoices_per_payment,
        paid + cents(policy.short_tolerance_abs, currency),
    )
    items = sorted(
        ((cents(i.open_amount, currency), i) for i in invoices if i.open_amount > 0),
        key=lambda item: (-item[0], item[1].invoice_id),
    )
    search = _Search(
        [item for item in items if item[0] <= high], paid, high, policy.max_invoices_per_payment, policy.subset_budget
    )
    _descend(search, 0, 0, ())
    sets = [tuple(search.items[i][1] for i in chosen) for chosen in search.found]
    return [(s, how) for s in sets if (how := settles(amount, s, booked, policy)) is not None], search.exhausted


def _descend(search: _Search, start: int, total: int, chosen: tuple[int, ...]) -> None:
    if search.low <= total <= search.high and chosen:
        search.found.append(chosen)
    if len(chosen) == search.max_size:
        return
    room = search.max_size - len(chosen)
    for index in range(start, len(search.items)):
        search.budget -= 1
        if search.budget < 0:
            search.exhausted = True
            return
        value = search.items[index][0]
        if total + value > search.high:
            continue
        # Descending amounts: if the next `room` items cannot reach the low bound, none after can.
        if total + sum(v for v, _ in search.items[index : index + room]) < search.low:
            return
        _descend(search, index + 1, total + value, (*chosen, index))


_SUBSET_CONFIDENCE = {
    (Settles.IN_FULL, True): 95,
    (Settles.IN_FULL, False): 93,
    (Settles.WITH_DISCOUNT, True): 93,
    (Settles.WITH_DISCOUNT, False): 91,
    (Settles.SHORT, True): 91,
    (Settles.SHORT, False): 88,
}
CEILING = max(_SUBSET_CONFIDENCE.values())
_RANK = {Settles.IN_FULL: 0, Settles.WITH_DISCOUNT: 1, Settles.SHORT: 2}


def by_amount_counterparty(line: BankLine, invoices: Sequence[OpenInvoice], policy: MatchPolicy) -> list[PaymentMatch]:
    """Every combination of the counterparty's open invoices that the amount explains, each scored."""
    known: list[tuple[OpenInvoice, int, str]] = []
    for invoice in invoices:
        if invoice.credit_note or invoice.currency != line.currency or invoice.invoice_date > line.booking_date:
            continue  # an amount alone never nets a credit note: only a payer naming it does
        penalty, payee = counterparty_evidence(line, invoice, policy)
        if payee is not None:
            known.append((invoice, penalty, payee))
    if not known:
        return []
    # The pool: the invoices due nearest the booking date, as a payer pays what falls due.
    known.sort(key=lambda k: (abs(((k[0].due_date or k[0].invoice_date) - line.booking_date).days), k[0].invoice_id))
    pool = known[: policy.subset_pool]
    about = {invoice.invoice_id: (penalty, evidence) for invoice, penalty, evidence in pool}
    sets, exhausted = settled_subsets(line.amount, [invoice for invoice, _, _ in pool], line.booking_date, policy)
    matches: list[PaymentMatch] = []
    for chosen, (how, why) in sets:
        # The amount is the only evidence here besides the payee, so an unknown account weighs double.
        confidence = _SUBSET_CONFIDENCE[(how, len(chosen) == 1)] - 2 * max(about[i.invoice_id][0] for i in chosen)
        numbers = ", ".join(i.number for i in chosen)
        evidence = (
            why,
            f"{len(chosen)} open invoice(s): {numbers}",
            *sorted({about[i.invoice_id][1] for i in chosen}),
        )
        total = sum((i.open_amount for i in chosen), Decimal(0))
        ids = tuple(sorted(i.invoice_id for i in chosen))
        allocations = allocate(line.amount, chosen, how, policy.short_write_off)
        matches.append(
            PaymentMatch(
                MatchMethod.AMOUNT_COUNTERPARTY, confidence, evidence, ids, how, allocations, None, line.amount - total
            )
        )
    if exhausted:
        matches = [capped(m, 85, "search budget ran out: other combinations unchecked") for m in matches]
    # Several combinations explaining the amount equally well: the amount alone cannot choose.
    best = min((_RANK[m.settles] for m in matches), default=None)
    rivals = [m for m in matches if _RANK[m.settles] == best]
    if len(rivals) > 1:
        matches = [capped(m, 80, f"{len(rivals)} combinations of open invoices fit") for m in matches]
    return matches


class AmountCounterparty(PaymentRule):
    name = MatchMethod.AMOUNT_COUNTERPARTY

    def line_keys(self, line: BankLine) -> list[str]:
        keys = [f"acct:{line.counterparty_account}"] if line.counterparty_account else []
        return keys + ([f"name:{name_key(line.counterparty_name)}"] if line.counterparty_name else [])

    def invoice_keys(self, invoice: OpenInvoice) -> list[str]:
        keys = [f"acct:{account}" for account in invoice.accounts]
        return keys + ([f"name:{name_key(invoice.vendor_name)}"] if invoice.vendor_name else [])

    def candidates(self, lookup: Lookup, earlier: Sequence[PaymentMatch]) -> list[PaymentMatch]:
        # The costly rule: it stands down when a candidate already scores above anything it can score, since
        # it could then neither win nor tie (the decision is the same either way).
        if any(c.confidence > CEILING for c in earlier):
            return []
        named = {frozenset(c.invoice_ids) for c in earlier if c.rule in NAMING_RULES}
        found = []
        for match in by_amount_counterparty(lookup.line, lookup.invoices, lookup.policy):
            # A reference the payer wrote outranks any set of invoices the amount happens to fit that leaves
            # the named ones out; a set that holds them (a list the payer shortened) may still win.
            if named and not any(group <= frozenset(match.invoice_ids) for group in named):
                match = capped(match, 85, "the payer named other invoices")
            found.append(match)
        return found
