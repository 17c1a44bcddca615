"""Streaming ingest of a big camt.053: throughput (MB/s, entries/s) and peak RSS at two file sizes.

Generates masked camt.053 statements (~10 MB and ~100 MB by default) in a temp dir and ingests each in
its own child process, so each peak RSS belongs to one run only. Flat memory across the two sizes is
the proof that iterparse + release keep memory independent of file size.

    .venv/bin/python benchmarks/formats.py [--mb 100] [--small-mb 10]

Writes benchmarks/results/formats.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from machine import machine
from schwifty import IBAN

RESULTS = Path(__file__).parent / "results" / "formats.json"
HOUSE_IBAN = str(IBAN.generate("DE", bank_code="50010517", account_code="0648489890"))
CREDITORS = [str(IBAN.generate("DE", bank_code="37040044", account_code=f"5320{n:05d}")) for n in range(50)]
TX_PER_BATCH = 3

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>BENCH-STMT-1</MsgId><CreDtTm>2026-11-04T22:00:00Z</CreDtTm></GrpHdr>
    <Stmt>
      <Id>BENCH-1</Id>
      <CreDtTm>2026-11-04T22:00:00Z</CreDtTm>
      <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>
"""
FOOTER = """    </Stmt>
  </BkToCstmrStmt>
</Document>
"""
TX = """          <TxDtls>
            <Refs><MsgId>PAY-{batch}</MsgId><EndToEndId>E2E-{n:09d}</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Cdtr><Nm>Synthetic Supplier {vendor:03d} GmbH</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>INV-{n:09d} masked benchmark remittance</Ustrd></RmtInf>
          </TxDtls>
"""
ENTRY = """      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2026-11-04</Dt></BookgDt>
        <ValDt><Dt>2026-11-04</Dt></ValDt>
        <AcctSvcrRef>BENCH-{entry:09d}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <Btch><MsgId>PAY-{entry}</MsgId><NbOfTxs>{count}</NbOfTxs></Btch>
{details}        </NtryDtls>
      </Ntry>
"""


def write_camt053(path: Path, target_bytes: int) -> int:
    """A masked statement of batched debit entries, grown until it reaches target_bytes; returns entries."""
    entries = tx = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER.format(iban=HOUSE_IBAN))
        while out.tell() < target_bytes:
            entries += 1
            amounts = [Decimal(1000 + (tx + k) * 37 % 90000) / 100 for k in range(TX_PER_BATCH)]
            details = "".join(
                TX.format(batch=entries, n=tx + k, amount=amount, vendor=(tx + k) % 50, iban=CREDITORS[(tx + k) % 50])
                for k, amount in enumerate(amounts)
            )
            tx += TX_PER_BATCH
            out.write(ENTRY.format(amount=sum(amounts), entry=entries, count=TX_PER_BATCH, details=details))
        out.write(FOOTER)
    return entries


def child(path: Path) -> dict[str, object]:
    """Runs in its own process: ingest the file streaming, report counts, time and this process's peak RSS."""
    from reconstream.shells.formats import ingest_file

    started = time.perf_counter()
    events = errors = 0
    for result in ingest_file(path, "camt053"):
        if result.ok:
            events += 1
        else:
            errors += 1
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"events": events, "errors": errors, "seconds": round(seconds, 3), "peak_rss_mb": round(peak_kb / 1024, 1)}


def run_child(path: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(path: Path, target_mb: float) -> dict[str, object]:
    entries = write_camt053(path, int(target_mb * 1024 * 1024))
    size_mb = path.stat().st_size / (1024 * 1024)
    run = run_child(path)
    seconds = float(run["seconds"])  # type: ignore[arg-type]
    return {
        "file_mb": round(size_mb, 1),
        "entries": entries,
        "settlements": run["events"],
        "errors": run["errors"],
        "seconds": seconds,
        "mb_per_s": round(size_mb / seconds, 2),
        "entries_per_s": round(entries / seconds),
        "settlements_per_s": round(int(run["events"]) / seconds),  # type: ignore[call-overload]
        "peak_rss_mb": run["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="size of the big statement (MB)")
    parser.add_argument("--small-mb", type=float, default=10.0, help="size of the small statement (MB)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="recon-formats-") as tmp:
        small = measure(Path(tmp) / "small.camt053.xml", args.small_mb)
        (Path(tmp) / "small.camt053.xml").unlink()
        big = measure(Path(tmp) / "big.camt053.xml", args.mb)
    result = {
        "benchmark": "formats.camt053_streaming_ingest",
        "machine": machine(),
        "small": small,
        "big": big,
        "mb_per_s": big["mb_per_s"],
        "entries_per_s": big["entries_per_s"],
        "peak_rss_mb": big["peak_rss_mb"],
        "rss_growth_mb_small_to_big": round(float(big["peak_rss_mb"]) - float(small["peak_rss_mb"]), 1),  # type: ignore[arg-type]
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
