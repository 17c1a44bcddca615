"""Index tables: a blocking key to the ids of the documents filed under it, in filing order.

Buckets are replaced, never changed in place: a table holds values a store may still encode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .store import Table


def file_under(index: Table[Any], keys: Iterable[str], ref: str) -> None:
    for key in keys:
        refs = index.get(key) or []
        if ref not in refs:
            index[key] = [*refs, ref]


def unfile(index: Table[Any], keys: Iterable[str], ref: str) -> None:
    for key in keys:
        refs = index.get(key)
        if not refs or ref not in refs:
            continue
        if len(refs) == 1:
            del index[key]
        else:
            refs = list(refs)  # a copy: the stored bucket is left as it was (see above)
            refs.remove(ref)
            index[key] = refs
