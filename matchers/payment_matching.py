"""Payment-to-invoice matching: a bank line against open payment instructions and open invoices.

Named rules, each scored 0-100 with its evidence (modelled on Blnk's reconciliation rules):
1. `end_to_end_id`: the bank echoes our EndToEndId.
2. `creditor_reference`: a valid ISO 11649 RF reference of an open invoice (field or text).
3. `invoice_number_in_text`: invoice numbers of open invoices found in the remittance text.
4. `amount_creditor_date`: an instruction to the same creditor account for the same amount, booked
   within a few days of its execution date.
5. `amount_counterparty`: the counterparty's open invoices, one to five of them, whose open amounts add
   up to the line exactly, after an early-payment discount, or short within tolerance (bounded
   subset-sum search).
Every candidate of every rule is scored; the best is auto-matched only above the threshold and only if
no other target scores the same (a tie is a suggestion for the review queue with its candidates, never
a guess). A reference that names an invoice also settles it partly (several payments for one invoice).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from rapidfuzz import fuzz
from reconstream.models.exceptions import Category
from reconstream.models.invoices import DocumentType
from reconstream.models.master_data import Vendor
from reconstream.models.money import minor_units, quantize
from reconstream.models.payments import Settlement
from reconstream.tables.records import InstructionState, InvoiceState

from .findings import Finding, fmt
from .invoice_numbers import number_forms
from .party_names import name_key, normalized, truncation_of
from .remittance import compact_rf, find_rf_references, is_valid_rf, mentions_invoice, number_mentions
from .settlements import open_amount

HUNDRED = Decimal(100)


# -- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BankLine:
    """A settlement or remittance entry, as far as matching needs it."""

    entry_id: str
    amount: Decimal
    currency: str
    booking_date: date
    end_to_end_id: str | None = None
    counterparty_account: str | None = None  # the account's key (models/accounts.py)
    counterparty_name: str | None = None
    remittance_info: str = ""
    creditor_reference: str | None = None
    # What the payer itemised (structured remittance): the amount it remits for each document it names.
    itemised: tuple[tuple[str, Decimal], ...] = ()
    credit: bool = False  # money in: a supplier paying out a credit note
    cheque: bool = False  # a cheque presented: it names nobody, its amount is all there is

    @classmethod
    def of(cls, entry: Settlement) -> BankLine:
        """The line as matching sees it: the principal the payer instructed (`InstdAmt`, in the invoice's
        currency when the payment crossed currencies) where the bank gives it, else the booked amount."""
        amount, currency = entry.amount, entry.currency
        if entry.fx is not None:
            amount, currency = entry.fx.instructed_amount, entry.fx.instructed_currency
        documents = [doc for doc in entry.referred_documents if doc.number]
        # The documents a structured remittance names are read like numbers in the text.
        text = " ".join([entry.remittance_info or "", *(doc.number or "" for doc in documents)]).strip()
        itemised = tuple(
            (doc.number or "", doc.remitted_amount) for doc in documents if doc.remitted_amount is not None
        )
        return cls(
            entry.entry_id,
            amount,
            currency,
            entry.booking_date,
            entry.end_to_end_id,
            entry.counterparty_key,
            entry.counterparty_name,
            text,
            entry.creditor_reference,
            itemised,
            entry.credit_debit == "CRDT",
            _is_cheque(entry),
        )


def _is_cheque(entry: Settlement) -> bool:
    code = entry.bank_transaction_code
    return code is not None and ("CHQ" in (code.family or "") or "CHQ" in (code.subfamily or ""))


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice with money still open on it, with the payee's accounts and its payment terms."""

    invoice_id: str
    number: str
    vendor_id: str
    currency: str
    open_amount: Decimal
    invoice_date: date
    due_date: date | None = None
    vendor_name: str = ""
    accounts: tuple[str, ...] = ()  # keys of the payee's accounts on file
    creditor_reference: str | None = None
    discount_percent: Decimal | None = None  # the invoice's own early-payment terms, e.g. 2 % within 10 days
    discount_days: int | None = None
    credit_note: bool = False  # named in a payment, it is netted: the payer pays the invoices less it
    gross: Decimal = Decimal(0)  # the document's total: its index key stays put while payments come in

    @property
    def signed_open(self) -> Decimal:
        return -self.open_amount if self.credit_note else self.open_amount

    @classmethod
    def of(cls, state: InvoiceState, vendor: Vendor | None, creditor_reference: str | None = None) -> OpenInvoice:
        invoice = state.invoice
        return cls(
            invoice.invoice_id,
            invoice.supplier_invoice_number,
            invoice.vendor_id,
            invoice.currency,
            invoice.gross_amount - state.paid_amount,
            invoice.invoice_date,
            invoice.due_date,
            vendor.name if vendor else "",
            tuple(account.account.key for account in vendor.bank_accounts) if vendor else (),
            creditor_reference,
            credit_note=invoice.document_type is DocumentType.CREDIT_NOTE,
            gross=invoice.gross_amount,
        )


