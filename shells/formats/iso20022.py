"""Which ISO 20022 message a file holds, whatever wraps it or whoever published its namespace.

Banks and national communities publish the same messages under their own namespaces (the Swiss SIX
`http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.02.xsd`, German and Austrian variants with
the ISO namespace and their own schema location), and SWIFTNet delivers them inside an Alliance Access
DataPDU envelope, beside a business application header. Only the message name and version in the
namespace of the `Document` element matter: the element names inside are ISO's.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from . import safexml as x

_MESSAGE = re.compile(r"(?<![0-9a-z])(camt\.05[234]|pain\.002)\.001\.(\d{2})(?![0-9])")
HEAD_ELEMENTS = 400  # an envelope's header is short: the Document starts within this many elements


def message_of(namespace: str) -> tuple[str, int] | None:
    """('camt.053', 2) for any namespace naming camt.053.001.02 (ISO's or a national one)."""
    found = _MESSAGE.search(namespace)
    return (found.group(1), int(found.group(2))) if found else None


def document_namespace(path: Path) -> str:
    """The namespace of the message itself: the root's, or the first `Document` inside an envelope."""
    x.check_size(path, x.STREAM_MAX_BYTES)
    x.check_prolog(x.read_head(path))
    context = etree.iterparse(str(path), events=("start",), **x.lock_down())
    root = ""
    try:
        for seen, (_, element) in enumerate(context):
            name = etree.QName(element)
            namespace = name.namespace or ""
            if seen == 0:
                x.refuse_doctype(element)
                root = namespace
            if message_of(namespace) is not None or name.localname == "Document":
                return namespace
            if seen >= HEAD_ELEMENTS:
                break
    except etree.XMLSyntaxError as exc:
        raise x.BadXmlError(f"not well-formed XML: {exc}") from None
    return root


def message_document(root: etree._Element) -> etree._Element:
    """The Document element of a parsed file: the root itself, or the one inside an envelope."""
    if message_of(x.namespace(root)) is not None:
        return root
    for element in root.iter("{*}Document"):
        return element
    return root
