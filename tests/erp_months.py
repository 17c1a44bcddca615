"""What the ERP posting tests share: a generated month whose postings come from the posting service (the
generator's own posted and posting_failed statuses taken out), its posting requests as the engine emits them,
a config file posting to a simulator, and a queue drained through one ERP in the test's own process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from reconstream.shells.erp.queue import PostingQueue, Verdict
from reconstream.shells.erp.service import Lane, PostingService
from reconstream.synthetic import generate

RECON = [str(Path(sys.executable).parent / "recon")]
ERP_STATUSES = {"posted", "posting_failed"}


@dataclass(frozen=True)
class Month:
    input_dir: Path
    company_codes: list[str]
    vendors: list[str]


def month_without_postings(folder: Path, invoices: int, seed: int) -> Month:
    """A generated month whose invoices are approved in AP but posted by nobody yet."""
    generate(folder, invoices=invoices, seed=seed)
    status = folder / "invoice_status.jsonl"
    kept = [line for line in status.read_bytes().splitlines() if _status(line) not in ERP_STATUSES]
    status.write_bytes(b"".join(line + b"\n" for line in kept))
    captured = [
        orjson.loads(line)["payload"] for line in (folder / "invoices.jsonl").read_bytes().splitlines() if _ok(line)
    ]
    return Month(
        folder,
        sorted(
            {invoice["company_code"] for invoice in captured if isinstance(invoice, dict) and "company_code" in invoice}
        ),
        sorted({invoice["vendor_id"] for invoice in captured if isinstance(invoice, dict) and "vendor_id" in invoice}),
    )


def _ok(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line).get("payload"), dict)
    except (orjson.JSONDecodeError, AttributeError):
        return False


def _status(line: bytes) -> str | None:
    try:
        return orjson.loads(line)["payload"]["status"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def posting_requests(month: Month, out: Path) -> Path:
    """The posting requests the engine emits for the month (a run without any ERP configured)."""
    subprocess.run([*RECON, "run", "--input", str(month.input_dir), "--out", str(out), "--quiet"], check=True)
    return out / "posting_requests.jsonl"


def erp_config(path: Path, entry: dict[str, Any], **policy: Any) -> Path:
    """A config file with one `[[erp]]` entry (from LocalErp.config_entry or `recon erp-sim`'s line)."""
    lines = ["[[erp]]"]
    for name, value in {**entry, **policy}.items():
        if name != "options":
            lines.append(f"{name} = {json.dumps(value)}")
    lines.append("[erp.options]")
    lines += [f"{name} = {json.dumps(value)}" for name, value in entry.get("options", {}).items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def documents_by_invoice(records: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The simulator's documents by (supplier, supplier invoice number)."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for document in records["documents"]:
        found.setdefault((document["supplier"], document["invoice_reference"]), []).append(document)
    return found


def drain_lane(queue: PostingQueue, lane: Lane, timeout: float) -> list[Verdict]:
    """Every queued posting posted through one ERP in this process, then its adapter closed: the verdicts, in
    the order decided."""
    service = PostingService(queue, {lane.name: lane})
    service.start()
    try:
        assert service.wait_drained(timeout)
    finally:
        service.stop()
        lane.adapter.close()
    return queue.verdicts(0, 100_000)
