"""How a month's records spread over Kafka partitions: the ledger key of today against finer keys.

Today every record is keyed by its company code (shells/kafka/routing.py), so one dominant company code
puts most of a month on one partition whatever the partition count. The design in docs/performance.md
keys AP documents by supplier and bank lines by the supplier their counterparty resolves to, through a
repartition step. This simulates both on the same input, as `recon produce` would key it (murmur2, the
Java clients' default partitioner, which it sets), and reports each partition's load. Nothing is built.

    .venv/bin/python benchmarks/skew.py [--input benchmarks/.data/month-end-20000-7] [--partitions 6 12 24]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconstream.models.events import Event, EventError, Stream, parse
from reconstream.shells.kafka.routing import BROADCAST, LedgerRouter

HERE = Path(__file__).resolve().parent


def events(input_dir: Path) -> Iterator[Event]:
    for stream in Stream:
        path = input_dir / f"{stream.value}.jsonl"
        if not path.exists():
            continue
        with path.open("rb") as handle:
            for raw in handle:
                try:
                    yield parse(raw.rstrip(b"\r\n"), stream)
                except EventError:
                    continue  # refused input: dead-lettered where it lands, not part of the load


class SupplierRouter:
    """Finer keys: the supplier a record is about. A payment run splits into its instructions; a bank line
    goes to the supplier its end-to-end id or counterparty account resolves to (the repartition step),
    else stays keyed by its house account, where unresolved lines are worked today too."""

    def __init__(self) -> None:
        self.po_vendor: dict[str, str] = {}
        self.invoice_vendor: dict[str, str] = {}
        self.e2e_vendor: dict[str, str] = {}
        self.account_vendor: dict[str, str] = {}

    def keys_for(self, event: Event) -> list[str]:
        payload: Any = event.payload
        match event.event_type:
            case "vendor.upserted":
                for account in payload.bank_accounts:
                    self.account_vendor[account.account.key] = payload.vendor_id
                return [f"vendor:{payload.vendor_id}"]  # master data goes to its supplier's partition only
            case "purchase_order.created":
                self.po_vendor[payload.po_number] = payload.vendor_id
                return [f"vendor:{payload.vendor_id}"]
            case "goods_receipt.posted":
                return [f"vendor:{self.po_vendor.get(payload.po_number, payload.po_number)}"]
            case "invoice.captured":
                self.invoice_vendor[payload.invoice_id] = payload.vendor_id
                return [f"vendor:{payload.vendor_id}"]
            case "invoice.status_changed":
                return [f"vendor:{self.invoice_vendor.get(payload.invoice_id, payload.invoice_id)}"]
            case "payment_batch.released":
                keys = []
                for instruction in payload.instructions:
                    self.e2e_vendor[instruction.end_to_end_id] = instruction.vendor_id
                    keys.append(f"vendor:{instruction.vendor_id}")
                return keys
            case "bank_ack.received":
                statuses = payload.transactions or ()
                return [f"vendor:{self.e2e_vendor.get(t.end_to_end_id, t.end_to_end_id)}" for t in statuses] or [
                    f"batch:{payload.original_batch_id}"
                ]
            case "settlement.booked":
                vendor = self.e2e_vendor.get(payload.end_to_end_id or "") or self.account_vendor.get(
                    payload.counterparty_key or ""
                )
                return [f"vendor:{vendor}" if vendor else f"account:{payload.account.key}"]
            case _:
                return [f"account:{payload.account.key}"]


def partition(key: str, partitions: int) -> int:
    """The Java clients' default partitioner, which `recon produce` sets (murmur2_random)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), on unsigned 32-bit words."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) & ~3
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    return h ^ (h >> 15)


def loads(input_dir: Path, partitions: int) -> dict[str, Any]:
    ledger, supplier = LedgerRouter(), SupplierRouter()
    by_ledger, by_supplier = Counter[int](), Counter[int]()
    for event in events(input_dir):
        key = ledger.key_for(event)
        targets = range(partitions) if key == BROADCAST else [partition(key, partitions)]
        for target in targets:
            by_ledger[target] += 1
        for key in supplier.keys_for(event):
            by_supplier[partition(key, partitions)] += 1
    return {
        "partitions": partitions,
        "company_code_keys": _spread(by_ledger, partitions),
        "supplier_keys_with_repartition": _spread(by_supplier, partitions),
    }


def _spread(counts: Counter[int], partitions: int) -> dict[str, Any]:
    per = [counts.get(p, 0) for p in range(partitions)]
    mean = sum(per) / partitions
    return {
        "records_per_partition": per,
        "largest_vs_mean": max(per) / mean if mean else 0.0,
        "largest_share": max(per) / sum(per) if sum(per) else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=HERE / ".data" / "month-end-20000-7")
    parser.add_argument("--partitions", type=int, nargs="+", default=[6, 12, 24])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "skew.json")
    args = parser.parse_args()
    result = {
        "benchmark": "partition load of one month, company-code keys against supplier keys (simulated)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": str(args.input.relative_to(HERE.parent) if args.input.is_relative_to(HERE.parent) else args.input),
        "spread": [loads(args.input, n) for n in args.partitions],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
