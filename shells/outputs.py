"""Output records as bytes (the files themselves: sinks/files.py; the audit log: audit.py)."""

from __future__ import annotations

import orjson
from reconstream.models.base import record_fields
from reconstream.models.outputs import RECORD_STREAMS, OutputStream
from reconstream.streams import Output

# The `<name>.jsonl` files of a run folder. Plain strings: a checkpoint keys their lengths by these names, and
# orjson takes only an exact str as a key.
OUTPUT_FILES = tuple(stream.value for stream in (*RECORD_STREAMS, OutputStream.AUDIT))


def record_json(output: Output) -> bytes:
    """An output record as one JSON object, the same bytes in a file line and in a Kafka message."""
    return orjson.dumps(record_fields(output.record), option=orjson.OPT_SORT_KEYS)


_ID_FIELD: dict[OutputStream, str] = {
    OutputStream.EXCEPTIONS: "exception_id",
    OutputStream.MATCHES: "match_id",
    OutputStream.CLASSIFIED_LINES: "classification_id",
    OutputStream.STATUS_UPDATES: "update_id",
    OutputStream.DEAD_LETTERS: "dead_letter_id",
    OutputStream.POSTING_REQUESTS: "posting_id",
}


def output_id(output: Output) -> str:
    # A missing attribute costs pydantic an exception per lookup: go straight to the stream's id field.
    return str(getattr(output.record, _ID_FIELD[output.stream]))
