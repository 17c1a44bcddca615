"""Parsing bank and e-invoice XML without trusting it.

Bank files come from outside the company. A DOCTYPE has no business in an ISO 20022 or UBL message and
is the door for XXE and entity bombs, so any DOCTYPE is refused before libxml2 sees the document; the
parser is also locked down (no entity resolution, no DTD loading, no network, libxml2's default depth and
text-node limits kept by huge_tree=False), and the file size is bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from lxml import etree
from reconstream.models.errors import ReconError

DEFAULT_MAX_BYTES = 32 * 1024 * 1024  # a status report or invoice is small; a statement is streamed
STREAM_MAX_BYTES = 2 * 1024 * 1024 * 1024
PROLOG_SCAN_BYTES = 64 * 1024

_PROLOG_NOISE = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->)", re.DOTALL)


class UnsafeXmlError(ReconError, ValueError):
    """The file is refused before parsing (DOCTYPE, entities, size)."""


class BadXmlError(ReconError, ValueError):
    """The file is not well-formed XML (truncated, garbage, too deep)."""


def lock_down() -> dict[str, bool]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_pis": True,
    }


def check_size(path: Path, max_bytes: int) -> int:
    size = path.stat().st_size
    if size > max_bytes:
        raise UnsafeXmlError(f"file is {size} bytes, more than the {max_bytes} allowed for this format")
    if size == 0:
        raise BadXmlError("file is empty")
    return size


def check_prolog(head: bytes) -> None:
    """Refuse a DOCTYPE: it can only appear before the root element, so the prolog is enough to look at."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode()
    head = head.removeprefix(b"\xef\xbb\xbf")
    position = 0
    while True:
        noise = _PROLOG_NOISE.match(head, position)
        if noise is None:
            break
        position = noise.end()
    rest = head[position:].lstrip()
    if rest[:9].upper() == b"<!DOCTYPE":
        raise UnsafeXmlError("DOCTYPE declarations are refused (XXE / entity expansion risk)")


def read_head(path: Path, size: int = PROLOG_SCAN_BYTES) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def parse_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """A whole (small) document as a tree, after the size and DOCTYPE checks."""
    check_size(path, max_bytes)
    data = path.read_bytes()
    check_prolog(data[:PROLOG_SCAN_BYTES])
    parser = etree.XMLParser(**lock_down())
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BadXmlError(f"not well-formed XML: {exc}") from None
    refuse_doctype(root)
    return root


def iter_elements(path: Path, tags: Iterable[str], max_bytes: int = STREAM_MAX_BYTES) -> Iterator[etree._Element]:
    """End events for the given local names, streamed; the caller clears what it has used."""
    check_size(path, max_bytes)
    check_prolog(read_head(path))
    wanted = tuple(f"{{*}}{name}" for name in tags)
    context = etree.iterparse(str(path), events=("end",), tag=wanted, **lock_down())
    first = True
    try:
        for _, element in context:
            if first:
                refuse_doctype(element)
                first = False
            yield element
    except etree.XMLSyntaxError as exc:
        raise BadXmlError(f"not well-formed XML: {exc}") from None


def root_namespace(path: Path) -> tuple[str, str]:
    """(namespace, local name) of the root element, reading only as far as the root's start tag."""
    check_size(path, STREAM_MAX_BYTES)
    check_prolog(read_head(path))
    context = etree.iterparse(str(path), events=("start",), **lock_down())
    try:
        for _, element in context:
            refuse_doctype(element)
            name = etree.QName(element)
            return name.namespace or "", name.localname
    except etree.XMLSyntaxError as exc:
        raise BadXmlError(f"not well-formed XML: {exc}") from None
    raise BadXmlError("no root element")


def refuse_doctype(element: etree._Element) -> None:
    # Second line of defence in case a DOCTYPE slipped past the prolog scan (odd encodings).
    info = element.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise UnsafeXmlError("DOCTYPE declarations are refused (XXE / entity expansion risk)")


def localname(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str:
    return etree.QName(element).namespace or ""


ISO20022 = "urn:iso:std:iso:20022:"


@lru_cache(maxsize=4096)
def _steps(namespace: str, path: str) -> tuple[str, ...]:
    # An ISO 20022 message lives in one namespace, so exact names are safe there (and fast); elsewhere
    # (UBL mixes cac/cbc namespaces) any namespace is accepted: local names are what stays.
    prefix = f"{{{namespace}}}" if namespace.startswith(ISO20022) else "{*}"
    return tuple(prefix + step for step in path.split("/"))


def _namespace_of(element: etree._Element) -> str:
    tag = element.tag
    return tag[1 : tag.index("}")] if isinstance(tag, str) and tag[:1] == "{" else ""


def find(element: etree._Element | None, path: str) -> etree._Element | None:
    """First element at a child path; walked with iterchildren, which is much cheaper than ElementPath."""
    if element is None:
        return None
    found = element
    for step in _steps(_namespace_of(element), path):
        child = next(found.iterchildren(step), None)
        if child is None:
            return None
        found = child
    return found


def findall(element: etree._Element | None, path: str) -> list[etree._Element]:
    if element is None:
        return []
    level = [element]
    for step in _steps(_namespace_of(element), path):
        level = [child for parent in level for child in parent.iterchildren(step)]
    return level


def text(element: etree._Element | None, path: str) -> str | None:
    """Stripped text at a local-name path, or None when absent or blank."""
    found = find(element, path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def first_text(element: etree._Element | None, *paths: str) -> str | None:
    for path in paths:
        value = text(element, path)
        if value is not None:
            return value
    return None


def release(element: etree._Element) -> None:
    """Free a processed element and the siblings before it, so memory stays flat on big statements."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