@dataclass(frozen=True, slots=True)
class OpenInstruction:
    end_to_end_id: str
    invoice_ids: tuple[str, ...]
    vendor_id: str
    creditor_account: str  # its key
    amount: Decimal  # still open: instructed less already settled
    currency: str
    requested_execution_date: date

    @classmethod
    def of(cls, state: InstructionState) -> OpenInstruction:
        instruction = state.instruction
        return cls(
            instruction.end_to_end_id,
            instruction.invoice_ids,
            instruction.vendor_id,
            instruction.creditor_account.key,
            open_amount(state),
            instruction.currency,
            state.requested_execution_date,
        )


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Thresholds and tolerances, each in one unit and explicit."""

    auto_match_threshold: int = 90
    short_tolerance_abs: Decimal = Decimal("25.00")  # document currency: the payer may pay this much less ...
    short_tolerance_rel: Decimal = Decimal("0.01")  # ... but never more than this share of what is open
    discount_percents: tuple[Decimal, ...] = (Decimal(2), Decimal(3))  # default skonto when terms are unknown
    discount_days: int = 14  # days after the invoice date a default discount may be taken
    discount_grace_days: int = 3  # bank days between the payer's transfer and our booking
    instruction_date_window_days: int = 3
    max_invoices_per_payment: int = 5
    subset_pool: int = 30  # open invoices of one counterparty the search looks at, nearest due date first
    subset_budget: int = 20_000  # search nodes; beyond it uniqueness is unproven and nothing is auto-matched
    name_similarity: int = 90  # rapidfuzz token_set_ratio for a counterparty known by name only
    over_tolerance_abs: Decimal = Decimal("50.00")  # a named payment may exceed what is open by a bank fee


DEFAULT_POLICY = MatchPolicy()


# -- outputs ---------------------------------------------------------------------------------------
class Settles(StrEnum):
    """How the line's amount relates to what it pays."""

    IN_FULL = "in_full"
    WITH_DISCOUNT = "with_discount"
    SHORT = "short"
    PARTLY = "partly"
    OVER = "over"


@dataclass(frozen=True, slots=True)
class Allocation:
    invoice_id: str
    amount: Decimal  # applied to the invoice's open amount (a discount or short amount closes it too)
    closes: bool


@dataclass(frozen=True, slots=True)
class PaymentMatch:
    rule: str
    confidence: int
    evidence: tuple[str, ...]
    invoice_ids: tuple[str, ...]
    settles: Settles
    allocations: tuple[Allocation, ...] = ()
    end_to_end_id: str | None = None
    difference: Decimal = Decimal(0)  # line amount less the open amount it settles

    @property
    def target(self) -> tuple[str, ...]:
        return self.invoice_ids or ((self.end_to_end_id,) if self.end_to_end_id else ())


class Outcome(StrEnum):
    AUTO_MATCHED = "auto_matched"
    SUGGESTED = "suggested"  # review queue, with the candidates
    UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class PaymentDecision:
    entry_id: str
    outcome: Outcome
    match: PaymentMatch | None = None
    candidates: tuple[PaymentMatch, ...] = ()
    reason: str = ""

    def finding(self, line: BankLine) -> Finding | None:
        """An unmatched or only suggested line goes to treasury with its candidates."""
        if self.outcome is Outcome.AUTO_MATCHED:
            return None
        refs = (line.entry_id, *(c for m in self.candidates[:5] for c in m.target))
        listed = "; ".join(f"{'+'.join(m.target)} ({m.rule}, {m.confidence})" for m in self.candidates[:5])
        reason = f"{fmt(line.amount, line.currency)} booked {line.booking_date}: {self.reason}"
        return Finding(
            Category.UNMATCHED_SETTLEMENT,
            tuple(dict.fromkeys(refs)),
            reason + (f"; candidates: {listed}" if listed else ""),
            line.amount,
            line.currency,
        )


