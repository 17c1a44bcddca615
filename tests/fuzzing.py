"""Hostile input for the engine, and the checks that it survives it (issue #15, "Hardening").

`fuzz_input` copies a clean month's stream files and inserts seeded fuzz lines at random places: text
that is not JSON, JSON of the wrong shape or type, hostile numbers and loose numerals in money fields,
times out of any sane range, and event ids reused. The manifest names every fuzz line's file, line
number and kind. `fuzz_and_check` runs `recon run` (a subprocess: a crash is a crash) on the clean and
the fuzzed folders and demands what the issue does: no crash; one audit record per input line; every
fuzz line a dead letter naming its field, except an identical replay (a duplicate); the clean lines
exactly as in the clean run, and the valid events' outputs identical to the clean run's.

Shared by tests/test_fuzz.py (CI size) and benchmarks/fuzz.py (full size, with its figures).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from reconstream.models.events import EVENT_TYPE_OF, Stream, event_json_schemas

RECON = Path(sys.executable).with_name("recon")
FUZZ_PREFIX = "fuzz-"
STREAMS: tuple[str, ...] = tuple(stream.value for stream in Stream)
ONE_MB = 1 << 20
DEPTH = 10_000
EXAMPLES = 5  # failures kept per kind for the report; the count covers them all
MIN_EACH = 10  # lines of every kind at least, whatever its weight
STDERR_TAIL = 4000
ANY = "*"  # the bases of every stream, beside each stream's own

JsonPath = tuple[str | int, ...]  # a concrete place in one event: keys and list indexes
Pattern = tuple[str, ...]  # a place in every event of a stream; "*" stands for each item of a list

# Money and quantity fields the issue names, per stream.
AMOUNT_FIELDS: dict[str, tuple[Pattern, ...]] = {
    "invoices": (("payload", "net_amount"), ("payload", "tax_amount"), ("payload", "gross_amount")),
    "purchase_orders": (("payload", "lines", "*", "unit_price"), ("payload", "lines", "*", "quantity")),
    "payment_batches": (("payload", "instructions", "*", "amount"),),
    "settlements": (("payload", "amount"),),
    "balances": (("payload", "amount"),),
}
# Amounts that carry no sign: "-0.00" is refused in each. Zero itself only where a payment is made (the EPC
# rulebook's 0.01 minimum): banks print informational entries of 0.00 (a real MT940 of tests/fixtures/bank
# does), and an invoice of zero is legitimate.
ZERO_FIELDS: dict[str, tuple[Pattern, ...]] = {
    "payment_batches": (("payload", "instructions", "*", "amount"),),
    "settlements": (("payload", "amount"),),
}
PAYMENT_FIELDS: dict[str, tuple[Pattern, ...]] = {"payment_batches": ZERO_FIELDS["payment_batches"]}
DATE_FIELDS: dict[str, tuple[Pattern, ...]] = {
    "invoices": (("payload", "invoice_date"), ("payload", "due_date")),
    "purchase_orders": (("payload", "order_date"),),
    "goods_receipts": (("payload", "receipt_date"),),
    "invoice_status": (("payload", "posting_date"),),
    "payment_batches": (("payload", "requested_execution_date"),),
    "settlements": (("payload", "booking_date"), ("payload", "value_date")),
    "balances": (("payload", "date"),),
}
# What a reused event id carries instead: an amount one unit more, or a reference with a suffix. Each
# edit leaves a valid event, so only the reuse of the id can make it a dead letter.
REUSE_EDITS: dict[str, tuple[tuple[Pattern, str], ...]] = {
    "vendors": ((("payload", "name"), "text"),),
    "purchase_orders": ((("payload", "lines", "*", "unit_price"), "amount"),),
    "goods_receipts": ((("payload", "lines", "*", "quantity"), "amount"),),
    "invoices": ((("payload", "supplier_invoice_number"), "text"),),  # amounts must add up: the reference
    "invoice_status": ((("payload", "invoice_id"), "text"),),
    "payment_batches": (
        (("payload", "instructions", "*", "amount"), "amount"),
        (("payload", "instructions", "*", "remittance_info"), "text"),
    ),
    "bank_acks": ((("payload", "ack_id"), "text"),),
    "settlements": ((("payload", "amount"), "amount"), (("payload", "remittance_info"), "text")),
    "balances": ((("payload", "amount"), "amount"),),
}

HOSTILE_NUMBERS: dict[str, Any] = {
    "number_huge_exponent": "1E+999999",
    "number_tiny_exponent": "1E-999999",
    "number_1e30": "1E+30",
    "number_29_digits": "12345678901234567890123456789.00",
    "number_nan": "NaN",
    "number_infinity": "Infinity",
    "number_negative_infinity": "-Infinity",
    "number_snan": "sNaN",
    "number_json_fraction": 12.5,
    "number_json_boolean": True,
}
LOOSE_NUMERALS: dict[str, str] = {
    "numeral_underscore": "1_000.00",
    "numeral_plus_sign": "+12.00",
    "numeral_leading_point": ".50",
    "numeral_exponent": "1e2",
    "numeral_fullwidth_digits": "１２.００",
    "numeral_arabic_indic_digits": "١٢.٠٠",
    "numeral_thousands_separator": "1,000.00",
}
ZERO_AMOUNTS: dict[str, tuple[tuple[str, ...], Mapping[str, tuple[Pattern, ...]]]] = {
    "amount_zero": (("0", "0.00"), PAYMENT_FIELDS),
    "amount_negative_zero": (("-0.00",), ZERO_FIELDS),
}
EVENT_TIMES: dict[str, tuple[Any, ...]] = {
    "event_time_far_future": ("9999-12-31T23:59:59Z", "2300-01-01T00:00:00Z"),
    "event_time_far_past": ("0001-01-01T00:00:00Z", "1800-01-01T00:00:00Z"),
    "event_time_unix_number": (1764000000,),
    "event_time_unix_string": ("1764000000",),
}
PAYLOAD_DATES: dict[str, tuple[str, ...]] = {
    "payload_date_far_future": ("9999-12-31", "2300-01-01"),
    "payload_date_far_past": ("0001-01-01", "1800-01-01"),
}

# --- building fuzz lines --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Base:
    """A clean line the clean run applied: what a fuzz line is made from, so its only defect is the fuzz."""

    stream: str
    index: int  # 0-based in the clean file
    raw: bytes


@dataclass(slots=True)
class Draw:
    """What one fuzz line is made of: the seeded generator, its stream and a fresh copy of its base event."""

    rng: random.Random
    stream: str
    fuzz_id: str
    base: Base | None
    event: Any  # the base decoded anew (mutable); its event_id is the fuzz id unless the kind reuses ids


@dataclass(frozen=True, slots=True)
class Made:
    raw: bytes
    detail: str  # what was done, for the report: "payload.amount = '1E+30'"


Maker = Callable[[Draw], Made | None]  # None: the drawn base offers no place for this kind; draw again


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    make: Maker
    base: str = "same"  # "none": no clean event; "same": one of the stream's; "any": of any stream
    streams: frozenset[str] | None = None  # None: every stream
    weight: float = 1.0  # relative share of the fuzz lines
    reuse: bool = False  # keeps the base's event_id and goes after it in the file
    expect: str = "dead_letter"
    fields: tuple[str, ...] = ()  # the dead letter's field must start with one of these (empty: any)


def _dumps(event: Any) -> bytes:
    return orjson.dumps(event)


def _dotted(path: JsonPath) -> str:
    return ".".join(str(part) for part in path)


def _get(event: Any, path: JsonPath) -> Any:
    for part in path:
        event = event[part]
    return event


def _set(event: Any, path: JsonPath, value: Any) -> None:
    _get(event, path[:-1])[path[-1]] = value


def _present(event: Any, patterns: Sequence[Pattern]) -> list[JsonPath]:
    """Every concrete place in `event` that one of `patterns` names."""
    found: list[JsonPath] = []
    for pattern in patterns:
        found.extend(_expand(event, pattern, ()))
    return found


def _expand(node: Any, pattern: Pattern, done: JsonPath) -> Iterator[JsonPath]:
    if not pattern:
        yield done
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _expand(item, rest, (*done, index))
    elif isinstance(node, dict) and head in node and (rest or node[head] is not None):
        yield from _expand(node[head], rest, (*done, head))


def _string_leaves(node: Any, done: JsonPath = ()) -> Iterator[JsonPath]:
    """Every string value of an event except its id and type (which keep it traceable and on its stream)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if done or key not in ("event_id", "event_type"):
                yield from _string_leaves(value, (*done, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _string_leaves(value, (*done, index))
    elif isinstance(node, str):
        yield done


_SPLICE = "@@fuzz-splice@@"  # a marker in a serialized event where bytes JSON cannot express go


def _splice_into_string(event: Any, path: JsonPath, fragment: bytes) -> bytes:
    """The event with `fragment` inserted inside the string at `path`, byte for byte (no JSON escaping)."""
    value = _get(event, path)
    cut = len(value) // 2
    _set(event, path, value[:cut] + _SPLICE + value[cut:])
    return _dumps(event).replace(_SPLICE.encode(), fragment, 1)


def _splice_value(event: Any, path: JsonPath, fragment: bytes) -> bytes:
    """The event with the value at `path` replaced by raw JSON text (nesting too deep to build as objects)."""
    _set(event, path, _SPLICE)
    return _dumps(event).replace(orjson.dumps(_SPLICE), fragment, 1)


# --- the event schemas: which fields are required, nullable, strings or lists -----------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    pattern: Pattern
    types: frozenset[str]  # JSON types the schema allows, null left out
    required: bool  # within its parent object
    nullable: bool
    format: str | None


@functools.cache
def field_specs(event_type: str) -> tuple[FieldSpec, ...]:
    """Every field of an event type as `recon schema` publishes it (pydantic's JSON schema)."""
    schema = _schemas()[event_type]
    return tuple(_walk(schema, schema.get("$defs", {}), (), required=True))


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    return event_json_schemas()  # pydantic builds every event type's schema on each call: a third of a second


def _resolve(node: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _walk(node: dict[str, Any], defs: Mapping[str, Any], pattern: Pattern, required: bool) -> Iterator[FieldSpec]:
    options = [_resolve(option, defs) for option in node.get("anyOf", [node])]
    real = [option for option in options if option.get("type") != "null"]
    if pattern:
        types = frozenset(option.get("type", "object" if "properties" in option else "any") for option in real)
        formats = {option.get("format") for option in real}
        yield FieldSpec(
            pattern, types, required, len(real) < len(options), formats.pop() if len(formats) == 1 else None
        )
    for option in real:
        needed = set(option.get("required", ()))
        for name, child in option.get("properties", {}).items():
            yield from _walk(_resolve(child, defs), defs, (*pattern, name), name in needed)
        if option.get("type") == "array" and isinstance(option.get("items"), dict):
            yield from _walk(_resolve(option["items"], defs), defs, (*pattern, "*"), True)


def _spec_paths(draw: Draw, keep: Callable[[FieldSpec], bool]) -> list[JsonPath]:
    """The places in the drawn event of the fields `keep` selects, its event_id left alone (traceability)."""
    event_type = draw.event.get("event_type") if isinstance(draw.event, dict) else None
    if event_type not in EVENT_TYPE_OF.values():
        return []
    specs = [spec for spec in field_specs(event_type) if keep(spec) and spec.pattern != ("event_id",)]
    return _present(draw.event, [spec.pattern for spec in specs])


# --- the makers, one per family of kinds ------------------------------------------------------------------


def _not_json(draw: Draw) -> Made:
    rng, fuzz_id = draw.rng, draw.fuzz_id
    variants: dict[str, bytes] = {
        "prose": f"{fuzz_id} is not JSON at all".encode(),
        "csv": f"{fuzz_id};invoice;AP-00000001;1000.00;EUR".encode(),
        "xml": f'<Ntry id="{fuzz_id}"><Amt Ccy="EUR">12.00</Amt></Ntry>'.encode(),
        "python_dict": f"{{'event_id': '{fuzz_id}', 'amount': '12.00'}}".encode(),
        "trailing_comma": f'{{"event_id": "{fuzz_id}",}}'.encode(),
        # 0xff is never valid UTF-8 and keeps the line from being blank; newlines would split it.
        "binary": b"\xff" + bytes(rng.choice(range(256)) for _ in range(rng.randint(1, 200))).replace(b"\n", b"\xfe"),
    }
    name = rng.choice(sorted(variants))
    return Made(variants[name], name)


def _truncated(draw: Draw) -> Made:
    raw = _dumps(draw.event)
    cut = draw.rng.randrange(1, len(raw))  # an object cut before its closing brace is never valid JSON
    return Made(raw[:cut], f"cut at byte {cut} of {len(raw)}")


def _json_array(draw: Draw) -> Made:
    variants = {"[event]": [draw.event], "[]": [], "[event, event]": [draw.event, draw.event]}
    name = draw.rng.choice(sorted(variants))
    return Made(_dumps(variants[name]), name)


def _json_scalar(draw: Draw) -> Made:
    value = draw.rng.choice((draw.fuzz_id, "", 42, 12.5, -1, True, False, None))
    return Made(_dumps(value), repr(value))


def _deep_nesting(draw: Draw) -> Made:
    arrays = b"[" * DEPTH + b"]" * DEPTH
    objects = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH
    variant = draw.rng.choice(("line of arrays", "payload of arrays", "payload of objects"))
    if variant == "line of arrays":
        return Made(arrays, variant)
    return Made(_splice_value(draw.event, ("payload",), arrays if "arrays" in variant else objects), variant)


def _long_string(draw: Draw) -> Made | None:
    paths = list(_string_leaves(draw.event))
    if not paths:
        return None
    path = draw.rng.choice(paths)
    _set(draw.event, path, _get(draw.event, path) + "A" * ONE_MB)
    return Made(_dumps(draw.event), f"{_dotted(path)} + 1 MiB")


_RAW_CONTROLS = tuple(bytes([code]) for code in range(0x20) if code not in (0x0A, 0x0D))  # \n, \r would cut lines


def _control_raw(draw: Draw) -> Made | None:
    paths = list(_string_leaves(draw.event))
    if not paths:
        return None
    path, byte = draw.rng.choice(paths), draw.rng.choice(_RAW_CONTROLS)
    return Made(_splice_into_string(draw.event, path, byte), f"{_dotted(path)} holds raw {byte!r}")


def _control_escaped(draw: Draw) -> Made | None:
    # Valid JSON: an identifier with a NUL or ESC in it is a look-alike of the real one, never a real one.
    paths = [path for path in _string_leaves(draw.event) if str(path[-1]).endswith(("_id", "_number"))]
    if not paths:
        return None
    path, escape = draw.rng.choice(paths), draw.rng.choice((b"\\u0000", b"\\u0007", b"\\u001b", b"\\u001f"))
    return Made(_splice_into_string(draw.event, path, escape), f"{_dotted(path)} holds {escape.decode()}")


def _lone_surrogate(draw: Draw) -> Made | None:
    paths = list(_string_leaves(draw.event))
    if not paths:
        return None
    # Escaped, or as the UTF-8 bytes of a surrogate code point (which UTF-8 forbids).
    path, fragment = draw.rng.choice(paths), draw.rng.choice((b"\\ud800", b"\\udfff", b"\xed\xa0\x80"))
    return Made(_splice_into_string(draw.event, path, fragment), f"{_dotted(path)} holds {fragment!r}")


def _missing_field(draw: Draw) -> Made | None:
    paths = _spec_paths(draw, lambda spec: spec.required and spec.pattern[-1] != "*")  # a field, not a list item
    if not paths:
        return None
    path = draw.rng.choice(paths)
    del _get(draw.event, path[:-1])[path[-1]]
    return Made(_dumps(draw.event), f"{_dotted(path)} removed")


def _number_for_string(draw: Draw) -> Made | None:
    # Not dates and times: a number there is a Unix time, a kind of its own.
    paths = _spec_paths(draw, lambda spec: spec.types == {"string"} and spec.format not in ("date", "date-time"))
    paths = [path for path in paths if path != ("event_type",)]  # another stream's type is a kind of its own
    if not paths:
        return None
    path, value = draw.rng.choice(paths), draw.rng.choice((0, 1, 978, 12345, -7, 2.5))
    _set(draw.event, path, value)
    return Made(_dumps(draw.event), f"{_dotted(path)} = {value!r}")


def _object_for_list(draw: Draw) -> Made | None:
    paths = _spec_paths(draw, lambda spec: "array" in spec.types)
    if not paths:
        return None
    path = draw.rng.choice(paths)
    items = _get(draw.event, path)
    _set(draw.event, path, {"items": items} if draw.rng.random() < 0.5 else {})
    return Made(_dumps(draw.event), f"{_dotted(path)} is an object")


def _null_field(draw: Draw) -> Made | None:
    paths = _spec_paths(draw, lambda spec: spec.required and not spec.nullable)
    if not paths:
        return None
    path = draw.rng.choice(paths)
    _set(draw.event, path, None)
    return Made(_dumps(draw.event), f"{_dotted(path)} = null")


def _foreign_event_type(draw: Draw) -> Made | None:
    assert draw.base is not None
    if draw.base.stream != draw.stream:  # a whole event of another stream in this file
        return Made(_dumps(draw.event), f"a {draw.base.stream} event")
    other = draw.rng.choice([stream for stream in Stream if stream.value != draw.stream])
    draw.event["event_type"] = EVENT_TYPE_OF[other]
    return Made(_dumps(draw.event), f"event_type = {EVENT_TYPE_OF[other]!r}")


def _value(values: Sequence[Any], fields: Mapping[str, tuple[Pattern, ...]]) -> Maker:
    """One of `values` in one of the stream's `fields`; an invoice's totals kept adding up as written."""

    def make(draw: Draw) -> Made | None:
        paths = _present(draw.event, fields.get(draw.stream, ()))
        if not paths:
            return None
        path, value = draw.rng.choice(paths), draw.rng.choice(values)
        if draw.stream == "invoices" and path[-1] in _TOTALS:
            _invoice_totals(draw.event["payload"], str(path[-1]), value)
        else:
            _set(draw.event, path, value)
        return Made(_dumps(draw.event), f"{_dotted(path)} = {value!r}")

    return make


_TOTALS = ("net_amount", "tax_amount", "gross_amount")


def _invoice_totals(payload: dict[str, Any], name: str, value: Any) -> None:
    """The value in one total, the others set so that net + tax = gross still holds as written, and no lines:
    a sum that no longer adds up must not be what refuses the event instead of the value itself."""
    payload.pop("lines", None)
    if name == "tax_amount":
        payload.update(net_amount="0.00", tax_amount=value, gross_amount=value)
    else:
        payload.update(net_amount=value, tax_amount="0.00", gross_amount=value)


def _event_time(values: Sequence[Any]) -> Maker:
    def make(draw: Draw) -> Made:
        value = draw.rng.choice(values)
        draw.event["event_time"] = value
        return Made(_dumps(draw.event), f"event_time = {value!r}")

    return make


def _naive_time(draw: Draw) -> Made:
    value = re.sub(r"(Z|[+-]\d{2}:?\d{2})$", "", draw.event["event_time"])  # the same moment, its zone dropped
    draw.event["event_time"] = value
    return Made(_dumps(draw.event), f"event_time = {value!r}")


def _replay(draw: Draw) -> Made:
    assert draw.base is not None
    return Made(draw.base.raw, f"replay of {draw.stream}.jsonl clean line {draw.base.index + 1}")


def _reuse_other_content(draw: Draw) -> Made | None:
    assert draw.base is not None
    edits = [
        (path, how) for pattern, how in REUSE_EDITS.get(draw.stream, ()) for path in _present(draw.event, [pattern])
    ]
    if not edits:
        return None
    path, how = draw.rng.choice(edits)
    value = _get(draw.event, path)
    changed = str(Decimal(value) + 1) if how == "amount" else f"{value}-R"
    _set(draw.event, path, changed)
    return Made(_dumps(draw.event), f"clean line {draw.base.index + 1} again with {_dotted(path)} = {changed!r}")


def _build_kinds() -> dict[str, Kind]:
    money, dated = frozenset(AMOUNT_FIELDS), frozenset(DATE_FIELDS)
    kinds = [
        Kind("not_json", _not_json, base="none"),
        Kind("truncated_json", _truncated, base="any"),
        Kind("json_array", _json_array, base="any"),
        Kind("json_scalar", _json_scalar, base="none"),
        Kind("deep_nesting", _deep_nesting, base="any", weight=0.2),  # 20 KB each
        Kind("long_string", _long_string, weight=0.02),  # 1 MiB each: about 50 in 100,000 lines
        Kind("control_char_raw", _control_raw),
        Kind("control_char_escaped", _control_escaped),
        Kind("lone_surrogate", _lone_surrogate),
        Kind("missing_field", _missing_field),
        Kind("number_for_string", _number_for_string),
        Kind("object_for_list", _object_for_list),
        Kind("null_field", _null_field),
        Kind("foreign_event_type", _foreign_event_type, base="any"),
        *(Kind(name, _value([value], AMOUNT_FIELDS), streams=money) for name, value in HOSTILE_NUMBERS.items()),
        *(Kind(name, _value([value], AMOUNT_FIELDS), streams=money) for name, value in LOOSE_NUMERALS.items()),
        *(
            Kind(name, _value(values, fields), streams=frozenset(fields))
            for name, (values, fields) in ZERO_AMOUNTS.items()
        ),
        *(Kind(name, _event_time(values)) for name, values in EVENT_TIMES.items()),
        Kind("event_time_naive", _naive_time),
        *(Kind(name, _value(values, DATE_FIELDS), streams=dated) for name, values in PAYLOAD_DATES.items()),
        Kind("reused_id_other_content", _reuse_other_content, reuse=True, fields=("event_id", "payload")),
        Kind("reused_id_identical", _replay, reuse=True, expect="duplicate"),
    ]
    return {kind.name: kind for kind in kinds}


KINDS: dict[str, Kind] = _build_kinds()


# --- the fuzzed folder and its manifest -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FuzzLine:
    file: str
    line: int  # 1-based, in the fuzzed file
    kind: str
    event_id: str | None  # the fuzz id, the reused clean id, or None for what is no JSON object
    detail: str
    reuses: str | None = None  # for a reused id: the clean line it reuses (its source in the clean folder)

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"  # as the runner names a JSONL line (shells/inputs.py)


@dataclass
class Manifest:
    seed: int
    lines: list[FuzzLine]
    moved: dict[str, str]  # a clean line's source in the clean folder -> its source in the fuzzed folder

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "lines": [vars_of(line) for line in self.lines], "moved": self.moved}


def vars_of(line: FuzzLine) -> dict[str, Any]:
    return {
        "file": line.file,
        "line": line.line,
        "kind": line.kind,
        "event_id": line.event_id,
        "detail": line.detail,
        "reuses": line.reuses,
    }


def read_lines(path: Path) -> list[bytes]:
    """A JSONL file's lines without their line ends, split as the runner splits them (on \\n only)."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # what follows the last line end is a line only when it holds something
    return [line.rstrip(b"\r") for line in lines]


def applied_lines(out_dir: Path) -> dict[str, set[int]]:
    """Per input file, the line numbers a run applied (outcome `applied` in its audit log)."""
    applied: dict[str, set[int]] = {}
    for record in audit_records(out_dir):
        if record.get("outcome") == "applied" and ":" in record.get("source", ""):
            name, line = record["source"].rsplit(":", 1)
            applied.setdefault(name, set()).add(int(line))
    return applied


def fuzz_input(
    clean_dir: Path,
    target: Path,
    applied: Mapping[str, set[int]],
    count: int,
    seed: int,
    kinds: Sequence[str] | None = None,
) -> Manifest:
    """`clean_dir`'s stream files with `count` fuzz lines inserted, into `target`; the same arguments give
    the same bytes. `applied` names the clean lines fuzz may be made from (see `applied_lines`)."""
    rng = random.Random(seed)
    clean = {stream: read_lines(clean_dir / f"{stream}.jsonl") for stream in STREAMS}
    bases = {
        stream: [
            Base(stream, number - 1, clean[stream][number - 1]) for number in sorted(applied.get(f"{stream}.jsonl", ()))
        ]
        for stream in STREAMS
    }
    bases[ANY] = [base for stream in STREAMS for base in bases[stream]]
    chosen = [KINDS[name] for name in (kinds if kinds is not None else KINDS)]
    inserts: dict[str, list[Insert]] = {stream: [] for stream in STREAMS}
    for number, kind in enumerate(_kind_sequence(rng, chosen, count), 1):
        insert = _draw(rng, kind, number, clean, bases)
        inserts[insert.stream].append(insert)
    target.mkdir(parents=True, exist_ok=True)
    if (clean_dir / "bank").is_dir():  # the same bank files, so the runs differ only by the fuzz lines
        shutil.copytree(clean_dir / "bank", target / "bank", dirs_exist_ok=True)
    manifest = Manifest(seed, [], {})
    for stream in STREAMS:
        in_order = sorted(inserts[stream], key=lambda insert: (insert.anchor, insert.number))
        _write_stream(target / f"{stream}.jsonl", clean[stream], in_order, manifest)
    return manifest


@dataclass(frozen=True, slots=True)
class Insert:
    """A fuzz line before it has its place: it goes before clean line `anchor` (0-based; after the last at
    the file's length), in the order drawn among those of the same anchor."""

    stream: str
    anchor: int
    number: int
    raw: bytes
    line: FuzzLine  # its line number still 0


def _kind_sequence(rng: random.Random, kinds: Sequence[Kind], count: int) -> list[Kind]:
    """Every kind MIN_EACH times (as far as `count` allows), the rest drawn by weight, in a seeded order.

    The floor is for the rare kinds: at CI size a weight of 0.02 alone would give a one-MiB string two
    lines, too few to meet the field that lets it through."""
    each = min(MIN_EACH, count // len(kinds)) if kinds else 0
    sequence = [kind for kind in kinds for _ in range(each)]
    sequence += rng.choices(kinds, [kind.weight for kind in kinds], k=count - len(sequence))
    rng.shuffle(sequence)
    return sequence


def _draw(
    rng: random.Random, kind: Kind, number: int, clean: Mapping[str, list[bytes]], bases: Mapping[str, list[Base]]
) -> Insert:
    """One fuzz line of `kind`, made from a clean line the clean run applied where the kind needs one."""
    streams = [
        stream
        for stream in STREAMS
        if (kind.streams is None or stream in kind.streams) and (kind.base != "same" or bases[stream])
    ]
    if not streams or (kind.base == "any" and not bases[ANY]):
        raise RuntimeError(f"the clean month has no applied event to make fuzz kind {kind.name} from")
    fuzz_id = f"{FUZZ_PREFIX}{number:06d}-{kind.name}"
    for _ in range(100):  # a base without the field a kind needs is drawn again
        stream = rng.choice(streams)
        base = None if kind.base == "none" else rng.choice(bases[stream if kind.base == "same" else ANY])
        event = orjson.loads(base.raw) if base is not None else None
        if isinstance(event, dict) and not kind.reuse:
            event["event_id"] = fuzz_id
        made = kind.make(Draw(rng, stream, fuzz_id, base, event))
        if made is None:
            continue
        reuses = f"{base.stream}.jsonl:{base.index + 1}" if kind.reuse and base is not None else None
        # A reused id goes after the line it reuses: the first copy is the one applied.
        low = base.index + 1 if kind.reuse and base is not None else 0
        line = FuzzLine(f"{stream}.jsonl", 0, kind.name, _event_id_of(made.raw), made.detail, reuses)
        return Insert(stream, rng.randint(low, len(clean[stream])), number, made.raw, line)
    raise RuntimeError(f"no clean event of streams {streams} offers a place for fuzz kind {kind.name}")


def _event_id_of(raw: bytes) -> str | None:
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    event_id = decoded.get("event_id") if isinstance(decoded, dict) else None
    return event_id if isinstance(event_id, str) else None


def _write_stream(path: Path, clean: list[bytes], inserts: list[Insert], manifest: Manifest) -> None:
    """The clean lines with the inserts before their anchors; every line's new number into the manifest."""
    pending = iter(inserts)
    insert = next(pending, None)
    number = 0
    with path.open("wb") as handle:
        for index in range(len(clean) + 1):
            while insert is not None and insert.anchor == index:
                number += 1
                handle.write(insert.raw + b"\n")
                manifest.lines.append(dataclasses.replace(insert.line, line=number))
                insert = next(pending, None)
            if index < len(clean):
                number += 1
                handle.write(clean[index] + b"\n")
                manifest.moved[f"{path.name}:{index + 1}"] = f"{path.name}:{number}"


# --- running the engine ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineRun:
    input_dir: Path
    out_dir: Path
    returncode: int
    stderr: str
    seconds: float
    cpu_seconds: float  # the child's user + system time

    @property
    def crashed(self) -> bool:
        return self.returncode != 0 or "Traceback" in self.stderr


def run_engine(
    input_dir: Path, out_dir: Path, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> EngineRun:
    """`recon run` on a folder, in a child process: an exception in the engine is a crash, not a test error."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a run resumes from what its output folder holds; each run here starts anew
    command = [str(RECON), "run", "--input", str(input_dir), "--out", str(out_dir), "--quiet"]
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace", env=env, timeout=timeout)
        returncode, stderr = done.returncode, done.stderr
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else ""
        returncode, stderr = -1, f"{stderr}\ntimed out after {timeout} s"
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return EngineRun(input_dir, out_dir, returncode, stderr, seconds, cpu)


def clean_month(target: Path, invoices: int, seed: int) -> Path:
    """`recon generate` once per folder; a folder that has its labels.json is reused."""
    if not (target / "labels.json").exists():
        command = [str(RECON), "generate", "--out", str(target), "--invoices", str(invoices), "--seed", str(seed)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return target


def audit_records(out_dir: Path) -> list[dict[str, Any]]:
    """The input lines' audit records (people's case actions left out)."""
    path = out_dir / "audit.jsonl"
    records = [orjson.loads(raw) for raw in read_lines(path) if raw.strip()] if path.exists() else []
    return [record for record in records if record.get("outcome") != "case_action"]


def _by_source(out_dir: Path, name: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    path = out_dir / name
    for raw in read_lines(path):
        if raw.strip():
            record = orjson.loads(raw)
            grouped.setdefault(record.get("source", ""), []).append(record)
    return grouped


# --- the checks -----------------------------------------------------------------------------------------


@dataclass
class KindReport:
    count: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)  # the dead letters' fields
    failures: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)  # the first failures, of different files first
    reasons: list[str] = field(default_factory=list)  # a few distinct dead-letter reasons, to read
    spare: list[dict[str, Any]] = field(default_factory=list)  # the next failures of files already in examples

    def fail(self, line: FuzzLine, outcome: str, letter: Mapping[str, Any]) -> None:
        self.failures += 1
        example = {
            "source": line.source,
            "kind": line.kind,
            "detail": line.detail,
            "outcome": outcome,
            "field": letter.get("field"),
            "reason": (letter.get("reason") or "")[:300],
        }
        # The same rng draws put every kind's first lines in the first files: one example per file reads better.
        if len(self.examples) < EXAMPLES and all(seen["source"].split(":")[0] != line.file for seen in self.examples):
            self.examples.append(example)
        elif len(self.spare) < EXAMPLES:
            self.spare.append(example)

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "outcomes": dict(self.outcomes),
            "fields": dict(self.fields.most_common(10)),
            "failures": self.failures,
            "examples": self.examples,
            "reasons": self.reasons,
        }


@dataclass
class FuzzReport:
    clean: EngineRun
    fuzzed: EngineRun
    kinds: dict[str, KindReport] = field(default_factory=dict)
    accounting: list[str] = field(default_factory=list)  # input lines without exactly one audit record
    clean_lines: list[str] = field(default_factory=list)  # clean lines whose outcome changed in the fuzzed run
    outputs: list[str] = field(default_factory=list)  # outputs that differ from the clean run's

    @property
    def crashed(self) -> bool:
        return self.fuzzed.crashed

    @property
    def failing_kinds(self) -> list[str]:
        return [name for name, kind in self.kinds.items() if kind.failures]

    @property
    def ok(self) -> bool:
        return not (self.crashed or self.accounting or self.clean_lines or self.outputs or self.failing_kinds)

    def crash_text(self) -> str:
        return f"exit code {self.fuzzed.returncode}; stderr:\n{self.fuzzed.stderr[-STDERR_TAIL:]}"

    @property
    def crash_line(self) -> str:
        """The last line of a crash's traceback: the exception and its message."""
        lines = [line for line in self.fuzzed.stderr.splitlines() if line.strip()]
        return lines[-1][:500] if self.crashed and lines else ""

    def text(self) -> str:
        """The report a failing test prints: the crash, then per kind the outcomes and the first failures."""
        parts = [f"fuzzed run: {self.crash_text()}" if self.crashed else "fuzzed run: exit code 0, no traceback"]
        for name, kind in self.kinds.items():
            status = f"FAIL {kind.failures}" if kind.failures else "ok"
            parts.append(f"{name}: {status} of {kind.count}, outcomes {dict(kind.outcomes)}")
            parts.extend(f"    {example}" for example in kind.examples)
        for title, problems in (
            ("accounting", self.accounting),
            ("clean lines", self.clean_lines),
            ("outputs", self.outputs),
        ):
            parts.extend(f"{title}: {problem}" for problem in problems[:EXAMPLES])
            if len(problems) > EXAMPLES:
                parts.append(f"{title}: ... {len(problems) - EXAMPLES} more")
        return "\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "crashed": self.crashed,
            "exit_code": self.fuzzed.returncode,
            "crash": self.crash_line,
            "stderr_tail": self.fuzzed.stderr[-STDERR_TAIL:] if self.crashed else "",
            "failing_kinds": self.failing_kinds,
            "kinds": {name: kind.to_json() for name, kind in self.kinds.items()},
            "accounting": self.accounting[:50],
            "clean_lines": self.clean_lines[:50],
            "outputs": self.outputs,
        }


def check(manifest: Manifest, clean: EngineRun, fuzzed: EngineRun) -> FuzzReport:
    report = FuzzReport(clean, fuzzed)
    audit = _group(audit_records(fuzzed.out_dir))
    dead = _by_source(fuzzed.out_dir, "dead_letters.jsonl")
    report.accounting = _accounting(fuzzed.input_dir, audit)
    report.kinds = _fuzz_outcomes(manifest, audit, dead)
    if report.crashed:
        report.outputs.append("not compared: the fuzzed run crashed")
        return report
    report.clean_lines = _clean_lines(manifest, clean, audit, dead)
    report.outputs = _compare_outputs(manifest, clean.out_dir, fuzzed.out_dir)
    return report


def _group(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record.get("source", ""), []).append(record)
    return grouped


def _accounting(input_dir: Path, audit: Mapping[str, list[dict[str, Any]]]) -> list[str]:
    """Every non-blank line of every stream file has exactly one audit record, and no record names another."""
    problems, sources = [], set()
    for stream in STREAMS:
        name = f"{stream}.jsonl"
        for number, raw in enumerate(read_lines(input_dir / name), 1):
            if not raw.strip():
                continue  # the runner skips blank lines: they carry nothing
            source = f"{name}:{number}"
            sources.add(source)
            if len(audit.get(source, ())) != 1:
                problems.append(f"{source}: {len(audit.get(source, ()))} audit records")
    problems.extend(f"{source}: an audit record for no input line" for source in sorted(audit.keys() - sources))
    return problems


def _fuzz_outcomes(
    manifest: Manifest, audit: Mapping[str, list[dict[str, Any]]], dead: Mapping[str, list[dict[str, Any]]]
) -> dict[str, KindReport]:
    present = {line.kind for line in manifest.lines}
    reports = {name: KindReport() for name in KINDS if name in present}
    for line in manifest.lines:
        kind, report = KINDS[line.kind], reports[line.kind]
        records = audit.get(line.source, [])
        outcome = records[0]["outcome"] if len(records) == 1 else ("missing" if not records else "several records")
        letter = dead.get(line.source, [{}])[0]
        report.count += 1
        report.outcomes[outcome] += 1
        if letter:
            report.fields[letter.get("field") or "<none>"] += 1
            if len(report.reasons) < 3 and letter.get("reason") not in report.reasons:
                report.reasons.append(letter.get("reason", ""))
        if not _as_expected(kind, outcome, letter):
            report.fail(line, outcome, letter)
    for report in reports.values():
        report.examples = (report.examples + report.spare)[:EXAMPLES]
    return reports


def _as_expected(kind: Kind, outcome: str, letter: Mapping[str, Any]) -> bool:
    if kind.expect == "duplicate":
        return outcome == "duplicate"
    named = str(letter.get("field") or "")
    return outcome == "dead_letter" and bool(named) and (not kind.fields or named.startswith(kind.fields))


def _clean_lines(
    manifest: Manifest,
    clean: EngineRun,
    audit: Mapping[str, list[dict[str, Any]]],
    dead: Mapping[str, list[dict[str, Any]]],
) -> list[str]:
    """Each clean line has the clean run's outcome, outputs and dead letter (its source aside) in the fuzzed run."""
    problems = []
    clean_dead = _by_source(clean.out_dir, "dead_letters.jsonl")
    for record in audit_records(clean.out_dir):
        moved = manifest.moved.get(record["source"])
        now = audit.get(moved or "", [])
        if moved is None or len(now) != 1:
            continue  # not a stream file's line, or already reported by the accounting
        if now[0]["outcome"] != record["outcome"]:
            problems.append(f"{moved} (clean {record['source']}): {now[0]['outcome']}, clean run {record['outcome']}")
        elif record["outcome"] != "dead_letter" and now[0].get("outputs") != record.get("outputs"):
            problems.append(
                f"{moved} (clean {record['source']}): outputs {now[0].get('outputs')}, "
                f"clean run {record.get('outputs')}"
            )
        elif record["outcome"] == "dead_letter" and _sourceless(dead.get(moved, [{}])[0]) != _sourceless(
            clean_dead.get(record["source"], [{}])[0]
        ):
            problems.append(f"{moved} (clean {record['source']}): another dead letter than in the clean run")
    return problems


def _sourceless(letter: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in letter.items() if key not in ("source", "dead_letter_id")}


def _compare_outputs(manifest: Manifest, clean_out: Path, fuzzed_out: Path) -> list[str]:
    problems = []
    for name in ("matches.jsonl", "status_updates.jsonl", "classified_lines.jsonl"):
        problems.extend(_difference(name, read_lines(clean_out / name), read_lines(fuzzed_out / name)))
    positions = [orjson.loads((out / "cash_positions.json").read_bytes()) for out in (clean_out, fuzzed_out)]
    if positions[0] != positions[1]:
        problems.append(f"cash_positions.json differs: clean {_short(positions[0])} / fuzzed {_short(positions[1])}")
    problems.extend(_difference("exceptions.jsonl", *_comparable_exceptions(manifest, clean_out, fuzzed_out)))
    return problems


def _comparable_exceptions(manifest: Manifest, clean_out: Path, fuzzed_out: Path) -> tuple[list[bytes], list[bytes]]:
    """Both runs' exceptions, the fuzz lines' own dead-letter exceptions (integration) dropped from the fuzzed
    run's; the clean run's dead-letter exceptions name their line where it now stands (and so have another id,
    a hash of their category and that source: the id is left out of those)."""
    fuzz_refs = {line.source for line in manifest.lines}
    fuzz_refs |= {line.event_id for line in manifest.lines if line.event_id and line.event_id.startswith(FUZZ_PREFIX)}
    fuzzed = []
    for raw in read_lines(fuzzed_out / "exceptions.jsonl"):
        record = orjson.loads(raw)
        if record.get("owner_queue") == "integration" and fuzz_refs.intersection(record.get("refs", ())):
            continue
        fuzzed.append(record)
    clean = [orjson.loads(raw) for raw in read_lines(clean_out / "exceptions.jsonl")]
    clean = [_moved_exception(record, manifest.moved, set(manifest.moved)) for record in clean]
    fuzzed = [_moved_exception(record, {}, set(manifest.moved.values())) for record in fuzzed]
    return [_sorted_json(record) for record in clean], [_sorted_json(record) for record in fuzzed]


def _sorted_json(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _moved_exception(record: dict[str, Any], moved: Mapping[str, str], sources: set[str]) -> dict[str, Any]:
    """A dead-letter exception of a clean line, named by where the line stands in the fuzzed folder."""
    refs = record.get("refs", [])
    if not any(ref in sources for ref in refs):
        return record
    return {
        **{key: value for key, value in record.items() if key != "exception_id"},
        "refs": [moved.get(ref, ref) for ref in refs],
    }


def _difference(name: str, clean: list[bytes], fuzzed: list[bytes]) -> list[str]:
    if clean == fuzzed:
        return []
    first = next(
        (i for i, (a, b) in enumerate(zip(clean, fuzzed, strict=False)) if a != b), min(len(clean), len(fuzzed))
    )
    return [
        f"{name} differs: {len(clean)} records clean, {len(fuzzed)} fuzzed; first at record {first + 1}: "
        f"clean {_line_at(clean, first)} / fuzzed {_line_at(fuzzed, first)}"
    ]


def _line_at(lines: list[bytes], index: int) -> str:
    return lines[index].decode(errors="replace")[:300] if index < len(lines) else "<end>"


def _short(value: Any) -> str:
    return orjson.dumps(value).decode()[:300]


# --- all together ---------------------------------------------------------------------------------------


@dataclass(repr=False)
class Fuzzed:
    clean_dir: Path
    applied: dict[str, set[int]]
    manifest: Manifest
    report: FuzzReport

    def __repr__(self) -> str:  # what pytest prints of a fixture: the report says the rest
        return f"Fuzzed({self.report.fuzzed.input_dir}, {len(self.manifest.lines)} fuzz lines, ok={self.report.ok})"


def clean_run(
    clean_dir: Path, work: Path, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> EngineRun:
    run = run_engine(clean_dir, work / "clean-out", env, timeout)
    if run.crashed:
        raise RuntimeError(f"the clean run failed, so nothing can be compared with it: {run.stderr[-STDERR_TAIL:]}")
    return run


def fuzz_and_check(
    clean_dir: Path,
    work: Path,
    count: int,
    seed: int,
    kinds: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    clean: EngineRun | None = None,
    name: str = "fuzzed",
) -> Fuzzed:
    """Run the clean folder (unless its run is given), fuzz it, run the fuzzed folder and check the two."""
    clean = clean or clean_run(clean_dir, work, env, timeout)
    applied = applied_lines(clean.out_dir)
    target = work / name
    if target.exists():
        shutil.rmtree(target)
    manifest = fuzz_input(clean_dir, target, applied, count, seed, kinds)
    (work / f"{name}-manifest.json").write_bytes(orjson.dumps(manifest.to_json()))
    fuzzed = run_engine(target, work / f"{name}-out", env, timeout)
    return Fuzzed(clean_dir, applied, manifest, check(manifest, clean, fuzzed))


def check_each_kind(
    clean_dir: Path,
    work: Path,
    per_kind: int,
    seed: int,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, FuzzReport]:
    """Each kind alone in its own fuzzed folder: which kinds crash the engine (one crash hides the others)."""
    clean = clean_run(clean_dir, work, env, timeout)
    reports = {}
    for name in KINDS:
        fuzzed = fuzz_and_check(clean_dir, work, per_kind, seed, [name], env, timeout, clean, name=f"kind-{name}")
        reports[name] = fuzzed.report
        shutil.rmtree(work / f"kind-{name}")  # a kind's folder can hold megabytes of one-MiB strings
    return reports
