"""Matching quality on a labeled set of hard cases, and what blocking does for the duplicate check's speed.

Duplicates: precision, recall and F1 of the fuzzy duplicate check, streamed in capture order with a
blocking-key index (as the invoice handler does). Payments: auto-match rate of matchable lines, false
matches among auto-matches, and suggestions, with a line never applied twice. Speed: microseconds per
invoice for the duplicate check against 10,000 and 1,000,000 open invoices in the same run.

    .venv/bin/python benchmarks/quality.py [--invoices 20000] [--lines 5000] [--open-large 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random

from reconstream.matchers import duplicates
from reconstream.matchers.duplicates import SupplierIdentity
from reconstream.matchers.payment_matching import (
    BankLine,
    OpenInstruction,
    OpenInvoice,
    Outcome,
    PaymentDecision,
    instruction_keys,
    invoice_keys,
    line_keys,
    match_payment,
)
from reconstream.models.invoices import DocumentType, Invoice
from reconstream.synthetic.quality import DuplicateSet, PaymentSet, duplicate_set, payment_set

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


# -- duplicates ------------------------------------------------------------------------------------
def run_duplicates(data: DuplicateSet) -> dict[str, object]:
    index: dict[str, list[Invoice]] = defaultdict(list)
    group = {copy: original for copy, original in data.duplicate_of.items()}
    flagged: dict[str, tuple[str, int, str]] = {}
    started = time.perf_counter()
    for invoice in data.invoices:
        identity = data.identities.get(invoice.vendor_id)
        keys = duplicates.duplicate_keys(invoice, identity)
        candidates = [earlier for key in keys for earlier in index.get(key, ())]
        decision = duplicates.check_duplicate(invoice, candidates, data.identities)
        if decision is not None:
            flagged[invoice.invoice_id] = (decision.earlier_invoice_id, decision.score, decision.rule)
        for key in keys:
            index[key].append(invoice)
    seconds = time.perf_counter() - started

    def same_document(a: str, b: str) -> bool:
        return group.get(a, a) == group.get(b, b)

    true_flags = [i for i, (earlier, _, _) in flagged.items() if i in group and same_document(i, earlier)]
    false_flags = [i for i in flagged if i not in true_flags]
    missed = [i for i in group if i not in true_flags]
    precision = len(true_flags) / len(flagged) if flagged else 1.0
    recall = len(true_flags) / len(group) if group else 1.0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for copy in group:
        by_kind[data.kinds[copy]][0] += 1
        by_kind[data.kinds[copy]][1] += copy in true_flags
    return {
        "invoices": len(data.invoices),
        "planted_duplicates": len(group),
        "duplicate_share": round(len(group) / len(data.invoices), 4),
        "lookalikes": sum(1 for kind in data.kinds.values() if kind.startswith("lookalike:")),
        "flagged": len(flagged),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "recall_by_kind": {kind: f"{hit}/{total}" for kind, (total, hit) in sorted(by_kind.items())},
        "false_flags": [
            f"{i}->{flagged[i][0]} {data.kinds.get(i, 'regular')} ({flagged[i][2]})" for i in false_flags[:10]
        ],
        "missed": [f"{i} {data.kinds[i]}" for i in missed[:10]],
        "us_per_invoice": round(seconds / len(data.invoices) * 1e6, 1),
    }


# -- payments --------------------------------------------------------------------------------------
class OpenItems:
    """The state a settlement handler keeps: open invoices and instructions behind blocking keys."""

    def __init__(self, invoices: list[OpenInvoice], instructions: list[OpenInstruction]) -> None:
        self.invoices = {invoice.invoice_id: invoice for invoice in invoices}
        self.instructions = {instruction.end_to_end_id: instruction for instruction in instructions}
        self.index: dict[str, set[str]] = defaultdict(set)
        for invoice in invoices:
            for key in invoice_keys(invoice):
                self.index[key].add(invoice.invoice_id)
        for instruction in instructions:
            for key in instruction_keys(instruction):
                self.index[key].add(instruction.end_to_end_id)

    def candidates(self, line: BankLine) -> tuple[list[OpenInstruction], list[OpenInvoice]]:
        found = {item for key in line_keys(line) for item in self.index.get(key, ())}
        instructions = [self.instructions[i] for i in sorted(found) if i in self.instructions]
        invoices = [self.invoices[i] for i in sorted(found) if i in self.invoices]
        return instructions, invoices

    def apply(self, decision: PaymentDecision) -> None:
        match = decision.match
        assert match is not None
        if match.end_to_end_id is not None:
            self.instructions.pop(match.end_to_end_id, None)
            for invoice_id in match.invoice_ids:
                self.invoices.pop(invoice_id, None)
        for allocation in match.allocations:
            invoice = self.invoices.get(allocation.invoice_id)
            if invoice is None:
                continue
            if allocation.closes:
                del self.invoices[allocation.invoice_id]
            else:
                left = invoice.open_amount - allocation.amount
                self.invoices[invoice.invoice_id] = OpenInvoice(**{**_fields(invoice), "open_amount": left})


def _fields(invoice: OpenInvoice) -> dict[str, object]:
    return {name: getattr(invoice, name) for name in OpenInvoice.__slots__}


def run_payments(data: PaymentSet) -> dict[str, object]:
    items = OpenItems(data.invoices, data.instructions)
    seen: set[str] = set()
    auto = correct = wrong = suggested = unmatched = 0
    matchable = sum(1 for truth in data.truth.values() if truth.matchable)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # lines, right auto, wrong auto, suggested
    wrong_samples: list[str] = []
    started = time.perf_counter()
    for line in data.lines:
        if line.entry_id in seen:
            continue  # one bank line is applied once, whatever a later statement repeats
        seen.add(line.entry_id)
        truth = data.truth[line.entry_id]
        decision = match_payment(line, *items.candidates(line))
        row = by_kind[truth.kind]
        row[0] += 1
        if decision.outcome is Outcome.AUTO_MATCHED:
            assert decision.match is not None
            auto += 1
            items.apply(decision)
            if truth.matchable and frozenset(decision.match.invoice_ids) == truth.invoice_ids:
                correct += 1
                row[1] += 1
            else:
                wrong += 1
                row[2] += 1
                if len(wrong_samples) < 10:
                    wrong_samples.append(f"{line.entry_id} {truth.kind}: {decision.match.rule} {decision.reason}")
        elif decision.outcome is Outcome.SUGGESTED:
            suggested += 1
            row[3] += 1
        else:
            unmatched += 1
    seconds = time.perf_counter() - started
    lines = len(seen)
    return {
        "lines": lines,
        "matchable_lines": matchable,
        "auto_matched": auto,
        "auto_match_rate": round(correct / matchable, 4) if matchable else 1.0,
        "false_match_rate": round(wrong / auto, 5) if auto else 0.0,
        "false_matches": wrong,
        "suggestion_rate": round(suggested / lines, 4) if lines else 0.0,
        "unmatched_rate": round(unmatched / lines, 4) if lines else 0.0,
        "by_kind": {kind: dict(zip(("lines", "auto_right", "auto_wrong", "suggested"), row, strict=True))
                    for kind, row in sorted(by_kind.items())},
        "false_match_samples": wrong_samples,
        "us_per_line": round(seconds / lines * 1e6, 1) if lines else 0.0,
    }


# -- speed: blocking keeps the cost per invoice flat -----------------------------------------------
class Ledger:
    """Open invoices defined by their number alone, so a million of them cost no memory to hold.

    The index maps a key's hash to the invoice numbers under it (a hash table, as a keyed state store
    is): the same structure at every size, so the measured difference is what the candidate lists cost.
    """

    def __init__(self, seed: int, vendors: int) -> None:
        self.seed, self.vendors = seed, vendors
        rng = Random(seed)
        self.identities = {
            f"S{v:06d}": SupplierIdentity(f"S{v:06d}", f"DE{rng.randrange(10**8, 10**9)}") for v in range(vendors)
        }

    def invoice(self, n: int, invoice_id: str | None = None) -> Invoice:
        rng = Random(self.seed * 10_000_019 + n)
        vendor = rng.randrange(self.vendors)
        cents = int(10 ** (3.5 + rng.random() * 3))
        net = Decimal(cents).scaleb(-2)
        tax = (net * 19 / 100).quantize(Decimal("0.01"))
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
        return Invoice.model_construct(
            invoice_id=invoice_id or f"L-{n:07d}",
            supplier_invoice_number=f"{chr(65 + vendor % 26)}{chr(65 + vendor // 26 % 26)}-2026-{n:07d}",
            document_type=DocumentType.INVOICE,
            vendor_id=f"S{vendor:06d}",
            company_code="1000",
            invoice_date=day,
            due_date=day + timedelta(days=30),
            currency="EUR",
            net_amount=net,
            tax_amount=tax,
            gross_amount=net + tax,
            po_number=None,
            lines=(),
        )

    def keys(self, invoice: Invoice) -> list[str]:
        return duplicates.duplicate_keys(invoice, self.identities[invoice.vendor_id])

    def build(self, size: int) -> dict[int, int | list[int]]:
        index: dict[int, int | list[int]] = {}
        for n in range(size):
            for key in self.keys(self.invoice(n)):
                held = index.setdefault(hash(key), n)
                if held != n:
                    index[hash(key)] = [*held, n] if isinstance(held, list) else [held, n]
        return index

    def lookup(self, index: dict[int, int | list[int]], key: str) -> list[int]:
        held = index.get(hash(key))
        return [] if held is None else held if isinstance(held, list) else [held]


def probes(ledger: Ledger, size: int, count: int) -> list[Invoice]:
    """New invoices; every tenth re-keys one already open (a duplicate the check must find)."""
    rng = Random(ledger.seed + 1)
    result = []
    for k in range(count):
        if k % 10 == 0:
            original = ledger.invoice(rng.randrange(size))
            number = original.supplier_invoice_number.lower().replace("-", " ")
            result.append(original.model_copy(update={"invoice_id": f"P-{k}", "supplier_invoice_number": number}))
        else:
            result.append(ledger.invoice(5_000_000 + k, f"P-{k}"))  # beyond every ledger size
    return result


def time_checks(ledger: Ledger, index: dict[int, int | list[int]], invoices: list[Invoice]) -> tuple[float, int, int]:
    found = candidates_seen = 0
    started = time.perf_counter()
    for invoice in invoices:
        ids = {n for key in ledger.keys(invoice) for n in ledger.lookup(index, key)}
        candidates = [ledger.invoice(n) for n in sorted(ids)]
        candidates_seen += len(candidates)
        found += duplicates.check_duplicate(invoice, candidates, ledger.identities) is not None
    return (time.perf_counter() - started) / len(invoices) * 1e6, found, candidates_seen


def run_speed(small: int, large: int, count: int, seed: int) -> dict[str, object]:
    ledger = Ledger(seed, vendors=5_000)
    result: dict[str, object] = {"vendors": ledger.vendors, "probes": count}
    timings: dict[int, float] = {}
    for size in (small, large):
        started = time.perf_counter()
        index = ledger.build(size)
        built = time.perf_counter() - started
        checks = probes(ledger, min(size, small), count)  # the same probes (and duplicates) at both sizes
        time_checks(ledger, index, checks[: count // 10])  # warm up
        # Best of five passes: the machine is shared, and the fastest pass is the one least disturbed.
        micros, found, seen = min(time_checks(ledger, index, checks) for _ in range(5))
        timings[size] = micros
        result[f"open_{size}"] = {
            "us_per_invoice": round(micros, 1),
            "candidates_per_invoice": round(seen / count, 2),
            "duplicates_found": found,
            "index_entries": len(index),
            "index_build_s": round(built, 1),
        }
        del index
    result["ratio_large_to_small"] = round(timings[large] / timings[small], 3)
    return result


# -- the run ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=20_000, help="invoices in the labeled duplicate set")
    parser.add_argument("--duplicate-rate", type=float, default=0.02, help="share of re-submitted copies")
    parser.add_argument("--lines", type=int, default=5_000, help="bank lines in the labeled payment set")
    parser.add_argument("--open-small", type=int, default=10_000)
    parser.add_argument("--open-large", type=int, default=1_000_000, help="0 skips the speed run")
    parser.add_argument("--probes", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result: dict[str, object] = {
        "benchmark": "matching_quality",
        "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "seed": args.seed,
    }
    result["duplicates"] = run_duplicates(duplicate_set(args.invoices, args.seed, args.duplicate_rate))
    result["payments"] = run_payments(payment_set(args.lines, args.seed))
    if args.open_large:
        result["speed"] = run_speed(args.open_small, args.open_large, args.probes, args.seed)
    result["targets_met"] = _targets(result)
    result["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    summary = {
        "duplicates": {k: result["duplicates"][k] for k in ("precision", "recall", "f1")},  # type: ignore[index]
        "payments": {
            k: result["payments"][k]  # type: ignore[index]
            for k in ("auto_match_rate", "false_match_rate", "suggestion_rate")
        },
        "speed": {
            k: v for k, v in (result.get("speed") or {}).items() if k.startswith("open_") or k.startswith("ratio")  # type: ignore[union-attr]
        },
        "targets_met": result["targets_met"],
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0


def _targets(result: dict[str, object]) -> dict[str, bool]:
    dup: dict[str, float] = result["duplicates"]  # type: ignore[assignment]
    pay: dict[str, float] = result["payments"]  # type: ignore[assignment]
    targets = {
        "duplicate_precision>=0.98": dup["precision"] >= 0.98,
        "duplicate_recall>=0.95": dup["recall"] >= 0.95,
        "auto_match_rate>=0.95": pay["auto_match_rate"] >= 0.95,
        "false_match_rate<=0.002": pay["false_match_rate"] <= 0.002,
    }
    speed: dict[str, float] | None = result.get("speed")  # type: ignore[assignment]
    if speed is not None:
        targets["speed_ratio<=1.5"] = speed["ratio_large_to_small"] <= 1.5
    return targets


def _cpus() -> int | None:
    import os

    return os.cpu_count()


_: Callable[..., object] = sys.exit
if __name__ == "__main__":
    sys.exit(main())
