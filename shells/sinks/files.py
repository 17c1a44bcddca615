"""Output files of the embedded shell: one JSON Lines file per output stream, and the audit log.

Files are only appended to. A checkpoint records each file's length and the SHA-256 of its bytes up to that
length; `flush` fsyncs the files before it returns those, so no checkpoint names bytes that are not on disk.
On resume a file longer than recorded (a crash after the checkpoint) is cut back to its length, so output
written after the last checkpoint is written again exactly once. A file shorter than recorded, or whose
first bytes are not the ones written, lost writes in a power cut (or was changed by hand): it cannot be made
to match the state again, so the sink refuses to resume and changes nothing. It never pads a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from reconstream.models.outputs import OutputStream
from reconstream.streams import Output

from ..outputs import OUTPUT_FILES, record_json
from .base import ResumeRefused, Sink

if TYPE_CHECKING:
    from hashlib import _Hash

_CHUNK = 1 << 20


class FileSink(Sink):
    name = "files"

    def __init__(
        self, out_dir: Path, resume_lengths: dict[str, int] | None, resume_digests: dict[str, str] | None = None
    ) -> None:
        """`resume_lengths` and `resume_digests` are what `flush` and `digests` returned at the checkpoint a run
        resumes from (None: a new run, which empties the files). A checkpoint without digests, written before
        they were kept, is checked by its lengths alone."""
        make_folder(out_dir)
        paths = {name: out_dir / f"{name}.jsonl" for name in OUTPUT_FILES}
        if resume_lengths is None:
            self._hashes = start_empty(paths)
            self._synced = dict.fromkeys(paths, 0)
        else:
            self._hashes = check_against_checkpoint(out_dir, paths, resume_lengths, resume_digests or {})
            cut_back(paths, resume_lengths)
            self._synced = {name: resume_lengths.get(name, 0) for name in paths}
        self._paths = paths
        self._handles: dict[str, IO[bytes]] = {name: path.open("ab", buffering=_CHUNK) for name, path in paths.items()}
        self._digests: dict[str, str] = {}

    def add(self, output: Output, position: int) -> None:
        self.add_line(output.stream, record_json(output))

    def add_line(self, stream: str, line: bytes) -> None:
        """One record already as its JSON bytes (what a Kafka output topic holds)."""
        self._write(stream, line + b"\n")

    def add_audit(self, entry: dict[str, Any], position: int) -> None:
        self._write(OutputStream.AUDIT, orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n")

    def _write(self, name: str, data: bytes) -> None:
        # Hashed as written, so a checkpoint's digest never costs reading a file back.
        try:
            self._handles[name].write(data)
        except OSError as exc:
            name_file(exc, self._paths[name])
            raise
        self._hashes[name].update(data)

    def flush(self) -> dict[str, int]:
        """Put everything on disk and return each file's length, for the checkpoint (`digests` then gives the
        SHA-256 of the same bytes). One fsync per file that grew since the last flush: the checkpoint that
        records these lengths is committed after this returns, and must never outlive the bytes in a power cut."""
        lengths = {}
        for name, handle in self._handles.items():
            try:
                handle.flush()
                lengths[name] = handle.tell()
                if lengths[name] != self._synced[name]:
                    os.fsync(handle.fileno())
                    self._synced[name] = lengths[name]
            except OSError as exc:  # a full disk: no checkpoint may name these lengths (the caller stops)
                name_file(exc, self._paths[name])
                raise
            self._digests[name] = self._hashes[name].copy().hexdigest()
        return lengths

    def digests(self) -> dict[str, str]:
        """The SHA-256 (hex) of each file's bytes up to the length the last `flush` returned."""
        return dict(self._digests)

    def handles(self) -> list[IO[bytes]]:
        return list(self._handles.values())

    def close(self) -> None:
        """Close every file. What a close would still write is past the last `flush`, which no checkpoint names
        (a resume cuts it off), so a failure to write it (a full disk) is not raised over the error that stopped
        the run; every file is closed either way."""
        for handle in self._handles.values():
            with contextlib.suppress(OSError):
                handle.close()


def name_file(exc: OSError, path: Path) -> None:
    """Give `exc` the file it happened on (a buffered write or flush reports the OS error without one), so the
    operator is told which file a full disk stopped."""
    if exc.filename is None:
        exc.filename = str(path)


def start_empty(paths: dict[str, Path]) -> dict[str, _Hash]:
    """A new run's files, empty, their names made durable in the folder; a fresh hash for each."""
    for path in paths.values():
        path.write_bytes(b"")
    fsync_directory(next(iter(paths.values())).parent)
    return {name: hashlib.sha256() for name in paths}


def check_against_checkpoint(
    out_dir: Path, paths: dict[str, Path], lengths: dict[str, int], digests: dict[str, str]
) -> dict[str, _Hash]:
    """Each file's hash up to its checkpointed length, to go on from; refuses (changing nothing) if any file
    is shorter than that length or its bytes up to it do not hash to the checkpoint's digest."""
    hashes: dict[str, _Hash] = {}
    problems: list[str] = []
    for name, path in paths.items():
        length, found = lengths.get(name, 0), size_of(path)
        if found is None and length > 0:
            problems.append(f"{path.name}: missing, where the checkpoint recorded {length:,} bytes")
        elif found is not None and found < length:
            problems.append(f"{path.name}: {found:,} bytes, where the checkpoint recorded {length:,}")
        else:
            hashes[name] = hash_prefix(path, length)
            if name in digests and hashes[name].hexdigest() != digests[name]:
                problems.append(
                    f"{path.name}: its first {length:,} bytes are not the bytes written "
                    "(their SHA-256 differs from the checkpoint's)"
                )
    if problems:
        raise ResumeRefused(
            f"cannot resume into {out_dir}: its output files do not hold what the last checkpoint recorded "
            "(writes lost in a power cut, or the files were changed since):\n  "
            + "\n  ".join(problems)
            + "\nNo output file was changed."
        )
    return hashes


def cut_back(paths: dict[str, Path], lengths: dict[str, int]) -> None:
    """Drop what was written after the checkpoint; files are already known to be at least that long."""
    created = False
    for name, path in paths.items():
        length, found = lengths.get(name, 0), size_of(path)
        if found is None:
            path.write_bytes(b"")  # an output file this checkpoint did not know (length 0)
            created = True
        elif found > length:
            os.truncate(path, length)
    if created:
        fsync_directory(next(iter(paths.values())).parent)


def hash_prefix(path: Path, length: int) -> _Hash:
    """The SHA-256 of a file's first `length` bytes, read in chunks (an audit log reaches GBs)."""
    digest = hashlib.sha256()
    if length == 0:
        return digest
    with path.open("rb") as handle:
        left = length
        while left and (chunk := handle.read(min(_CHUNK, left))):
            digest.update(chunk)
            left -= len(chunk)
    return digest


def size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def make_folder(path: Path) -> None:
    """`mkdir -p`, with each new folder's name fsynced into its parent: a power cut must not lose the folder
    of files a checkpoint names."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in reversed(missing):
        fsync_directory(folder.parent)


def fsync_directory(path: Path) -> None:
    """Make the names in a folder durable (a new file's entry is not on disk until its folder is synced)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
