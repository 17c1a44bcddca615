"""Where accepted events go: the same input streams files and topics feed.

`IntakeWriter` is deliberately small (append a few events durably, close), so that a Kafka producer can
stand beside the file writer: `KafkaIntakeWriter` (kafka_writer.py) produces each line to its stream's input
topic keyed by ledger, as `recon produce` does, and has every record acknowledged before returning. The
file writer appends one line per event to `<input_dir>/<stream>.jsonl`, the files `recon run --input <dir>`
reads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reconstream.models.events import Stream

from ..inputs import file_name


@dataclass(frozen=True, slots=True)
class Accepted:
    """One validated event to store: its stream, id and the JSON line (without its newline)."""

    stream: Stream
    event_id: str
    line: bytes


class IntakeWriter(Protocol):
    def append(self, events: Sequence[Accepted]) -> None:
        """Store the events, durably when it returns (the sender is then told 202); raise OSError if not."""
        ...

    def close(self) -> None: ...


class FileIntakeWriter:
    """Appends to `<input_dir>/<stream>.jsonl`, fsynced before `append` returns, one append at a time.

    A line is never torn: each stream's lines go out in one write under the lock, a failed write is cut back
    to where it started, and a file that ends mid-line (a writer that died while writing) first gets a newline,
    so the fragment stays a bad line of its own instead of spoiling the event appended after it.
    """

    def __init__(self, input_dir: Path) -> None:
        self.input_dir = input_dir
        self._lock = threading.Lock()
        input_dir.mkdir(parents=True, exist_ok=True)

    def append(self, events: Sequence[Accepted]) -> None:
        by_stream: dict[Stream, list[bytes]] = {}
        for event in events:
            by_stream.setdefault(event.stream, []).append(event.line + b"\n")
        with self._lock:
            for stream, lines in by_stream.items():
                self._append(self.input_dir / file_name(stream), b"".join(lines))

    def close(self) -> None:
        """Nothing is held open between appends: each one opens, writes, fsyncs and closes its files."""

    def _append(self, path: Path, data: bytes) -> None:
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # a disk that filled mid-write leaves no part of a line behind
                raise
        finally:
            os.close(fd)
        if created:
            _fsync_dir(path.parent)  # the new file's name must survive a crash as well as its content


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
