"""`recon ingest` and `recon pain001` as plain functions; shells/cli.py wires them into argparse."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from lxml import etree
from pydantic import ValidationError
from reconstream.models.events import EventError, PaymentBatchReleased, validate
from reconstream.models.payments import PaymentBatch

from .canonical import IngestOptions
from .ingest import ingest_paths, to_jsonl
from .pain001 import VERSIONS, build_pain001, validate_pain001


def cmd_ingest(
    paths: list[Path], fmt: str = "auto", out: Path | None = None, options: IngestOptions | None = None
) -> int:
    """Canonical JSONL to stdout or `out`; every bad record named on stderr. Exit 1 if any was bad."""
    converted = failed = 0
    handle: IO[bytes] = out.open("wb") if out else sys.stdout.buffer
    try:
        for result in ingest_paths(paths, fmt, options):
            if result.event is not None:
                handle.write(to_jsonl(result.event))
                converted += 1
            elif result.error is not None:
                print(f"error: {result.error}", file=sys.stderr)
                failed += 1
    finally:
        if out:
            handle.close()
        else:
            handle.flush()
    print(f"ingest: {converted} event(s) written, {failed} error(s)", file=sys.stderr)
    return 1 if failed else 0


def cmd_pain001(batch_file: Path, version: str = "03", out: Path | None = None) -> int:
    """A payment_batch.released event (JSON or one-line JSONL) or a bare PaymentBatch -> XSD-valid pain.001."""
    try:
        batch, created = read_batch(batch_file)
        document = build_pain001(batch, version, created)
        validate_pain001(document, version)
    except (OSError, ValueError, EventError, ValidationError, etree.DocumentInvalid) as exc:
        print(f"error: {batch_file}: {_reason(exc)}", file=sys.stderr)
        return 1
    if out:
        out.write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
    count = len(batch.instructions)
    print(f"pain001: {VERSIONS[version]} for batch {batch.batch_id}, {count} payment(s)", file=sys.stderr)
    return 0


def read_batch(path: Path) -> tuple[PaymentBatch, datetime | None]:
    raw = path.read_bytes()
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        lines = [line for line in raw.splitlines() if line.strip()]
        if len(lines) > 1:
            raise ValueError(f"expected one payment batch, found {len(lines)} JSONL lines") from None
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    if "event_type" in obj:
        event = validate(obj)
        if not isinstance(event, PaymentBatchReleased):
            raise ValueError(f"expected a payment_batch.released event, got {obj['event_type']!r}")
        return event.payload, event.event_time
    return PaymentBatch.model_validate(obj), None


def _reason(exc: Exception) -> str:
    if isinstance(exc, EventError):
        return f"{exc.field}: {exc.reason}"
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        return f"{'.'.join(str(p) for p in first['loc']) or '<batch>'}: {first['msg']}"
    return str(exc)
