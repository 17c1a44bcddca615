"""Payment matching per bank line against 10,000 and 1,000,000 open invoices: does it stay flat?

What it measures: CPU microseconds (time.process_time, not wall time: the machines are shared) per bank
line for the engine's own settlement path as `streams/settlements.py` `match_by_rules` runs it up to the
decision: `BankLine.of(settlement)`, `streams/payment_index.py` `candidates(line, ctx)` and
`matchers/payment_matching.py` `match_payment(...)`, against an in-memory engine state holding N open
posted invoices, for N = --open-small and --open-large in the same run. The same bank lines are matched
at both sizes; the result is the ratio of the two (target <= 1.3), the candidates each line looked at,
the outcomes (auto_matched / suggested / unmatched), and whether each line got the same decision at
both sizes.

    .venv/bin/python benchmarks/payment_speed.py [--open-large 1000000] [--open-small 10000] [--lines 2000]

The ledger (synthetic, built here; not labeled data):
- Vendors scale with N and each keeps the same number of open invoices at both sizes: --per-vendor
  (200) on average, from 40 to 360 in a fixed cycle, so 50 vendors hold 10,000 invoices and 5,000 vendors
  1,000,000. The subset-sum rule searches one counterparty's invoices, so a vendor's size is held fixed
  and only the ledger around it grows. Vendor v and its invoices are a function of (seed, v) alone: the
  small ledger is exactly the first vendors of the large one, and every bank line pays or names
  invoices of those first vendors, so each line has the same right answer at both sizes.
- Vendors: a `Vendor` with one IBAN (two for 15 %) and a made-up name (four random syllables, a trade,
  a legal form). No two of the 5,000 share a name index key (first word, start of the second), so a
  name-only line meets one vendor at both sizes; 2 of the first 50 have a look-alike among the 5,000
  (token_set_ratio >= 90, which the matcher takes as the same payee). Real vendor masters have more
  namesakes the more vendors they hold; each adds its open invoices to a name-only line's candidates.
  That growth is not modelled here.
- Invoices: a real `Invoice` (fully validated pydantic model), numbered the vendor's way with the
  synthetic generator's styles (`synthetic/names.py` format_number: "AB-2026-00042", "AB2026000042",
  "RE 2026/42", "00000042", "INV 000042") from a per-vendor running sequence; so, as in life, suppliers
  share numbers ("RE 2026/42" of many vendors) and a number's index key holds more invoices the more
  vendors there are. Dated over the 150 days before the booking date, due 14-60 days later, 40 EUR to
  20,000 EUR net (log-uniform) plus 19 % VAT, one vendor in four quoting ISO 11649 RF references,
  2 % credit notes. Each enters the state as `streams/invoices.py` leaves a posted invoice: an
  `InvoiceState` at stage BOOKED with its ERP document, then `payment_index.add_invoice(state, ctx)`.
  (The engine also files the invoice under its number as unposted at capture and takes that out at
  posting; the two cancel out, so they are skipped. The duplicate index and timers are not filled: the
  settlement path does not read them.) No payment instructions are open.
- Bank lines (`Settlement` models, debits booked 2026-11-25, default 2,000): 30 % name one or two
  invoice numbers in the text (with the counterparty's IBAN and name; some short by a bank charge,
  some with a customer number or a date beside), 20 % carry an RF reference (field or text), 20 %
  only the counterparty IBAN and an amount equal to one or two invoices falling due, 10 % only the
  counterparty name and an amount, 10 % cheques (amount only), 10 % match nothing (an unknown payee,
  a direct debit with a mandate and a date in the text).

Timing: both ledgers are built first (full pydantic validation, garbage collector off while building;
then collected and frozen, so a full collection over a million objects does not land in one size's
timing: the embedded runner does not freeze, so what the collector costs at scale is not measured
here). One untimed pass per size records candidates and decisions; then --passes timed passes
alternate small and large, and the fastest pass of each size counts (the one least disturbed by other
load). Lines are timed grouped by kind, which also gives µs per line per kind. Peak memory is the
process's peak RSS (getrusage) after each build; the large figure includes the small ledger (1 %).

What it does not measure: anything after the decision (no outputs emitted, no invoice closed, no
finding raised, the state never changes), holding lines for unposted invoices, returns, lines echoing
an end-to-end id, open payment instructions, the rocksdict store (decode and cache misses at 1M),
event parsing, Kafka, or the cost of the garbage collector over a large heap.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

from machine import machine
from reconstream.matchers import payment_matching as pm
from reconstream.models.accounts import AccountRef, AccountScheme
from reconstream.models.bank_details import BankTransactionCode
from reconstream.models.creditor_references import rf_reference
from reconstream.models.invoices import DocumentType, Invoice
from reconstream.models.master_data import BankAccount, Vendor
from reconstream.models.payments import CreditDebit, Settlement
from reconstream.streams import payment_index
from reconstream.streams.context import Context, Settings
from reconstream.synthetic.master_data import make_iban
from reconstream.synthetic.names import NUMBER_STYLES, format_number, number_prefix
from reconstream.tables.memory import MemoryStore, MemoryTable
from reconstream.tables.records import InvoiceStage, InvoiceState
from reconstream.tables.state import EngineState

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPO = HERE.parent

BOOKED = date(2026, 11, 25)  # the booking date of every bank line
SPAN_DAYS = 150  # open invoices are dated over this many days before it
CENT = Decimal("0.01")
VAT = Decimal(19)
# Open invoices per vendor, as shares of --per-vendor, in a fixed cycle (mean 1.0): 40..360 at 200.
SHAPE = (0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.2, 1.4, 1.6, 1.8)
_CONSONANTS, _VOWELS = "bdfghklmnprstvz", "aeiou"  # consonant-vowel pairs: never an umlaut spelling (AE, OE, UE)
_TRADES = (
    "Logistik", "Metallbau", "Verpackung", "Elektrotechnik", "Bürobedarf", "Gebäudeservice", "Kältetechnik",
    "Maschinenbau", "Industriebedarf", "Spedition", "Druckerei", "Anlagenbau",
)  # fmt: skip
_LEGAL_FORMS = ("GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG")
# Share of the bank lines of each kind (they add up to 1).
MIX: dict[str, float] = {
    "invoice_number_in_text": 0.30,
    "creditor_reference": 0.20,
    "iban_and_amount": 0.20,
    "name_and_amount": 0.10,
    "cheque": 0.10,
    "matches_nothing": 0.10,
}


# -- the ledger ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VendorPlan:
    number: int
    vendor: Vendor
    open_invoices: int
    style: str
    prefix: str
    first_sequence: int
    quotes_rf: bool


def log_uniform(rng: Random, low: int, high: int) -> int:
    return int(math.exp(math.log(low) + rng.random() * (math.log(high) - math.log(low))))


def first_word(rng: Random) -> str:
    """A made-up surname of four syllables: 31.6 million of them, so two vendors rarely share one, and two
    names rarely look alike to the fuzzy name comparison (made-up names from few syllables would)."""
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(4)).capitalize()


class Ledger:
    """Vendor v and its open invoices are a function of (seed, v, per_vendor): any size is a prefix."""

    def __init__(self, seed: int, per_vendor: int) -> None:
        self.seed, self.per_vendor = seed, per_vendor
        self.house = AccountRef(scheme=AccountScheme.IBAN, id=make_iban(Random(f"{seed}-house"), "DE"))

    def open_count(self, v: int) -> int:
        return max(1, round(self.per_vendor * SHAPE[(v * 3) % len(SHAPE)]))

    def plans(self, size: int) -> Iterator[VendorPlan]:
        """The vendors holding `size` open invoices (the last one cut to make it exact)."""
        v, left = 0, size
        while left > 0:
            plan = self.plan(v)
            count = min(left, plan.open_invoices)
            yield plan if count == plan.open_invoices else _cut(plan, count)
            left -= count
            v += 1

    def plan(self, v: int) -> VendorPlan:
        rng = Random(f"{self.seed}-vendor-{v}")
        name = f"{first_word(rng)} {rng.choice(_TRADES)} {rng.choice(_LEGAL_FORMS)}"
        ibans = [make_iban(rng, "DE") for _ in range(2 if rng.random() < 0.15 else 1)]
        vendor = Vendor(
            vendor_id=f"V{v:06d}",
            name=name,
            tax_id=f"DE{rng.randrange(10**8, 10**9)}",
            country="DE",
            bank_accounts=tuple(BankAccount(account=AccountRef(scheme=AccountScheme.IBAN, id=iban)) for iban in ibans),
        )
        return VendorPlan(
            v,
            vendor,
            self.open_count(v),
            rng.choice(NUMBER_STYLES),
            number_prefix(name),
            rng.randrange(1, 5_000),
            rng.random() < 0.25,
        )

    def invoices(self, plan: VendorPlan) -> Iterator[Invoice]:
        rng = Random(f"{self.seed}-invoices-{plan.number}")
        sequence = plan.first_sequence
        full = self.open_count(plan.number)  # dates spread as for the full vendor, also when cut
        for i in range(plan.open_invoices):
            sequence += 1 if rng.random() < 0.7 else rng.randrange(2, 40)
            invoice_date = BOOKED - timedelta(days=SPAN_DAYS - i * SPAN_DAYS // full)
            net = Decimal(log_uniform(rng, 4_000, 2_000_000)).scaleb(-2)
            tax = (net * VAT / 100).quantize(CENT)
            credit_note = rng.random() < 0.02
            yield Invoice(
                invoice_id=f"AP-{plan.number:06d}-{i:04d}",
                supplier_invoice_number=format_number(plan.style, plan.prefix, 2026, sequence),
                document_type=DocumentType.CREDIT_NOTE if credit_note else DocumentType.INVOICE,
                vendor_id=plan.vendor.vendor_id,
                company_code="1000",
                invoice_date=invoice_date,
                due_date=invoice_date + timedelta(days=rng.choice((14, 30, 30, 30, 45, 60))),
                currency="EUR",
                net_amount=net,
                tax_amount=tax,
                gross_amount=net + tax,
                creditor_reference=rf_reference(f"{plan.number:06d}{i:04d}") if plan.quotes_rf else None,
            )


def _cut(plan: VendorPlan, count: int) -> VendorPlan:
    return VendorPlan(plan.number, plan.vendor, count, plan.style, plan.prefix, plan.first_sequence, plan.quotes_rf)


def posted(invoice: Invoice, plan: VendorPlan, i: int) -> InvoiceState:
    """The state `streams/invoices.py` leaves once the ERP has posted the invoice."""
    captured = datetime.combine(invoice.invoice_date + timedelta(days=1), clock(9), tzinfo=UTC)
    return InvoiceState(
        invoice=invoice,
        correlation_id=f"corr-{invoice.invoice_id}",
        stage=InvoiceStage.BOOKED,
        captured_at=captured,
        approved_at=captured + timedelta(days=1),
        posted_at=captured + timedelta(days=2),
        erp_system="sap-s4hana",
        erp_document_number=f"51{plan.number:06d}{i:04d}",
        fiscal_year=2026,
    )


@dataclass(slots=True)
class Built:
    ctx: Context
    vendors: int
    open_invoices: int
    index_keys: int
    build_s: float
    build_cpu_s: float
    peak_rss_mb: float


def build(ledger: Ledger, size: int) -> Built:
    started, cpu = time.perf_counter(), time.process_time()
    gc.disable()  # a million acyclic models: the collector would only re-walk them
    ctx = Context(EngineState(MemoryStore()), Settings())
    vendors = invoices = 0
    for plan in ledger.plans(size):
        ctx.state.vendors[plan.vendor.vendor_id] = plan.vendor
        vendors += 1
        for i, invoice in enumerate(ledger.invoices(plan)):
            state = posted(invoice, plan, i)
            ctx.state.invoices[invoice.invoice_id] = state
            payment_index.add_invoice(state, ctx)  # booked: payable, so a bank line may pay it
            invoices += 1
    gc.enable()
    gc.collect()
    gc.freeze()
    index = ctx.state.payment_index
    assert isinstance(index, MemoryTable)  # a MemoryStore's table: a dict
    return Built(
        ctx,
        vendors,
        invoices,
        len(index),
        time.perf_counter() - started,
        time.process_time() - cpu,
        peak_rss_mb(),
    )


# -- the bank lines --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Probe:
    kind: str
    entry: Settlement


def _iban(value: str) -> AccountRef:
    return AccountRef(scheme=AccountScheme.IBAN, id=value)


def _grouped(reference: str) -> str:
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))


class Lines:
    """The bank lines: each pays or names invoices of the small ledger's vendors, or nobody."""

    def __init__(self, ledger: Ledger, small: int, seed: int) -> None:
        self.ledger, self.rng = ledger, Random(f"{seed}-lines")
        self.plans = list(ledger.plans(small))
        self.open = {plan.number: [i for i in ledger.invoices(plan)] for plan in self.plans}
        self.payable = {
            v: [i for i in invoices if i.document_type is DocumentType.INVOICE] for v, invoices in self.open.items()
        }
        self.rf_plans = [plan for plan in self.plans if plan.quotes_rf] or self.plans

    def make(self, count: int) -> list[Probe]:
        makers: dict[str, Callable[[str], Settlement]] = {
            "invoice_number_in_text": self.by_number,
            "creditor_reference": self.by_rf,
            "iban_and_amount": self.by_iban,
            "name_and_amount": self.by_name,
            "cheque": self.cheque,
            "matches_nothing": self.nothing,
        }
        kinds = [kind for kind, share in MIX.items() for _ in range(round(share * count))]
        return [Probe(kind, makers[kind](f"E-{k:05d}")) for k, kind in enumerate(kinds)]

    def _entry(self, entry_id: str, amount: Decimal, **fields: Any) -> Settlement:
        return Settlement(
            entry_id=entry_id,
            account=self.ledger.house,
            amount=amount,
            currency="EUR",
            credit_debit=CreditDebit.DBIT,
            booking_date=BOOKED,
            value_date=BOOKED,
            statement_id="STMT-2026-11-25",
            **fields,
        )

    def _payee(self, plans: list[VendorPlan] | None = None) -> tuple[VendorPlan, list[Invoice]]:
        plan = self.rng.choice(plans or self.plans)
        return plan, self.payable[plan.number]

    def _falling_due(self, invoices: list[Invoice], how_many: int) -> list[Invoice]:
        """Invoices due about now: what a payer pays, and what the subset search's pool holds."""
        near = sorted(invoices, key=lambda i: (abs(((i.due_date or i.invoice_date) - BOOKED).days), i.invoice_id))
        return self.rng.sample(near[:10], min(how_many, len(near)))

    def by_number(self, entry_id: str) -> Settlement:
        plan, invoices = self._payee()
        rng = self.rng
        named = rng.sample(invoices, 2 if rng.random() < 0.2 else 1)
        amount = sum((i.gross_amount for i in named), Decimal(0))
        if len(named) == 1 and rng.random() < 0.15:
            amount -= Decimal("7.50")  # the payer's bank took its charge
        numbers = " ".join(i.supplier_invoice_number for i in named)
        text = rng.choice(
            (
                numbers,
                f"RECHNUNG {numbers}",
                f"RE {numbers} KD-NR {rng.randrange(10_000, 99_999)}",
                f"INVOICE {numbers} DATED {named[0].invoice_date:%d.%m.%Y}",
            )
        )
        account = plan.vendor.bank_accounts[0].account
        return self._entry(
            entry_id,
            amount,
            counterparty_account=account,
            counterparty_name=plan.vendor.name.upper(),
            remittance_info=text,
        )

    def by_rf(self, entry_id: str) -> Settlement:
        plan, invoices = self._payee(self.rf_plans)
        invoice = self.rng.choice(invoices)
        reference = invoice.creditor_reference
        account, name = plan.vendor.bank_accounts[0].account, plan.vendor.name.upper()
        if reference is not None and self.rng.random() < 0.3:
            return self._entry(
                entry_id, invoice.gross_amount, counterparty_account=account, counterparty_name=name,
                remittance_info=_grouped(reference),
            )  # fmt: skip
        return self._entry(
            entry_id, invoice.gross_amount, counterparty_account=account, counterparty_name=name,
            creditor_reference=reference,
        )  # fmt: skip

    def by_iban(self, entry_id: str) -> Settlement:
        plan, invoices = self._payee()
        paid = self._falling_due(invoices, 2 if self.rng.random() < 0.4 else 1)
        amount = sum((i.gross_amount for i in paid), Decimal(0))
        return self._entry(entry_id, amount, counterparty_account=self.rng.choice(plan.vendor.bank_accounts).account)

    def by_name(self, entry_id: str) -> Settlement:
        plan, invoices = self._payee()
        (paid,) = self._falling_due(invoices, 1)
        return self._entry(entry_id, paid.gross_amount, counterparty_name=plan.vendor.name.upper())

    def cheque(self, entry_id: str) -> Settlement:
        _, invoices = self._payee()
        code = BankTransactionCode(domain="PMNT", family="ICHQ", subfamily="CCHQ")
        return self._entry(entry_id, self.rng.choice(invoices).gross_amount, bank_transaction_code=code)

    def nothing(self, entry_id: str) -> Settlement:
        rng = self.rng
        payee = rng.choice(("TELEKOM DEUTSCHLAND", "FINANZAMT MITTE", "CARD ACQUIRING SERVICES", "STADTWERKE"))
        text = rng.choice(
            (
                f"LASTSCHRIFT MANDAT {rng.randrange(100_000, 999_999)} {BOOKED - timedelta(days=1):%Y-%m-%d}",
                f"KARTENUMSATZ {BOOKED:%d.%m.%Y}",
                "GEBUEHREN KONTOFUEHRUNG",
            )
        )
        amount = Decimal(log_uniform(rng, 1_000, 500_000)).scaleb(-2)
        return self._entry(
            entry_id, amount, counterparty_account=_iban(make_iban(rng, "DE")), counterparty_name=payee,
            remittance_info=text,
        )  # fmt: skip


