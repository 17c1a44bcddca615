"""Labeled hard cases for the matching-quality run: duplicate invoices and payment-to-invoice matching.

Duplicates: a ledger of ordinary invoices, 0.5-3 % re-submitted copies (re-keyed, prefixed, scanned with
OCR look-alikes, mistyped, swapped digits, amount off by cents or net for gross, date near or day/month
swapped, under another vendor id of the same supplier), and the legitimate look-alikes that must stay
quiet (recurring rent, instalments, credit notes, a busy supplier's consecutive invoices for similar or
equal amounts, one number at two suppliers, a number reused the next year).

Payments: open invoices and instructions, and bank lines that pay them by end-to-end id, RF reference,
invoice numbers in text, amount and counterparty alone, several invoices at once, in parts, with an
early-payment discount or short; plus lines nobody can match and lines only a guess could match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from random import Random

from reconstream.matchers.duplicates import SupplierIdentity
from reconstream.matchers.invoice_numbers import normalize_invoice_number
from reconstream.matchers.payment_matching import BankLine, OpenInstruction, OpenInvoice
from reconstream.matchers.remittance import rf_reference
from reconstream.models.invoices import DocumentType, Invoice, InvoiceLine

from .master_data import VendorMaster, VendorProfile, build_vendor_master, make_iban, next_invoice_number
from .number_variants import add_affix, mistype, ocr_misread, rekey

START = date(2026, 1, 5)
CENT = Decimal("0.01")
_TAX = {"DE": 19, "FR": 20, "GB": 20, "NL": 21, "AT": 20}
_SERVICES = ("Maintenance contract", "Freight forwarding", "IT support", "Facility cleaning", "Consulting")
_SITES = ("Hamburg", "Bremen", "Lyon", "Leeds", "Utrecht", "Graz", "Essen", "Lille")


def _cents(rng: Random, low: int, high: int) -> int:
    return int(math.exp(math.log(low) + rng.random() * (math.log(high) - math.log(low))))


def _money(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


# -- duplicates ------------------------------------------------------------------------------------
@dataclass(slots=True)
class DuplicateSet:
    invoices: list[Invoice]  # in capture order
    identities: dict[str, SupplierIdentity]
    duplicate_of: dict[str, str]  # copy -> the original document
    kinds: dict[str, str]  # every planted copy and look-alike -> its kind
    counts: dict[str, int] = field(default_factory=dict)


class _Ledger:
    def __init__(self, rng: Random, master: VendorMaster) -> None:
        self.rng, self.master = rng, master
        self.invoices: list[tuple[int, Invoice]] = []  # (capture day, invoice)
        self.serial = 0

    def invoice_id(self) -> str:
        self.serial += 1
        return f"Q-{self.serial:08d}"

    def make(
        self,
        vendor: VendorProfile,
        invoice_date: date,
        net_cents: int,
        number: str | None = None,
        *,
        vendor_id: str | None = None,
        tax_cents: int | None = None,
        due: date | None = None,
        kind: DocumentType = DocumentType.INVOICE,
        description: str | None = None,
        po: str | None = None,
    ) -> Invoice:
        rng = self.rng
        tax = tax_cents if tax_cents is not None else (net_cents * _TAX[vendor.country] + 50) // 100
        net = _money(net_cents)
        text = description or f"{rng.choice(_SERVICES)} {invoice_date:%B %Y}"
        return Invoice(
            invoice_id=self.invoice_id(),
            supplier_invoice_number=number or next_invoice_number(
                vendor, rng, invoice_date.year, normalize_invoice_number
            ),
            document_type=kind,
            vendor_id=vendor_id or vendor.vendor_id,
            company_code=vendor.company.code,
            invoice_date=invoice_date,
            due_date=due or invoice_date + timedelta(days=30),
            currency="EUR",
            net_amount=net,
            tax_amount=_money(tax),
            gross_amount=net + _money(tax),
            po_number=po,
            lines=(InvoiceLine(line_no=1, description=text, quantity=Decimal(1), unit_price=net, net_amount=net),),
        )

    def add(self, day: int, invoice: Invoice) -> Invoice:
        self.invoices.append((day, invoice))
        return invoice


COPY_KINDS = (
    "rekeyed", "affixes", "ocr", "typo", "transposition", "missing_digit", "near_amount", "net_for_gross",
    "date_near", "date_swapped", "other_vendor_id",
)


def duplicate_set(invoices: int = 20_000, seed: int = 1, duplicate_rate: float = 0.02) -> DuplicateSet:
    rng = Random(seed)
    vendors = max(50, invoices // 40)
    master = build_vendor_master(rng, vendors, max(5, vendors // 50), 0)
    ledger = _Ledger(rng, master)
    identities = {v.vendor_id: SupplierIdentity(v.vendor_id, v.tax_id, tuple(sorted(v.ibans))) for v in master.all}
    # Some suppliers were onboarded twice: a second vendor id with the same tax id or the same account.
    aliases: dict[str, str] = {}
    for n, vendor in enumerate(rng.sample(master.active, max(5, vendors // 20)), start=1):
        alias = f"VA{n:05d}"
        aliases[vendor.vendor_id] = alias
        same_tax = rng.random() < 0.5
        identities[alias] = SupplierIdentity(alias, vendor.tax_id if same_tax else None, (vendor.ibans[0],))
    kinds: dict[str, str] = {}
    copies = max(1, round(invoices * duplicate_rate))
    lookalikes = max(8, round(invoices * 0.04))
    regular = invoices - copies - lookalikes
    weights = master.cum_weights
    for _ in range(regular):
        vendor = rng.choices(master.active, cum_weights=weights)[0]
        day = rng.randrange(0, 120)
        po = f"PO-{rng.randrange(10**9, 10**10)}" if rng.random() < 0.5 else None
        ledger.add(day, ledger.make(vendor, START + timedelta(days=day), _cents(rng, 4_000, 2_000_000), po=po))
    made = 0
    while made < lookalikes:
        made += _lookalike(ledger, rng, kinds)
    originals = [inv for day, inv in ledger.invoices if day < 110 and inv.invoice_id not in kinds]
    duplicate_of: dict[str, str] = {}
    aliased = [inv for inv in originals if inv.vendor_id in aliases]
    for original in rng.sample(originals, copies):
        kind = rng.choice(COPY_KINDS)
        if kind == "other_vendor_id" and aliased:
            original = rng.choice(aliased)
        copy = _copy(ledger, rng, original, aliases, kind) or _copy(ledger, rng, original, aliases, "rekeyed")
        if copy is not None and copy[1].invoice_id not in duplicate_of and original.invoice_id not in duplicate_of:
            duplicate_of[copy[1].invoice_id] = original.invoice_id
            kinds[copy[1].invoice_id] = copy[2]
    ordered = [inv for _, inv in sorted(ledger.invoices, key=lambda pair: (pair[0], pair[1].invoice_id))]
    counts: dict[str, int] = {}
    for kind in kinds.values():
        counts[kind] = counts.get(kind, 0) + 1
    return DuplicateSet(ordered, identities, duplicate_of, kinds, dict(sorted(counts.items())))


def _copy(
    ledger: _Ledger, rng: Random, original: Invoice, aliases: dict[str, str], kind: str
) -> tuple[int, Invoice, str] | None:
    number, day = original.supplier_invoice_number, (original.invoice_date - START).days
    invoice_date, gross_net = original.invoice_date, (original.net_amount, original.tax_amount)
    vendor_id = original.vendor_id
    if kind == "rekeyed":
        number = rekey(number, rng)
    elif kind == "affixes":
        number = add_affix(number, invoice_date.year, rng)
    elif kind == "ocr":
        number = ocr_misread(number, rng) or rekey(number, rng)
    elif kind in ("typo", "transposition", "missing_digit"):
        number = mistype(number, rng, kind) or rekey(number, rng)
    elif kind == "near_amount":
        gross_net = (original.net_amount + rng.choice((-1, 1)) * CENT * rng.randint(1, 60), original.tax_amount)
        number = rekey(number, rng) if rng.random() < 0.5 else number
    elif kind == "net_for_gross":
        gross_net = (original.net_amount, Decimal("0.00"))
    elif kind == "date_near":
        invoice_date += timedelta(days=rng.choice((-3, -2, -1, 1, 2, 3, 4, 5)))
    elif kind == "date_swapped":
        if invoice_date.day > 12 or invoice_date.day == invoice_date.month:
            return None
        invoice_date = invoice_date.replace(month=invoice_date.day, day=invoice_date.month)
    elif kind == "other_vendor_id":
        if vendor_id not in aliases:
            return None
        vendor_id = aliases[vendor_id]
        number = rekey(number, rng) if rng.random() < 0.5 else number
    if gross_net[0] <= 0:
        return None
    net, tax = gross_net
    copy = original.model_copy(
        update={
            "invoice_id": ledger.invoice_id(),
            "supplier_invoice_number": number,
            "vendor_id": vendor_id,
            "invoice_date": invoice_date,
            "net_amount": net,
            "tax_amount": tax,
            "gross_amount": net + tax,
            "lines": (original.lines[0].model_copy(update={"unit_price": net, "net_amount": net}),),
        }
    )
    captured = day + rng.randint(1, 10)
    ledger.add(max(captured, (invoice_date - START).days), copy)
    return captured, copy, kind


def _lookalike(ledger: _Ledger, rng: Random, kinds: dict[str, str]) -> int:
    """One group of legitimate look-alikes; returns how many documents it added."""
    master = ledger.master
    vendor = rng.choices(master.active, cum_weights=master.cum_weights)[0]
    day = rng.randrange(0, 100)
    first = START + timedelta(days=day)
    amount = _cents(rng, 20_000, 1_500_000)
    kind = rng.choice(("rent", "instalments", "instalments_same_day", "credit_note", "consecutive_similar",
                       "site_fees", "same_number_other_supplier", "number_reused_next_year"))
    docs: list[tuple[int, Invoice]] = []
    if kind == "rent":
        landlord = rng.choice(master.landlords)
        for month in range(3):
            when = first + timedelta(days=30 * month)
            docs.append((day + 30 * month, ledger.make(landlord, when, amount, description=f"Rent {when:%B %Y}")))
    elif kind == "instalments":
        for k in range(1, 4):
            when = first + timedelta(days=9 * (k - 1))
            docs.append((day + 9 * (k - 1), ledger.make(vendor, when, amount, description=f"Instalment {k}/3")))
    elif kind == "instalments_same_day":
        base = next_invoice_number(vendor, rng, first.year, normalize_invoice_number)
        for k in range(1, 4):
            docs.append((day, ledger.make(vendor, first, amount, f"{base}-{k}", due=first + timedelta(days=30 * k),
                                          description=f"Instalment {k}/3")))
    elif kind == "credit_note":
        invoice = ledger.make(vendor, first, amount)
        note = ledger.make(vendor, first + timedelta(days=rng.randint(0, 5)), amount,
                           invoice.supplier_invoice_number if rng.random() < 0.5 else None,
                           kind=DocumentType.CREDIT_NOTE, description="Credit for returned goods")
        docs += [(day, invoice), (day + 3, note)]
    elif kind == "consecutive_similar":
        for _ in range(3):
            similar = amount + rng.choice((-1, 1)) * max(100, amount * rng.randint(1, 8) // 100)
            docs.append((day, ledger.make(vendor, first, similar)))
    elif kind == "site_fees":
        for site in rng.sample(_SITES, 3):
            docs.append((day, ledger.make(vendor, first, amount, description=f"Monthly service fee site {site}")))
    elif kind == "same_number_other_supplier":
        other = rng.choice([v for v in master.active if v.vendor_id != vendor.vendor_id])
        invoice = ledger.make(vendor, first, amount)
        docs += [(day, invoice), (day + 2, ledger.make(other, first + timedelta(days=1), amount,
                                                       invoice.supplier_invoice_number))]
    else:
        number = f"{rng.randrange(1, 9999):08d}"
        docs += [(day, ledger.make(vendor, first.replace(year=2025), amount, number)),
                 (day, ledger.make(vendor, first, _cents(rng, 20_000, 1_500_000), number))]
    for captured, invoice in docs:
        ledger.add(captured, invoice)
        kinds[invoice.invoice_id] = f"lookalike:{kind}"
    return len(docs)


# -- payments --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Truth:
    kind: str
    invoice_ids: frozenset[str]  # what the line pays; empty: nothing the engine knows
    matchable: bool  # one right answer exists; False: only a guess could match it, so it must not


@dataclass(slots=True)
class PaymentSet:
    invoices: list[OpenInvoice]
    instructions: list[OpenInstruction]
    lines: list[BankLine]
    truth: dict[str, Truth]
    counts: dict[str, int] = field(default_factory=dict)


LINE_KINDS: dict[str, float] = {
    "end_to_end_id": 0.42,
    "instruction_without_id": 0.05,
    "creditor_reference": 0.10,
    "invoice_numbers_in_text": 0.12,
    "amount_counterparty": 0.07,
    "several_invoices_no_reference": 0.04,
    "partial_payments": 0.04,
    "early_payment_discount": 0.04,
    "short_payment": 0.03,
    "name_only_counterparty": 0.02,
    "unmatchable": 0.04,
    "ambiguous_same_amount": 0.03,
}


class _Payments:
    def __init__(self, rng: Random, master: VendorMaster) -> None:
        self.rng, self.master = rng, master
        self.invoices: list[OpenInvoice] = []
        self.instructions: list[OpenInstruction] = []
        self.lines: list[BankLine] = []
        self.truth: dict[str, Truth] = {}
        self.serial = 0
        self.entry = 0

    def invoice(self, vendor: VendorProfile, cents: int | None = None, rf: bool = False,
                day: int | None = None) -> OpenInvoice:
        rng = self.rng
        self.serial += 1
        when = START + timedelta(days=day if day is not None else rng.randrange(0, 60))
        number = next_invoice_number(vendor, rng, when.year, normalize_invoice_number)
        invoice = OpenInvoice(
            f"P-{self.serial:08d}", number, vendor.vendor_id, "EUR",
            _money(cents if cents is not None else _cents(rng, 5_000, 3_000_000)), when, when + timedelta(days=30),
            vendor.name, vendor.ibans, rf_reference(f"{self.serial:08d}{rng.randrange(100, 999)}") if rf else None,
        )
        self.invoices.append(invoice)
        return invoice

    def line(self, kind: str, vendor: VendorProfile | None, amount: Decimal, booked: date, truth: frozenset[str],
             matchable: bool = True, **fields: object) -> None:
        self.entry += 1
        entry_id = f"E{self.entry:08d}"
        self.lines.append(BankLine(
            entry_id, amount, "EUR", booked,
            counterparty_iban=fields.pop("iban", vendor.ibans[0] if vendor else None),  # type: ignore[arg-type]
            counterparty_name=fields.pop("name", vendor.name.upper()[:35] if vendor else None),  # type: ignore[arg-type]
            **fields,  # type: ignore[arg-type]
        ))
        self.truth[entry_id] = Truth(kind, truth, matchable)


def _printed(number: str, rng: Random) -> str:
    """An invoice number as a payer types it into the remittance field."""
    roll = rng.random()
    if roll < 0.3:
        return number.lower()
    if roll < 0.5:
        return number.replace("-", " ")
    return number


def payment_set(lines: int = 5_000, seed: int = 1) -> PaymentSet:
    rng = Random(seed)
    vendors = max(40, lines // 8)
    master = build_vendor_master(rng, vendors, 2, 0)
    book = _Payments(rng, master)
    # Every vendor has unpaid invoices the lines do not pay: distractors for every rule.
    for vendor in master.active:
        for _ in range(rng.randint(2, 12)):
            book.invoice(vendor)
    names = list(LINE_KINDS)
    weights = list(LINE_KINDS.values())
    for _ in range(lines):
        kind = rng.choices(names, weights)[0]
        vendor = rng.choice(master.active)
        _plan_line(book, rng, kind, vendor)
    counts: dict[str, int] = {}
    for truth in book.truth.values():
        counts[truth.kind] = counts.get(truth.kind, 0) + 1
    book.lines.sort(key=lambda line: (line.booking_date, line.entry_id))
    return PaymentSet(book.invoices, book.instructions, book.lines, book.truth, dict(sorted(counts.items())))


def _plan_line(book: _Payments, rng: Random, kind: str, vendor: VendorProfile) -> None:
    day = rng.randrange(0, 60)
    booked = START + timedelta(days=day + rng.randint(5, 35))
    if kind in ("end_to_end_id", "instruction_without_id"):
        docs = [book.invoice(vendor, day=day) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        total = sum((d.open_amount for d in docs), Decimal(0))
        e2e = f"PMT-{len(book.instructions) + 1:08d}"
        execution = booked - timedelta(days=rng.randint(0, 2))
        book.instructions.append(OpenInstruction(e2e, tuple(d.invoice_id for d in docs), vendor.vendor_id,
                                                 vendor.ibans[0], total, "EUR", execution))
        ids = frozenset(d.invoice_id for d in docs)
        text = ", ".join(d.number for d in docs) if rng.random() < 0.5 else ""
        e2e_field = e2e if kind == "end_to_end_id" else None
        book.line(kind, vendor, total, booked, ids, end_to_end_id=e2e_field, remittance_info=text)
    elif kind == "creditor_reference":
        doc = book.invoice(vendor, rf=True, day=day)
        ref = doc.creditor_reference or ""
        if rng.random() < 0.5:
            book.line(kind, vendor, doc.open_amount, booked, frozenset({doc.invoice_id}), creditor_reference=ref)
        else:
            grouped = " ".join(ref[i : i + 4] for i in range(0, len(ref), 4))
            book.line(kind, vendor, doc.open_amount, booked, frozenset({doc.invoice_id}),
                      remittance_info=f"Payment {grouped} thank you")
    elif kind == "invoice_numbers_in_text":
        docs = [book.invoice(vendor, day=day) for _ in range(rng.choice((1, 1, 2, 3)))]
        text = "Inv " + " / ".join(_printed(d.number, rng) for d in docs)
        book.line(kind, vendor, sum((d.open_amount for d in docs), Decimal(0)), booked,
                  frozenset(d.invoice_id for d in docs), remittance_info=text)
    elif kind == "amount_counterparty":
        doc = book.invoice(vendor, day=day)
        book.line(kind, vendor, doc.open_amount, booked, frozenset({doc.invoice_id}), remittance_info="Payment")
    elif kind == "several_invoices_no_reference":
        docs = [book.invoice(vendor, day=day) for _ in range(rng.randint(2, 5))]
        book.line(kind, vendor, sum((d.open_amount for d in docs), Decimal(0)), booked,
                  frozenset(d.invoice_id for d in docs), remittance_info="Payment for open items")
    elif kind == "partial_payments":
        doc = book.invoice(vendor, day=day)
        first = (doc.open_amount * Decimal(rng.choice((30, 40, 50, 60))) / 100).quantize(CENT)
        for n, part in enumerate((first, doc.open_amount - first)):
            book.line(kind, vendor, part, booked + timedelta(days=14 * n), frozenset({doc.invoice_id}),
                      remittance_info=f"{_printed(doc.number, rng)} part {n + 1} of 2")
    elif kind == "early_payment_discount":
        doc = book.invoice(vendor, day=day)
        paid = (doc.open_amount * Decimal("0.98")).quantize(CENT)
        text = f"{_printed(doc.number, rng)} less 2% skonto" if rng.random() < 0.5 else "Payment"
        book.line(kind, vendor, paid, doc.invoice_date + timedelta(days=rng.randint(3, 12)),
                  frozenset({doc.invoice_id}), remittance_info=text)
    elif kind == "short_payment":
        doc = book.invoice(vendor, cents=_cents(rng, 300_000, 3_000_000), day=day)
        paid = doc.open_amount - _money(rng.randint(50, 2_000))
        text = _printed(doc.number, rng) if rng.random() < 0.5 else "Payment"
        book.line(kind, vendor, paid, booked, frozenset({doc.invoice_id}), remittance_info=text)
    elif kind == "name_only_counterparty":
        doc = book.invoice(vendor, day=day)
        new_account = make_iban(rng, vendor.country)
        book.line(kind, vendor, doc.open_amount, booked, frozenset({doc.invoice_id}), iban=new_account,
                  remittance_info=f"Invoice {_printed(doc.number, rng)}")
    elif kind == "unmatchable":
        book.line(kind, None, _money(_cents(rng, 1_000, 500_000)), booked, frozenset(), matchable=False,
                  iban=make_iban(rng, "DE"), name="CARD SETTLEMENT", remittance_info=rng.choice(("Fee", "Card", "")))
    else:  # ambiguous_same_amount: two open invoices of one amount, a line without reference pays one
        cents = _cents(rng, 5_000, 1_000_000)
        first, second = book.invoice(vendor, cents, day=day), book.invoice(vendor, cents, day=day)
        book.line(kind, vendor, first.open_amount, booked, frozenset({first.invoice_id}), matchable=False,
                  remittance_info="Payment")
        del second
