"""One synthetic month-end: master data, AP, ERP, payment runs and the bank, with labelled anomalies.

Everything draws from one `random.Random(seed)` in a fixed order and nothing reads the clock, so the same
(invoices, seed, start) always writes the same bytes.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from random import Random

import orjson
from reconstream.models.exceptions import Category

from . import rates
from .ap_events import ApFlow, emit_purchase_orders, emit_vendors
from .clock import Formatter, at, month_end
from .corruption import Noise
from .invoices import InvoiceBook
from .journal import Journal
from .labels import Labels, Planting
from .master_data import build_vendor_master
from .payments import PaymentDesk
from .statements import emit_statements

LABELS_FILE = "labels.json"
ERP_FAULTS_FILE = "erp_faults.json"  # beside labels.json: not an input stream, the run never reads it


def generate(
    out_dir: Path,
    invoices: int,
    seed: int,
    start: date = date(2026, 11, 1),
    posted_by_service: frozenset[str] = frozenset(),
) -> Labels:
    """Write the 8 input streams and labels.json into `out_dir`; return the labels.

    The invoices of the company codes in `posted_by_service` get no ERP answer in the month: a posting
    service posts them, and erp_faults.json says which of them the ERP refuses (with its error) or never
    answers, the anomalies planted on them."""
    rng = Random(seed)  # noqa: S311 - made-up data, no secret: one seed must give the same month every time
    end = month_end(start)
    start_ts, horizon = at(start), at(end)
    counts = rates.planted_counts(invoices)
    fmt = Formatter()
    planting = Planting()
    journal = Journal(rng, fmt, horizon)

    master = build_vendor_master(
        rng,
        active_count=min(4000, max(30, invoices // 40)),
        landlord_count=max(2, rates.share(invoices, rates.RECURRING_RENT_PAIRS) // 2),
        # One blocked vendor per planted invoice, and a few more that send nothing at all.
        inactive_count=counts[Category.INACTIVE_VENDOR] + 3,
    )
    # The vendor master is loaded well before the first purchase orders of the month's invoices.
    emit_vendors(journal, master, at(start - timedelta(days=28), 6))

    book = InvoiceBook(rng, master, start, end)
    docs = book.build(invoices, counts)
    emit_purchase_orders(journal, book.purchase_orders, fmt)
    flow = ApFlow(journal, fmt, rng, planting, posted_by_service)
    flow.emit(docs)

    desk = PaymentDesk(rng, master, start, end, master.known_ibans())
    desk.plan([doc for doc in docs if doc.posted_ts is not None and not doc.credit_note], counts)
    desk.emit(journal, fmt, planting)
    desk.emit_unmatched(journal, fmt, planting, counts[Category.UNMATCHED_SETTLEMENT], start)
    desk.emit_payroll_and_charges(journal, fmt, start)

    # The banks' statements add up what the journal booked on each account: written after every settlement.
    emit_statements(journal, fmt, rng, planting, master.companies, start, end, counts[Category.BALANCE_MISMATCH])

    noise = Noise(rng, journal, fmt, master, planting)
    noise.schema_violations(counts[Category.SCHEMA_VIOLATION], start_ts)
    journal.sort()
    inserts = [*noise.redeliveries(), *noise.garbage(counts[Category.MALFORMED_EVENT])]

    out_dir.mkdir(parents=True, exist_ok=True)
    events, labelled = journal.write(out_dir, inserts)
    for category, ref in labelled:
        planting.plant(category, ref)
    planting.close(journal.last_valid)
    labels = planting.labels(seed, invoices, events)
    (out_dir / LABELS_FILE).write_bytes(orjson.dumps(labels.model_dump(), option=orjson.OPT_INDENT_2) + b"\n")
    if posted_by_service:
        planted = {label.ref for label in labels.planted}
        faults = flow.erp_faults.to_json(planted)
        (out_dir / ERP_FAULTS_FILE).write_bytes(orjson.dumps(faults, option=orjson.OPT_INDENT_2) + b"\n")
    return labels


def load_labels(path: Path) -> Labels:
    """labels.json of a generated folder (or the file itself)."""
    path = path / LABELS_FILE if path.is_dir() else path
    return Labels.model_validate_json(path.read_bytes())