# -- amounts ---------------------------------------------------------------------------------------
def _cents(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(minor_units(currency)))


def short_tolerance(open_amount: Decimal, policy: MatchPolicy) -> Decimal:
    return min(policy.short_tolerance_abs, policy.short_tolerance_rel * open_amount)


def discount_percents(invoice: OpenInvoice, booked: date, policy: MatchPolicy) -> tuple[Decimal, ...]:
    """The discounts that may still be taken on the booking date: the invoice's own terms, else the default."""
    if invoice.discount_percent is not None:
        days, percents = invoice.discount_days or policy.discount_days, (invoice.discount_percent,)
    else:
        days, percents = policy.discount_days, policy.discount_percents
    if (booked - invoice.invoice_date).days > days + policy.discount_grace_days:
        return ()
    return percents


def discounted(amount: Decimal, percent: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return quantize(amount * (HUNDRED - percent) / HUNDRED, currency, rounding)


def open_total(invoices: Sequence[OpenInvoice]) -> Decimal:
    """What the invoices leave to pay together: their open amounts less the credit notes among them."""
    return sum((invoice.signed_open for invoice in invoices), Decimal(0))


def settles(
    paid: Decimal, invoices: Sequence[OpenInvoice], booked: date, policy: MatchPolicy
) -> tuple[Settles, str] | None:
    """How `paid` settles these invoices together: in full (credit notes named with them netted), after a
    discount (rounded as the payer may round it), or short within tolerance."""
    total = open_total(invoices)
    currency = invoices[0].currency
    netted = " less credit notes" if any(i.credit_note for i in invoices) else ""
    if paid == total:
        return Settles.IN_FULL, f"amount equals the open {fmt(total, currency)}{netted}"
    payable = [invoice for invoice in invoices if not invoice.credit_note]
    terms = [set(discount_percents(invoice, booked, policy)) for invoice in payable]
    common = set.intersection(*terms) if terms else set()
    for percent in sorted(common):
        for rounding in (ROUND_HALF_EVEN, ROUND_HALF_UP):  # payers round half up as often as not
            after = sum((discounted(i.open_amount, percent, currency, rounding) for i in payable), Decimal(0))
            if paid == after + sum((i.signed_open for i in invoices if i.credit_note), Decimal(0)):
                return Settles.WITH_DISCOUNT, f"{percent} % early-payment discount taken on {fmt(total, currency)}"
    # Short on one invoice is a write-off; short on a combination is one guess too many.
    if len(invoices) == 1 and total - short_tolerance(total, policy) <= paid < total:
        return Settles.SHORT, f"short by {fmt(total - paid, currency)}, within tolerance"
    return None


def as_itemised(line: BankLine, invoices: Sequence[OpenInvoice]) -> tuple[Settles, str] | None:
    """The payer's own breakdown: it names each of these invoices (and credit notes) with the amount it
    remits for it, and the amounts add up to the line. A discount or credit note the payer applied is
    then its statement to check, not ours to guess: the invoices are settled as itemised."""
    if not line.itemised or sum((amount for _, amount in line.itemised), Decimal(0)) != line.amount:
        return None
    numbers = {form for number, _ in line.itemised for form in number_forms(number)}
    if not all(number_forms(invoice.number) & numbers for invoice in invoices):
        return None
    return Settles.WITH_DISCOUNT, f"settles {len(invoices)} document(s) as the payer itemised them"


def _allocate(paid: Decimal, invoices: Sequence[OpenInvoice], how: Settles) -> tuple[Allocation, ...]:
    """Full settlements close every invoice; a partial one fills the oldest due first."""
    if how is not Settles.PARTLY:
        return tuple(Allocation(invoice.invoice_id, invoice.open_amount, True) for invoice in invoices)
    allocations, left = [], paid
    for credit in (invoice for invoice in invoices if invoice.credit_note):
        allocations.append(Allocation(credit.invoice_id, credit.open_amount, True))  # used up in the netting
        left += credit.open_amount
    payable = [invoice for invoice in invoices if not invoice.credit_note]
    for invoice in sorted(payable, key=lambda i: (i.due_date or i.invoice_date, i.invoice_id)):
        take = min(left, invoice.open_amount)
        if take > 0:
            allocations.append(Allocation(invoice.invoice_id, take, take == invoice.open_amount))
        left -= take
    return tuple(allocations)


# -- rule 1 and 4: our own instructions ------------------------------------------------------------
def by_end_to_end_id(line: BankLine, instruction: OpenInstruction, policy: MatchPolicy) -> PaymentMatch:
    evidence = [f"end-to-end id {instruction.end_to_end_id}"]
    difference = line.amount - instruction.amount
    if line.currency != instruction.currency:
        evidence.append(f"currency {line.currency}, instructed {instruction.currency}")
        confidence, how = 60, Settles.OVER
    elif difference == 0:
        evidence.append("amount equal")
        confidence, how = 100, Settles.IN_FULL
    elif -short_tolerance(instruction.amount, policy) <= difference < 0:
        evidence.append(f"short by {fmt(-difference, line.currency)} (bank charges), within tolerance")
        confidence, how = 92, Settles.SHORT
    else:
        evidence.append(f"amount differs by {fmt(difference, line.currency)}")
        confidence, how = 80, Settles.PARTLY if difference < 0 else Settles.OVER
    return PaymentMatch(
        "end_to_end_id", confidence, tuple(evidence), instruction.invoice_ids, how, (), instruction.end_to_end_id,
        difference,
    )


def by_amount_creditor_date(
    line: BankLine, instruction: OpenInstruction, policy: MatchPolicy
) -> PaymentMatch | None:
    if (line.counterparty_account, line.currency, line.amount) != (
        instruction.creditor_account,
        instruction.currency,
        instruction.amount,
    ):
        return None
    days = abs((line.booking_date - instruction.requested_execution_date).days)
    if days > policy.instruction_date_window_days:
        return None
    evidence = (
        "amount equal",
        f"creditor account {instruction.creditor_account}",
        f"booked {days} day(s) from requested execution",
    )
    return PaymentMatch(
        "amount_creditor_date", 97 - 3 * days, evidence, instruction.invoice_ids, Settles.IN_FULL, (),
        instruction.end_to_end_id,
    )


# -- counterparty ----------------------------------------------------------------------------------
def counterparty_evidence(line: BankLine, invoice: OpenInvoice, policy: MatchPolicy) -> tuple[int, str | None]:
    """(confidence penalty, evidence): 0 for an account on file, more for a name alone; None if neither."""
    if line.counterparty_account and line.counterparty_account in invoice.accounts:
        return 0, f"counterparty account {line.counterparty_account} on file for vendor {invoice.vendor_id}"
    if line.counterparty_name and invoice.vendor_name:
        written, on_file = normalized(line.counterparty_name), normalized(invoice.vendor_name)
        if written and (written == on_file or truncation_of(line.counterparty_name, invoice.vendor_name)):
            return 2, f"counterparty name {line.counterparty_name!r} is {invoice.vendor_name!r}"
        similarity = fuzz.token_set_ratio(written, on_file)
        if similarity >= policy.name_similarity:
            return 5, f"counterparty name {line.counterparty_name!r} ~ {invoice.vendor_name!r} ({similarity:.0f})"
    return 15, None


# -- rules 2 and 3: references ---------------------------------------------------------------------
def line_references(line: BankLine) -> list[str]:
    refs = [compact_rf(line.creditor_reference)] if line.creditor_reference else []
    refs += find_rf_references(line.remittance_info)
    return [ref for ref in dict.fromkeys(refs) if is_valid_rf(ref)]


_REFERENCE_CONFIDENCE: dict[str, dict[Settles, int]] = {
    "creditor_reference": {
        Settles.IN_FULL: 99, Settles.WITH_DISCOUNT: 96, Settles.SHORT: 94, Settles.PARTLY: 93, Settles.OVER: 75,
    },
    "invoice_number_in_text": {
        Settles.IN_FULL: 97, Settles.WITH_DISCOUNT: 94, Settles.SHORT: 92, Settles.PARTLY: 91, Settles.OVER: 75,
    },
}


def by_reference(
    line: BankLine, rule: str, referenced: Sequence[OpenInvoice], said: str, policy: MatchPolicy
) -> PaymentMatch | None:
    """The invoices the payer named; the amount says in full, discounted, short, partly or over."""
    usable = [invoice for invoice in referenced if invoice.currency == line.currency and invoice.open_amount > 0]
    if not usable:
        return None
    # Many suppliers print "RE 2026/42": a number names an invoice only together with its payee.
    recognised = [invoice for invoice in usable if counterparty_evidence(line, invoice, policy)[1] is not None]
    usable = sorted(recognised or usable, key=lambda i: i.invoice_id)
    total = open_total(usable)
    if total <= 0:
        return None  # a debit does not pay credit notes alone: the supplier owes us those
    evidence = [said]
    found = settles(line.amount, usable, line.booking_date, policy) or as_itemised(line, usable)
    over_fee = Decimal(0) < line.amount - total <= policy.over_tolerance_abs
    if found is not None:
        how, why = found
    elif line.amount < total:
        how, why = Settles.PARTLY, f"pays {fmt(line.amount, line.currency)} of {fmt(total, line.currency)} open"
    else:
        how, why = Settles.OVER, f"pays {fmt(line.amount - total, line.currency)} more than is open"
        if over_fee:
            why += f", within the {fmt(policy.over_tolerance_abs, line.currency)} a bank fee may add"
    evidence.append(why)
    confidence = _REFERENCE_CONFIDENCE[rule][how]
    if how is Settles.OVER and over_fee:
        confidence = _REFERENCE_CONFIDENCE[rule][Settles.SHORT]  # the named invoices, in full, and our fee
    if how is Settles.PARTLY and len(usable) > 1:
        confidence = 80  # which of the named invoices the money is for is a clerk's call
    penalties = [counterparty_evidence(line, invoice, policy) for invoice in usable]
    penalty = max(p for p, _ in penalties)
    evidence += sorted({e for _, e in penalties if e})
    if penalty >= 15:
        evidence.append("counterparty not recognised")
    return PaymentMatch(
        rule, confidence - penalty, tuple(evidence), tuple(i.invoice_id for i in usable), how,
        _allocate(line.amount, usable, how), None, line.amount - total,
    )


# -- rule 5: amount and counterparty, bounded subset-sum -------------------------------------------
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
    currency = invoices[0].currency if invoices else "EUR"
    paid = _cents(amount, currency)
    top_discount = max((*policy.discount_percents, *(i.discount_percent or Decimal(0) for i in invoices)))
    # The open total lies between the amount (in full) and the amount grossed up by the largest discount.
    high = max(
        int(Decimal(paid) * HUNDRED / (HUNDRED - top_discount)) + policy.max_invoices_per_payment,
        paid + _cents(policy.short_tolerance_abs, currency),
    )
    items = sorted(
        ((_cents(i.open_amount, currency), i) for i in invoices if i.open_amount > 0),
        key=lambda item: (-item[0], item[1].invoice_id),
    )
    search = _Search([item for item in items if item[0] <= high], paid, high, policy.max_invoices_per_payment,
                     policy.subset_budget)
    _descend(search, 0, 0, ())
    sets = [tuple(search.items[i][1] for i in chosen) for chosen in search.found]
    return [s for s in sets if settles(amount, s, booked, policy) is not None], search.exhausted


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
_SUBSET_CEILING = max(_SUBSET_CONFIDENCE.values())
_RANK = {Settles.IN_FULL: 0, Settles.WITH_DISCOUNT: 1, Settles.SHORT: 2}


def by_amount_counterparty(
    line: BankLine, invoices: Sequence[OpenInvoice], policy: MatchPolicy
) -> list[PaymentMatch]:
    """Every combination of the counterparty's open invoices that the amount explains, each scored."""
    known: list[tuple[OpenInvoice, int, str]] = []
    for invoice in invoices:
        if invoice.credit_note or invoice.currency != line.currency or invoice.invoice_date > line.booking_date:
            continue  # an amount alone never nets a credit note: only a payer naming it does
        penalty, evidence = counterparty_evidence(line, invoice, policy)
        if evidence is not None:
            known.append((invoice, penalty, evidence))
    if not known:
        return []
    # The pool: the invoices due nearest the booking date, as a payer pays what falls due.
    known.sort(key=lambda k: (abs(((k[0].due_date or k[0].invoice_date) - line.booking_date).days), k[0].invoice_id))
    pool = known[: policy.subset_pool]
    about = {invoice.invoice_id: (penalty, evidence) for invoice, penalty, evidence in pool}
    sets, exhausted = subsets_near(line.amount, [invoice for invoice, _, _ in pool], line.booking_date, policy)
    matches: list[PaymentMatch] = []
    for chosen in sets:
        found = settles(line.amount, chosen, line.booking_date, policy)
        assert found is not None
        how, why = found
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
        matches.append(
            PaymentMatch("amount_counterparty", confidence, evidence, ids, how, _allocate(line.amount, chosen, how),
                         None, line.amount - total)
        )
    if exhausted:
        matches = [_capped(m, 85, "search budget ran out: other combinations unchecked") for m in matches]
    # Several combinations explaining the amount equally well: the amount alone cannot choose.
    best = min((_RANK[m.settles] for m in matches), default=None)
    rivals = [m for m in matches if _RANK[m.settles] == best]
    if len(rivals) > 1:
        matches = [_capped(m, 80, f"{len(rivals)} combinations of open invoices fit") for m in matches]
    return matches


def by_amount_alone(line: BankLine, invoices: Sequence[OpenInvoice]) -> list[PaymentMatch]:
    """A cheque presented names no payee and no invoice: its amount may settle the one open invoice that
    carries exactly that amount, and only when no other does (a second one makes it a clerk's call)."""
    exact = [
        i
        for i in invoices
        if not i.credit_note
        and (i.currency, i.open_amount) == (line.currency, line.amount)
        and i.invoice_date <= line.booking_date
    ]
    confidence = 91 if len(exact) == 1 else 70
    evidence = ("a cheque: no payee or reference on the line", f"equals the open {fmt(line.amount, line.currency)}")
    return [
        PaymentMatch(
            "amount_counterparty", confidence, (*evidence, f"invoice {i.number}"), (i.invoice_id,), Settles.IN_FULL,
            _allocate(line.amount, [i], Settles.IN_FULL), None, Decimal(0),
        )
        for i in exact
    ]


def _capped(match: PaymentMatch, cap: int, why: str) -> PaymentMatch:
    return replace(match, confidence=min(match.confidence, cap), evidence=(*match.evidence, why))


# -- the decision ----------------------------------------------------------------------------------
def match_payment(
    line: BankLine,
    instructions: Iterable[OpenInstruction] = (),
    invoices: Iterable[OpenInvoice] = (),
    policy: MatchPolicy = DEFAULT_POLICY,
) -> PaymentDecision:
    """Score every candidate of every rule; auto-match the single best above the threshold.

    A credit (money in) can only be a supplier paying out a credit note: it is matched against the open
    credit notes, read as what that supplier owes us, and never against our payment instructions.
    """
    instructions = sorted({i.end_to_end_id: i for i in instructions}.values(), key=lambda i: i.end_to_end_id)
    open_invoices = sorted({i.invoice_id: i for i in invoices}.values(), key=lambda i: i.invoice_id)
    if line.credit:
        instructions = []
        open_invoices = [replace(i, credit_note=False) for i in open_invoices if i.credit_note]
    candidates: list[PaymentMatch] = []
    for instruction in instructions:
        if line.end_to_end_id and line.end_to_end_id == instruction.end_to_end_id:
            candidates.append(by_end_to_end_id(line, instruction, policy))
        else:
            found = by_amount_creditor_date(line, instruction, policy)
            if found is not None:
                candidates.append(found)
    references = set(line_references(line))
    by_rf = [i for i in open_invoices if i.creditor_reference and compact_rf(i.creditor_reference) in references]
    if by_rf:
        said = "creditor reference " + ", ".join(sorted(compact_rf(i.creditor_reference or "") for i in by_rf))
        found = by_reference(line, "creditor_reference", by_rf, said, policy)
        candidates += [found] if found else []
    mentions = number_mentions(line.remittance_info) if line.remittance_info else set()
    by_number = [i for i in open_invoices if mentions_invoice(mentions, i.number)]
    if by_number:
        said = "remittance names invoice(s) " + ", ".join(sorted(i.number for i in by_number))
        found = by_reference(line, "invoice_number_in_text", by_number, said, policy)
        candidates += [found] if found else []
    # The subset search is the costly rule: skip it when a candidate already scores above anything it can
    # score, since it could then neither win nor tie (the decision is the same either way).
    if line.cheque and not candidates:
        candidates += by_amount_alone(line, open_invoices)
    if not any(c.confidence > _SUBSET_CEILING for c in candidates):
        named = {frozenset(c.invoice_ids) for c in candidates if c.rule in _REFERENCE_RULES}
        for found in by_amount_counterparty(line, open_invoices, policy):
            # A reference the payer wrote outranks any set of invoices the amount happens to fit that leaves
            # the named ones out; a set that holds them (a list the payer shortened) may still win.
            if named and not any(group <= frozenset(found.invoice_ids) for group in named):
                found = _capped(found, 85, "the payer named other invoices")
            candidates.append(found)
    return decide(line, candidates, policy)


_REFERENCE_RULES = frozenset({"creditor_reference", "invoice_number_in_text"})


def decide(line: BankLine, candidates: list[PaymentMatch], policy: MatchPolicy) -> PaymentDecision:
    if not candidates:
        return PaymentDecision(line.entry_id, Outcome.UNMATCHED, reason="no open payment or invoice fits")
    # One target may be found by several rules (an instruction and its invoices): keep its best score.
    best_by_target: dict[frozenset[str], PaymentMatch] = {}
    for match in candidates:
        key = frozenset(match.invoice_ids) or frozenset(match.target)
        held = best_by_target.get(key)
        if held is None or _order(match) < _order(held):
            best_by_target[key] = match
    ranked = sorted(best_by_target.values(), key=_order)
    best = ranked[0]
    tied = [m for m in ranked[1:] if m.confidence == best.confidence]
    if tied:
        return PaymentDecision(
            line.entry_id, Outcome.SUGGESTED, None, tuple(ranked),
            f"tie: {len(tied) + 1} candidates score {best.confidence}",
        )
    if best.confidence < policy.auto_match_threshold:
        return PaymentDecision(
            line.entry_id, Outcome.SUGGESTED, None, tuple(ranked),
            f"best candidate scores {best.confidence}, below {policy.auto_match_threshold}",
        )
    return PaymentDecision(line.entry_id, Outcome.AUTO_MATCHED, best, tuple(ranked), f"{best.rule} {best.confidence}")


_RULE_ORDER = {
    "end_to_end_id": 0,
    "creditor_reference": 1,
    "invoice_number_in_text": 2,
    "amount_creditor_date": 3,
    "amount_counterparty": 4,
}


def _order(match: PaymentMatch) -> tuple[int, int, tuple[str, ...]]:
    return (-match.confidence, _RULE_ORDER[match.rule], match.target)


# -- blocking: what a stream handler looks up ------------------------------------------------------
def line_keys(line: BankLine) -> list[str]:
    """Index keys whose invoices and instructions are this line's candidates; none scans the ledger."""
    keys = [f"e2e:{line.end_to_end_id}"] if line.end_to_end_id else []
    if line.cheque:
        keys.append(amount_key(line.currency, line.amount))
    keys += [f"rf:{ref}" for ref in line_references(line)]
    if line.remittance_info:
        keys += [f"num:{mention}" for mention in sorted(number_mentions(line.remittance_info))]
    if line.counterparty_account:
        keys.append(f"acct:{line.counterparty_account}")
    if line.counterparty_name:
        keys.append(f"name:{name_key(line.counterparty_name)}")
    return keys


def invoice_keys(invoice: OpenInvoice) -> list[str]:
    keys = [f"num:{form}" for form in sorted(number_forms(invoice.number))]
    keys.append(amount_key(invoice.currency, invoice.gross))
    if invoice.creditor_reference:
        keys.append(f"rf:{compact_rf(invoice.creditor_reference)}")
    keys += [f"acct:{account}" for account in invoice.accounts]
    if invoice.vendor_name:
        keys.append(f"name:{name_key(invoice.vendor_name)}")
    return keys


def amount_key(currency: str, amount: Decimal) -> str:
    """An invoice's total: where a cheque, which names nobody, finds the invoices it may pay."""
    return f"amt:{currency}|{amount}"


def instruction_keys(instruction: OpenInstruction) -> list[str]:
    return [f"e2e:{instruction.end_to_end_id}", f"acct:{instruction.creditor_account}"]
