"""Bank and e-invoice formats: pain.001 out; pain.002, camt.052/053/054, MT940/942, BAI2, UBL and flat files in.

Every inbound converter yields canonical events in the exact JSONL envelope the engine reads, or errors
naming file, position and field. See docs/formats.md.
"""

from .canonical import IngestError, IngestOptions, IngestResult
from .ingest import CHOICES, expand, ingest_file, ingest_paths, stage_files, stream_of, to_jsonl
from .pain001 import build_pain001, validate_pain001

__all__ = [
    "CHOICES",
    "IngestError",
    "IngestOptions",
    "IngestResult",
    "build_pain001",
    "expand",
    "ingest_file",
    "ingest_paths",
    "stage_files",
    "stream_of",
    "to_jsonl",
    "validate_pain001",
]
