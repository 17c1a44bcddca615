"""Output records as bytes (the files themselves: sinks/files.py; the audit log: audit.py)."""

from __future__ import annotations

import orjson
from reconstream.streams import Output

OUTPUT_FILES = ("exceptions", "matches", "classified_lines", "status_updates", "dead_letters", "audit")


def record_json(output: Output) -> bytes:
    """An output record as one JSON object, the same bytes in a file line and in a Kafka message."""
    return orjson.dumps(output.record.model_dump(mode="json", exclude_none=True), option=orjson.OPT_SORT_KEYS)


_ID_FIELD = {
    "exceptions": "exception_id",
    "matches": "match_id",
    "classified_lines": "classification_id",
    "status_updates": "update_id",
    "dead_letters": "dead_letter_id",
}


def output_id(output: Output) -> str:
    # A missing attribute costs pydantic an exception per lookup: go straight to the stream's id field.
    return str(getattr(output.record, _ID_FIELD[output.stream]))
