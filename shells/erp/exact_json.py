"""JSON with every Decimal written as the number it is, digit for digit: ERP APIs take amounts as JSON numbers,
and json and orjson would write a Decimal through float (or refuse it). A float is refused: money here is
Decimal, and a float in a body is a defect to see, not a value to round."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import orjson


def exact_json(value: Any) -> bytes:
    return _text(value).encode()


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{orjson.dumps(str(key)).decode()}:{_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_text(item) for item in value) + "]"
    if isinstance(value, float):
        raise TypeError("a float in an ERP body: money goes as Decimal")
    if isinstance(value, date):  # a datetime too: both as ISO 8601 text
        return orjson.dumps(value.isoformat()).decode()
    return orjson.dumps(value).decode()
