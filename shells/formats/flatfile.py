"""Flat exports in (CSV or JSON rows) -> canonical events, through a small column mapping file.

AP platforms that cannot speak UBL export flat files whose columns differ per platform. The mapping
(JSON; see templates/ap_invoices.mapping.json) says which column fills which canonical payload field,
how numbers and dates are written, constant values, and value translations (e.g. "CRN" -> credit_note).
Amount fields (names ending in `amount`, and `unit_price`) stay decimal strings; a JSON number with a
fraction is refused like everywhere else. A row's event_id is a hash of its mapped content: the same row
in tomorrow's cumulative export is the same event, a corrected row is a new one.

Every row must have the header's number of fields (RFC 4180: "each line should contain the same number of
fields throughout the file"): a row with fewer or more is refused naming its row and line, never read with
cells shifted or missing, which is also what a file cut off inside its last row usually gives. A file may
or may not end with a line break (RFC 4180 again), so a cut inside the last row's last field cannot be
told from a whole row. Lines, rows and the time spent count against the file's budget (budget.py).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reconstream.models.ids import stable_id

from .budget import Budget
from .canonical import FieldError, IngestOptions, IngestResult, SourceFile, amount_text, parse_datetime, start_of

TEMPLATE = Path(__file__).parent / "templates" / "ap_invoices.mapping.json"
MAX_BYTES = 256 * 1024 * 1024
REQUIRED_KEYS = ("event_type", "columns")


def load_mapping(path: Path | None) -> dict[str, Any]:
    mapping = json.loads((path or TEMPLATE).read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED_KEYS if key not in mapping]
    if missing:
        raise FieldError("mapping", f"{path or TEMPLATE} lacks {', '.join(missing)}")
    return mapping


def convert_csv(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    mapping = load_mapping(options.flat_mapping)
    text = _read(source)
    reader = csv.DictReader(_lines(text, source.budget), delimiter=mapping.get("delimiter", ","))
    try:
        unknown = [column for column in mapping["columns"] if column not in (reader.fieldnames or [])]
        if unknown:
            yield source.malformed(
                "header", unknown[0], f"column missing from the CSV header (have {reader.fieldnames})"
            )
            return
        for row in reader:
            position = f"row{reader.line_num}"
            shape = _misshapen(row, len(reader.fieldnames or ()))
            yield _row(source, mapping, row, position) if shape is None else source.malformed(position, "<csv>", shape)
    except csv.Error as exc:  # an unreadable line (a field past csv's own limit, a NUL byte): the rest is not read
        raise FieldError("<csv>", f"line {reader.line_num}: {exc}") from None


def _lines(text: str, budget: Budget) -> Iterator[str]:
    """The text's lines for the CSV reader, each counted and bounded before it is parsed."""
    for number, line in enumerate(io.StringIO(text), 1):
        budget.record(len(line), f"line {number}")
        yield line


def _misshapen(row: dict[str | None, Any], fields: int) -> str | None:
    """Why a row does not have the header's number of fields (DictReader files the extra ones under None and
    fills the missing ones with None), or None when it has."""
    extra = row.get(None)
    if extra:
        return f"{fields + len(extra)} fields where the header has {fields}"
    missing = sum(1 for key, value in row.items() if key is not None and value is None)
    if missing:
        return f"{fields - missing} fields where the header has {fields} (cut off?)"
    return None


def convert_json(source: SourceFile, options: IngestOptions) -> Iterator[IngestResult]:
    mapping = load_mapping(options.flat_mapping)
    text = _read(source).strip()
    try:
        rows = json.loads(text) if text.startswith("[") else _json_lines(text, source.budget)
    except json.JSONDecodeError as exc:
        yield source.malformed("file", "<json>", f"not valid JSON: {exc}")
        return
    for number, row in enumerate(rows, 1):
        source.budget.count(f"row{number}")
        if not isinstance(row, dict):
            yield source.malformed(f"row{number}", "<json>", "expected an object per row")
            continue
        yield _row(source, mapping, row, f"row{number}")


def _json_lines(text: str, budget: Budget) -> list[Any]:
    """JSON Lines, each line bounded before it is parsed (the rows are counted as they are converted)."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        budget.check_size(len(line), f"line {number}")
        if line:
            rows.append(json.loads(line))
    return rows


def _read(source: SourceFile) -> str:
    size = source.path.stat().st_size
    if size > MAX_BYTES:
        raise FieldError("file", f"file is {size} bytes, more than the {MAX_BYTES} allowed for flat files")
    return source.path.read_bytes().decode("utf-8-sig")


def _row(source: SourceFile, mapping: dict[str, Any], row: Mapping[str, Any], position: str) -> IngestResult:
    source.system = mapping.get("source_system", source.fmt)
    try:
        payload = map_row(mapping, row)
        event_time = _event_time(mapping, row, payload)
    except FieldError as exc:
        return source.error(position, exc.field, exc.reason)
    correlation = payload.get(mapping.get("correlation_id_field", ""))
    key = stable_id("row", json.dumps(payload, sort_keys=True, default=str)).removeprefix("row-")
    return source.event(position, mapping["event_type"], event_time, payload, correlation_id=correlation, key=key)


def map_row(mapping: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = dict(mapping.get("constants", {}))
    translations: dict[str, dict[str, str]] = mapping.get("values", {})
    for column, field in mapping["columns"].items():
        raw = row.get(column)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue  # an empty cell is an absent optional field; a required one is named by validation
        if isinstance(raw, str):
            raw = raw.strip()
            raw = translations.get(field, {}).get(raw, raw)
        payload[field] = _typed(field, raw, mapping, column)
    return payload


def _typed(field: str, raw: Any, mapping: dict[str, Any], column: str) -> Any:
    if field.endswith("amount") or field == "unit_price":
        if isinstance(raw, float):
            raise FieldError(column, f'must be a decimal string such as "{raw}", not a JSON number with a fraction')
        return amount_text(_plain_number(str(raw), mapping), column)
    if field.endswith("_date") and isinstance(raw, str):
        return _date(raw, mapping.get("date_format"), column)
    return raw


def _plain_number(raw: str, mapping: dict[str, Any]) -> str:
    thousands, decimal = mapping.get("thousands_separator", ""), mapping.get("decimal_separator", ".")
    if thousands:
        raw = raw.replace(thousands, "")
    return raw.replace(decimal, ".") if decimal != "." else raw


def _date(raw: str, fmt: str | None, column: str) -> str:
    for pattern in filter(None, (fmt, "%Y-%m-%d")):
        try:
            return datetime.strptime(raw[:10] if pattern == "%Y-%m-%d" else raw, pattern).date().isoformat()
        except ValueError:
            continue
    raise FieldError(column, f"date {raw!r} matches neither {fmt!r} nor ISO 8601")


def _event_time(mapping: dict[str, Any], row: Mapping[str, Any], payload: dict[str, Any]) -> datetime:
    column = mapping.get("event_time_column")
    if column:
        return parse_datetime(row.get(column), column)
    field = mapping.get("event_time_field")
    value = payload.get(field or "")
    if not value:
        raise FieldError(field or "event_time_field", "no event time: the mapping's event_time field is empty")
    return start_of(datetime.fromisoformat(value).date())
