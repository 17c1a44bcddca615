"""ZIP archives of statement files: each member converted as if it had been delivered on its own.

Banks and host-to-host channels bundle a day's statements (one per account) into one ZIP. Each member
keeps its own content digest, so its events have the same ids as the member delivered alone (a bank that
sends both the archive and the files changes nothing). Members are written to a private temporary
folder under their base name only (no path in the archive can escape it), and an archive is bounded:
members, their unpacked sizes, and the ratio of unpacked to packed size (a ZIP bomb unpacks 1,000 to 1).
An archive inside an archive is not opened.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath

from .canonical import FieldError, IngestOptions, IngestResult

MAX_MEMBERS = 1_000
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200
COPY_CHUNK = 1 << 20

Ingest = Callable[[Path, str, IngestOptions], Iterator[IngestResult]]


def members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files to convert, in name order; the bounds checked before anything is unpacked."""
    found = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not PurePosixPath(info.filename).name.startswith((".", "__MACOSX"))
        and "__MACOSX/" not in info.filename
    ]
    if len(found) > MAX_MEMBERS:
        raise FieldError("<zip>", f"{len(found)} members, more than the {MAX_MEMBERS} allowed")
    for info in found:
        if info.file_size > MAX_MEMBER_BYTES:
            raise FieldError(info.filename, f"unpacks to {info.file_size} bytes, more than {MAX_MEMBER_BYTES}")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise FieldError(info.filename, f"unpacks {info.file_size / info.compress_size:.0f} to 1 (a ZIP bomb?)")
    return sorted(found, key=lambda info: info.filename)


def convert_archive(path: Path, options: IngestOptions, ingest: Ingest) -> Iterator[IngestResult]:
    """Every member's results, its position prefixed by the member's name inside the archive."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FieldError("<zip>", f"not a readable ZIP archive: {exc}") from None
    with archive, tempfile.TemporaryDirectory(prefix="recon-zip-") as scratch:
        for info in members(archive):
            name = PurePosixPath(info.filename).name
            target = Path(scratch) / name
            with archive.open(info) as packed, target.open("wb") as unpacked:
                written = 0
                while chunk := packed.read(COPY_CHUNK):
                    written += len(chunk)
                    if written > MAX_MEMBER_BYTES:  # the header may lie about the size
                        raise FieldError(info.filename, f"unpacks to more than {MAX_MEMBER_BYTES} bytes")
                    unpacked.write(chunk)
            if target.read_bytes()[:4] == b"PK\x03\x04":
                raise FieldError(info.filename, "an archive inside the archive is not opened")
            for result in ingest(target, "auto", options):
                yield _inside(result, path.name, info.filename)
            target.unlink()


def _inside(result: IngestResult, archive: str, member: str) -> IngestResult:
    position = f"{member}:{result.position}"
    error = None if result.error is None else replace(result.error, file=archive, position=position)
    return replace(result, file=archive, position=position, error=error)
