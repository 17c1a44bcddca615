"""Which format a file is in, from its content first (XML root namespace, SWIFT and BAI2 markers), then
its extension for flat files. Reads only the head of the file and, for XML, up to the root start tag."""

from __future__ import annotations

import re
from pathlib import Path

from reconstream.models.errors import ReconError

from . import safexml as x
from .iso20022 import document_namespace, message_of
from .ubl import NAMESPACE as UBL

HEAD_BYTES = 4096
FORMATS = ("pain002", "camt052", "camt053", "camt054", "mt940", "mt942", "bai2", "ubl", "csv", "json", "zip")
ZIP_MAGIC = b"PK\x03\x04"
_MT940 = re.compile(rb"^:20:", re.MULTILINE)
_MT942 = re.compile(rb"\{2:[IO]942|^:13D:|^:34F:", re.MULTILINE)


class FormatError(ReconError, ValueError):
    """The file is in no format we read."""


def detect(path: Path) -> str:
    head = x.read_head(path, HEAD_BYTES)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"<"):
        return _xml_format(path)
    if body.startswith(b"{1:") or _MT940.search(head):
        return "mt942" if _MT942.search(head) else "mt940"
    if body.startswith(b"01,"):
        return "bai2"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".json", ".jsonl") and body[:1] in (b"[", b"{"):
        return "json"
    raise FormatError(f"unknown file format (not ISO 20022, UBL, MT940/942, BAI2, CSV or JSON): starts {body[:20]!r}")


def _xml_format(path: Path) -> str:
    namespace = document_namespace(path)  # the message's own, inside a SWIFT envelope too
    message = message_of(namespace)
    if message is not None:
        return message[0].replace(".", "")
    if UBL.match(namespace):
        return "ubl"
    raise FormatError(f"XML with an unsupported message namespace {namespace!r}")
