"""The month's invoices: regular spend, the legitimate look-alikes and the invoice-side anomalies.

Every anomaly sits on its own otherwise-clean document, so each one raises exactly one exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from itertools import accumulate
from random import Random

from reconstream.matchers.duplicates import normalize_invoice_number
from reconstream.models.exceptions import Category

from . import rates
from .clock import DAY, HOUR, at, previous_month_first, to_date
from .documents import Doc, Fate, PurchaseOrderPlan, Receipt
from .master_data import VendorMaster, VendorProfile, next_invoice_number
from .number_variants import add_affix, mistype, ocr_misread, rekey

ON_HOLD_PLANTS = (
    Category.AMOUNT_MISMATCH,
    Category.PO_MISSING,
    Category.GR_MISSING,
    Category.UNKNOWN_VENDOR,
    Category.INACTIVE_VENDOR,
)
_PO_PLANTS = (Category.AMOUNT_MISMATCH, Category.PO_MISSING, Category.GR_MISSING)
_NON_PO_PLANTS = (Category.UNKNOWN_VENDOR, Category.INACTIVE_VENDOR)

_GOODS = (
    "Pallet stretch film 500 mm",
    "Steel bracket M8 zinc",
    "Toner cartridge black",
    "Corrugated box 600x400",
    "Safety gloves size 9",
    "Hydraulic hose DN12",
    "Copy paper A4 80 g",
    "LED panel 60x60",
    "Ball bearing 6204",
    "Cable tie 300 mm",
    "Industrial cleaner 10 l",
    "Work shoes S3",
    "Spare filter cartridge",
    "Label roll 100x50",
)
_SERVICES = (
    "Maintenance contract",
    "Facility cleaning",
    "Freight forwarding",
    "IT support retainer",
    "Security services",
    "Waste disposal",
    "Consulting services",
    "Equipment rental",
    "Canteen services",
    "Translation services",
)
_QUANTITIES = (1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 12, 20, 24, 25, 40, 50, 100, 200)


def log_uniform(rng: Random, low: int, high: int) -> int:
    return int(math.exp(math.log(low) + rng.random() * (math.log(high) - math.log(low))))


class InvoiceBook:
    """Plans every invoice of the month, then hands them over sorted by capture time."""

    def __init__(self, rng: Random, master: VendorMaster, start: date, end: date) -> None:
        self.rng = rng
        self.master = master
        self.start = start
        self.start_ts, self.horizon = at(start), at(end)
        self.days = (end - start).days
        # AP captures on working days; a few suppliers' portals and scanners also run at weekends.
        weights = [1.0 if (start + timedelta(days=d)).weekday() < 5 else 0.08 for d in range(self.days)]
        self._day_weights = list(accumulate(weights))
        self.docs: list[Doc] = []
        self.purchase_orders: list[PurchaseOrderPlan] = []
        self._po_serial = 0
        self._gr_serial = 0

    # -- time -------------------------------------------------------------------------------------
    def _office_hours(self, day_ts: int) -> int:
        return day_ts + 7 * HOUR + int(self.rng.random() * 12 * HOUR)

    def _capture_between(self, low: int, high: int) -> int:
        """A capture during office hours on a day in [low, high); falls back to any second in the window."""
        first, last = (low - self.start_ts) // DAY, (high - self.start_ts) // DAY
        for _ in range(8):
            ts = self._office_hours(self.start_ts + self.rng.randint(first, max(first, last)) * DAY)
            if low <= ts < high:
                return ts
        return low + int(self.rng.random() * (high - low))

    # -- the month --------------------------------------------------------------------------------
    def build(self, invoices: int, counts: dict[Category, int]) -> list[Doc]:
        rng = self.rng
        duplicates = counts[Category.DUPLICATE_INVOICE]
        credit_notes = rates.share(invoices, rates.CREDIT_NOTES)
        rent_pairs = rates.share(invoices, rates.RECURRING_RENT_PAIRS)
        plans = [rng.choice((2, 3)) for _ in range(rates.share(invoices, rates.INSTALMENT_PLANS))]
        regular = invoices - duplicates - credit_notes - 2 * rent_pairs - sum(plans)
        if regular < invoices // 2:  # too few invoices for look-alikes: keep the month plain
            credit_notes, rent_pairs, plans = 0, 0, []
            regular = invoices - duplicates
        self._regular(regular, counts)
        self._recurring_rent(rent_pairs)
        for size in plans:
            self._instalments(size)
        self._credit_notes(credit_notes)
        self._duplicates(duplicates)
        self.docs.sort(key=lambda doc: doc.capture_ts)
        for number, doc in enumerate(self.docs, start=1):
            doc.invoice_id = f"AP-{number:08d}"
            doc.correlation_id = self._uuid()
        return self.docs

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _regular(self, count: int, counts: dict[Category, int]) -> None:
        rng = self.rng
        days = rng.choices(range(self.days), cum_weights=self._day_weights, k=count)
        vendors = rng.choices(self.master.active, cum_weights=self.master.cum_weights, k=count)
        docs = [
            Doc(v.vendor_id, v, v.company, self._office_hours(self.start_ts + d * DAY))
            for d, v in zip(days, vendors, strict=True)
        ]
        po_based = [rng.random() < rates.PO_BASED for _ in range(count)]
        order = list(range(count))
        rng.shuffle(order)
        taken = [False] * count

        def pick(n: int, eligible: Callable[[int], bool]) -> list[int]:
            chosen: list[int] = []
            for i in order:
                if len(chosen) == n:
                    break
                if not taken[i] and eligible(i):
                    taken[i] = True
                    chosen.append(i)
            return chosen

        for category in _PO_PLANTS:
            for i in pick(counts[category], lambda i: po_based[i]):
                docs[i].plant, docs[i].fate = category, Fate.ON_HOLD
        for category in _NON_PO_PLANTS:
            for i in pick(counts[category], lambda i: not po_based[i]):
                docs[i].plant, docs[i].fate = category, Fate.ON_HOLD
        # The ERP has to answer (or visibly not) inside the month: approval is up to 3 days after capture.
        for i in pick(counts[Category.ERP_POSTING_FAILED], lambda i: docs[i].capture_ts <= self.horizon - 4 * DAY):
            docs[i].plant, docs[i].fate = Category.ERP_POSTING_FAILED, Fate.POSTING_FAILED
        for i in pick(counts[Category.ERP_TIMEOUT], lambda i: docs[i].capture_ts <= self.horizon - 7 * DAY):
            docs[i].plant, docs[i].fate = Category.ERP_TIMEOUT, Fate.NOT_POSTED
        for i in pick(rates.share(count, rates.APPROVER_REJECTS), lambda i: True):
            docs[i].fate, docs[i].lookalike = Fate.REJECTED, "approver_rejected"

        unknown, inactive = 0, iter(self.master.inactive)
        for i, doc in enumerate(docs):
            if doc.plant is Category.UNKNOWN_VENDOR:
                unknown += 1
                doc.vendor_id = self.master.unknown_vendor_id(unknown)
            elif doc.plant is Category.INACTIVE_VENDOR:
                # One blocked vendor per such invoice: a blocked vendor sends nothing else.
                blocked = next(inactive)
                doc.vendor, doc.vendor_id, doc.company = blocked, blocked.vendor_id, blocked.company
            if po_based[i]:
                self._po_invoice(doc)
            else:
                self._service_invoice(doc, to_date(doc.capture_ts) - timedelta(days=rng.randint(0, 6)))
        self.docs.extend(docs)

    # -- one invoice ------------------------------------------------------------------------------
    def _finish(self, doc: Doc, invoice_date: date, vendor: VendorProfile | None = None) -> None:
        """Number, tax and payment terms; cross-border supplies within the group are reverse charge."""
        rng = self.rng
        doc.invoice_date = invoice_date
        doc.due_days = rng.choice((14, 30, 30, 30, 45, 60))
        supplier = vendor or doc.vendor
        if supplier is not None:
            doc.number = next_invoice_number(supplier, rng, invoice_date.year, normalize_invoice_number)
        else:
            doc.number = f"{rng.choice(('INV', 'RG', 'F'))}-{invoice_date.year}-{rng.randrange(100, 99999)}"
        cross_border = doc.vendor is not None and doc.vendor.country != doc.company.country
        doc.tax_rate = 0 if cross_border else doc.company.tax_rate
        doc.tax = (doc.net * doc.tax_rate + 50) // 100

    def _service_invoice(self, doc: Doc, invoice_date: date, net: int | None = None, text: str = "") -> None:
        rng = self.rng
        doc.net = net if net is not None else log_uniform(rng, 4_000, 2_000_000)
        doc.lines = [(text or f"{rng.choice(_SERVICES)} {invoice_date:%B %Y}", 1, doc.net, doc.net, None)]
        self._finish(doc, invoice_date)

    def _po_invoice(self, doc: Doc) -> None:
        rng = self.rng
        po = self._purchase_order(doc)
        received = po.received_value
        if doc.plant is Category.AMOUNT_MISMATCH:
            # 3-20 % over, and always clearly beyond the engine's tolerance of max(1.00, 1 %).
            delta = max(int(received * (0.03 + rng.random() * 0.17)), 100 + received // 100 + 50)
        elif doc.plant is None and rng.random() < rates.PO_WITHIN_TOLERANCE:
            delta = rng.choice((-1, 1)) * rng.randint(1, 50)
            doc.lookalike = doc.lookalike or "po_within_tolerance"
        else:
            delta = 0
        doc.lines = [
            (rng.choice(_GOODS), quantity, price, quantity * price, line_no) for line_no, quantity, price in po.lines
        ]
        desc, quantity, price, net, line_no = doc.lines[-1]
        doc.lines[-1] = (desc, quantity, price, net + delta, line_no)
        doc.net = received + delta
        last_receipt = max((r.ts for r in po.receipts), default=po.ts)
        capture_day, floor = to_date(doc.capture_ts), to_date(last_receipt)
        invoice_date = capture_day - timedelta(days=rng.randint(0, max(0, min(3, (capture_day - floor).days))))
        self._finish(doc, invoice_date)

    def _purchase_order(self, doc: Doc) -> PurchaseOrderPlan:
        rng = self.rng
        self._po_serial += 1
        po_ts = doc.capture_ts - 5 * DAY - int(rng.random() * 15 * DAY)
        lines = [
            (n, rng.choice(_QUANTITIES), log_uniform(rng, 200, 250_000))
            for n in range(1, rng.choice((1, 1, 1, 2, 2, 3, 4)) + 1)
        ]
        po = PurchaseOrderPlan(f"PO-{4500000000 + self._po_serial}", doc.vendor_id, doc.company, po_ts, lines)
        doc.po = po
        if doc.plant is Category.PO_MISSING:
            po.exists = False  # a number from the real sequence that was never created: a typo'd PO
            return po
        self.purchase_orders.append(po)
        if doc.plant is Category.GR_MISSING:
            return po
        # Goods arrive 1-10 days after the order and before the invoice is captured.
        latest = min(po_ts + 10 * DAY, doc.capture_ts - HOUR)
        first = po_ts + DAY + int(rng.random() * (latest - po_ts - DAY))
        if len(lines) > 1 and rng.random() < 0.12:
            split = rng.randint(1, len(lines) - 1)
            second = min(first + HOUR + int(rng.random() * max(0, latest - first - HOUR)), doc.capture_ts - 60)
            po.receipts = [
                Receipt(self._gr_number(), first, [(n, q) for n, q, _ in lines[:split]]),
                Receipt(self._gr_number(), second, [(n, q) for n, q, _ in lines[split:]]),
            ]
        else:
            po.receipts = [Receipt(self._gr_number(), first, [(n, q) for n, q, _ in lines])]
        return po

    def _gr_number(self) -> str:
        self._gr_serial += 1
        return f"GR-{5000000000 + self._gr_serial}"

    # -- look-alikes ------------------------------------------------------------------------------
    def _recurring_rent(self, pairs: int) -> None:
        """Last month's rent arrives late next to this month's: same landlord, same amount, new number."""
        rng = self.rng
        for _ in range(pairs):
            landlord = rng.choice(self.master.landlords)
            rent = rng.randrange(24, 760) * 5_000  # whole 50.00 steps, as leases are written
            for invoice_date, window in ((previous_month_first(self.start), 3), (self.start, 5)):
                ts = self._capture_between(self.start_ts, self.start_ts + window * DAY)
                doc = Doc(landlord.vendor_id, landlord, landlord.company, ts, lookalike="recurring_rent")
                self._service_invoice(doc, invoice_date, rent, f"Rent {invoice_date:%B %Y}, warehouse lease")
                self.docs.append(doc)

    def _instalments(self, size: int) -> None:
        rng = self.rng
        vendor = rng.choices(self.master.active, cum_weights=self.master.cum_weights)[0]
        amount = log_uniform(rng, 50_000, 1_500_000)
        day = rng.randint(0, 8)
        for k in range(1, size + 1):
            ts = self._office_hours(self.start_ts + day * DAY)
            doc = Doc(vendor.vendor_id, vendor, vendor.company, ts, lookalike="instalment")
            invoice_date = to_date(ts) - timedelta(days=rng.randint(0, 2))
            self._service_invoice(doc, invoice_date, amount, f"Instalment {k}/{size}")
            self.docs.append(doc)
            day += rng.randint(7, 10)

    def _references(self, n: int, latest_capture: int) -> list[Doc]:
        """Posted plain invoices another document will refer to; each is used once and then reserved."""
        candidates = [d for d in self.docs if d.plain and d.fate is Fate.POSTED and d.capture_ts <= latest_capture]
        chosen = self.rng.sample(candidates, min(n, len(candidates)))
        for doc in chosen:
            doc.reserved = True
        return chosen

    def _credit_notes(self, count: int) -> None:
        rng = self.rng
        for original in self._references(count, self.horizon - DAY - 2 * HOUR):
            room = min(10 * DAY, self.horizon - HOUR - original.capture_ts) - DAY
            ts = original.capture_ts + DAY + int(rng.random() * room)
            note = Doc(original.vendor_id, original.vendor, original.company, ts, credit_note=True)
            note.lookalike = "credit_note"
            note.net, note.tax_rate = original.net, original.tax_rate
            note.lines = [("Credit for returned goods", 1, note.net, note.net, None)]
            invoice_date = min(to_date(ts), original.dated() + timedelta(days=rng.randint(1, 10)))
            self._finish(note, invoice_date)
            note.tax = original.tax  # same amount as the invoice it credits, to the cent
            self.docs.append(note)

    def _duplicates(self, count: int) -> None:
        """Re-submissions: the same document keyed again 1-10 days later, its number or date written differently.

        Half are re-keyed (case, separators, zeros: the exact tier's catch); the rest are what OCR and
        tired hands make of a document: letters read for digits, two digits swapped, a prefix or year
        added, the date a few days off. Only the fuzzy tier catches those.
        """
        rng = self.rng
        for original in self._references(count, self.horizon - DAY - 2 * HOUR):
            room = min(10 * DAY, self.horizon - HOUR - original.capture_ts) - DAY
            ts = original.capture_ts + DAY + int(rng.random() * room)
            copy = Doc(original.vendor_id, original.vendor, original.company, ts, fate=Fate.ON_HOLD)
            copy.plant = Category.DUPLICATE_INVOICE
            copy.invoice_date, copy.due_days = original.invoice_date, original.due_days
            copy.net, copy.tax, copy.tax_rate = original.net, original.tax, original.tax_rate
            copy.lines, copy.po = original.lines, original.po
            copy.variant, copy.number = self._variant(original, copy)
            self.docs.append(copy)

    def _variant(self, original: Doc, copy: Doc) -> tuple[str, str]:
        """(how the copy differs, its supplier number); falls back to re-keying where a change cannot apply."""
        rng, number = self.rng, original.number
        kind = rng.choice(rates.DUPLICATE_VARIANTS)
        changed: str | None = None
        if kind == "ocr":
            changed = ocr_misread(number, rng)
        elif kind == "transposition":
            changed = mistype(number, rng, "transposition")
        elif kind == "affix":
            changed = add_affix(number, original.dated().year, rng)
        elif kind == "date_near":
            copy.invoice_date = original.dated() + timedelta(days=rng.choice((-3, -2, -1, 1)))
            changed = number
        if changed is None or (changed == number and kind != "date_near"):
            return "rekeyed", rekey(number, rng)
        return kind, changed