# -- measuring -------------------------------------------------------------------------------------
def decide(probe: Probe, ctx: Context) -> tuple[int, pm.PaymentDecision]:
    """`match_by_rules` up to its decision: the line, its candidates from the index, the matcher's verdict."""
    line = pm.BankLine.of(probe.entry)
    instructions, invoices = payment_index.candidates(line, ctx)
    decision = pm.match_payment(line, instructions, invoices, ctx.settings.match_policy)
    return len(instructions) + len(invoices), decision


def audit(ctx: Context, probes: list[Probe]) -> list[tuple[str, int, str, tuple[str, ...]]]:
    """Untimed: per line its kind, candidates, outcome and the invoices it would settle."""
    seen = []
    for probe in probes:
        candidates, decision = decide(probe, ctx)
        target = decision.match.target if decision.match is not None else ()
        seen.append((probe.kind, candidates, str(decision.outcome), target))
    return seen


def timed_pass(ctx: Context, by_kind: dict[str, list[Probe]]) -> dict[str, float]:
    """CPU seconds per kind of line for one pass over every line."""
    spent = {}
    for kind, probes in by_kind.items():
        started = time.process_time()
        for probe in probes:
            decide(probe, ctx)
        spent[kind] = time.process_time() - started
    return spent


def summary(
    built: Built, audited: list[tuple[str, int, str, tuple[str, ...]]], passes: list[dict[str, float]]
) -> dict[str, Any]:
    lines = len(audited)
    totals = [sum(p.values()) for p in passes]
    per_kind = {}
    for kind in MIX:
        rows = [row for row in audited if row[0] == kind]
        if rows:
            per_kind[kind] = {
                "lines": len(rows),
                "cpu_us_per_line": round(min(p[kind] for p in passes) / len(rows) * 1e6, 1),
                "candidates_per_line": round(sum(r[1] for r in rows) / len(rows), 2),
                "outcomes": dict(sorted(Counter(r[2] for r in rows).items())),
            }
    return {
        "open_invoices": built.open_invoices,
        "vendors": built.vendors,
        "open_invoices_per_vendor": round(built.open_invoices / built.vendors, 1),
        "lines": lines,
        "cpu_us_per_line": round(min(totals) / lines * 1e6, 1),
        "cpu_us_per_line_each_pass": [round(t / lines * 1e6, 1) for t in totals],
        "candidates_per_line": round(sum(r[1] for r in audited) / lines, 2),
        "candidates_max": max(r[1] for r in audited),
        "outcomes": dict(sorted(Counter(r[2] for r in audited).items())),
        "index_keys": built.index_keys,
        "build_s": round(built.build_s, 1),
        "build_cpu_s": round(built.build_cpu_s, 1),
        "build_us_per_invoice": round(built.build_s / built.open_invoices * 1e6, 1),
        "peak_rss_mb": round(built.peak_rss_mb),
        "by_kind": per_kind,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine_tree() -> dict[str, object]:
    """Which engine was measured: the commit and any uncommitted change under the engine's folders."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "matchers", "streams", "tables", "models").splitlines()
    return {"commit": git("rev-parse", "HEAD") or None, "uncommitted": [line.strip() for line in changed]}


def run(small: int, large: int, count: int, per_vendor: int, passes: int, seed: int) -> dict[str, Any]:
    ledger = Ledger(seed, per_vendor)
    baseline = peak_rss_mb()
    probes = Lines(ledger, small, seed).make(count)
    by_kind = {kind: [p for p in probes if p.kind == kind] for kind in MIX}
    built = {size: build(ledger, size) for size in (small, large)}
    audited = {size: audit(built[size].ctx, probes) for size in (small, large)}
    timings: dict[int, list[dict[str, float]]] = {small: [], large: []}
    for _ in range(passes):  # alternate, so a spell of load on the machine hits both sizes
        for size in (small, large):
            timings[size].append(timed_pass(built[size].ctx, by_kind))
    sizes = {size: summary(built[size], audited[size], timings[size]) for size in (small, large)}
    alike = [a[2:] == b[2:] for a, b in zip(audited[small], audited[large], strict=True)]
    differing = Counter(row[0] for row, same in zip(audited[small], alike, strict=True) if not same)
    ratio = sizes[large]["cpu_us_per_line"] / sizes[small]["cpu_us_per_line"]
    kind_ratios = {
        kind: round(
            sizes[large]["by_kind"][kind]["cpu_us_per_line"] / sizes[small]["by_kind"][kind]["cpu_us_per_line"], 3
        )
        for kind in sizes[small]["by_kind"]
    }
    return {
        "baseline_rss_mb": round(baseline),
        **{f"open_{size}": sizes[size] for size in (small, large)},
        "decisions_alike": sum(alike),
        "decisions_differing_by_kind": dict(sorted(differing.items())),
        "ratio_large_to_small": round(ratio, 3),
        "ratio_large_to_small_by_kind": kind_ratios,
        "target": "ratio_large_to_small <= 1.3",
        "target_met": ratio <= 1.3,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open-small", type=int, default=10_000)
    parser.add_argument("--open-large", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=2_000, help="bank lines, matched at both sizes")
    parser.add_argument("--per-vendor", type=int, default=200, help="open invoices per vendor, on average")
    parser.add_argument("--passes", type=int, default=5, help="timed passes per size; the fastest counts")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, default=RESULTS / "payment_speed.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "payment_matching_speed",
        "data": "synthetic ledger built by this benchmark; not labeled data",
        "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "machine": machine(),
        "engine": engine_tree(),
        "parameters": {
            "open_small": args.open_small,
            "open_large": args.open_large,
            "lines": args.lines,
            "mix": MIX,
            "open_invoices_per_vendor": f"{args.per_vendor} on average, {min(SHAPE) * args.per_vendor:.0f} to "
            f"{max(SHAPE) * args.per_vendor:.0f}, the same at both sizes",
            "passes": args.passes,
            "seed": args.seed,
            "booking_date": BOOKED.isoformat(),
            "measured": "CPU time (time.process_time) of BankLine.of + payment_index.candidates + match_payment, "
            "fastest of the passes",
            "match_policy": "Settings() defaults",
        },
    }
    result |= run(args.open_small, args.open_large, args.lines, args.per_vendor, args.passes, args.seed)
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    small, large = result[f"open_{args.open_small}"], result[f"open_{args.open_large}"]
    print(
        json.dumps(
            {
                "us_per_line": [small["cpu_us_per_line"], large["cpu_us_per_line"]],
                "candidates_per_line": [small["candidates_per_line"], large["candidates_per_line"]],
                "ratio_large_to_small": result["ratio_large_to_small"],
                "target_met": result["target_met"],
            },
            separators=(",", ":"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
