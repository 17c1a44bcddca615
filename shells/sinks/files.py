"""Output files of the embedded shell: one JSON Lines file per output stream, and the audit log.

Files are only appended to. A checkpoint records their lengths; on resume they are cut back to those
lengths, so output written after the last checkpoint is written again exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson
from reconstream.streams import Output

from ..outputs import OUTPUT_FILES, record_json
from .base import Sink


class FileSink(Sink):
    name = "files"

    def __init__(self, out_dir: Path, resume_lengths: dict[str, int] | None) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self._handles: dict[str, IO[bytes]] = {}
        for name in OUTPUT_FILES:
            path = out_dir / f"{name}.jsonl"
            if resume_lengths is None:
                path.write_bytes(b"")
            else:
                with path.open("ab") as handle:
                    handle.truncate(resume_lengths.get(name, 0))
            self._handles[name] = path.open("ab", buffering=1 << 20)

    def add(self, output: Output, position: int) -> None:
        self.add_line(output.stream, record_json(output))

    def add_line(self, stream: str, line: bytes) -> None:
        """One record already as its JSON bytes (what a Kafka output topic holds)."""
        self._handles[stream].write(line + b"\n")

    def add_audit(self, entry: dict[str, Any], position: int) -> None:
        self._handles["audit"].write(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n")

    def flush(self) -> dict[str, int]:
        """Push everything to the OS and return each file's length, for the checkpoint."""
        lengths = {}
        for name, handle in self._handles.items():
            handle.flush()
            lengths[name] = handle.tell()
        return lengths

    def handles(self) -> list[IO[bytes]]:
        return list(self._handles.values())

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
