"""Detection quality: the engine's exceptions against the planted labels.

A label is caught by an exception of its category that names its ref; an exception that catches no label
is a false alarm. Exceptions are counted once per exception_id (the file has a second record when one is
resolved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .labels import Labels

_SAMPLE = 20


def score(labels: Labels | Mapping[str, Any], exceptions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    planted = (labels if isinstance(labels, Labels) else Labels.model_validate(labels)).planted
    wanted: dict[tuple[str, str], bool] = {}  # (category, ref) -> caught
    injected: dict[str, int] = {}
    for label in planted:
        wanted[(label.category, label.ref)] = False
        injected[label.category] = injected.get(label.category, 0) + 1

    seen: dict[str, None] = {}
    detected: dict[str, int] = {}
    false_refs: list[str] = []
    false_count = 0
    for record in exceptions:
        exception_id = record["exception_id"]
        if exception_id in seen:
            continue
        seen[exception_id] = None
        category, refs = record["category"], record.get("refs") or ()
        detected[category] = detected.get(category, 0) + 1
        hits = [(category, ref) for ref in refs if (category, ref) in wanted]
        for hit in hits:
            wanted[hit] = True
        if not hits:
            false_count += 1
            if len(false_refs) < _SAMPLE:
                false_refs.append(f"{category}:{refs[0] if refs else exception_id}")

    missed = [f"{category}:{ref}" for (category, ref), caught in wanted.items() if not caught]
    # Which kinds of planted duplicate were caught: the exact tier's re-keyed copies, or the fuzzy ones.
    variants: dict[str, dict[str, int]] = {}
    for label in planted:
        if label.variant is not None:
            tally = variants.setdefault(label.variant, {"planted": 0, "caught": 0})
            tally["planted"] += 1
            tally["caught"] += wanted[(label.category, label.ref)]
    return {
        "injected": dict(sorted(injected.items())),
        "detected": dict(sorted(detected.items())),
        "duplicate_variants": dict(sorted(variants.items())),
        "missed": len(missed),
        "false_exceptions": false_count,
        "missed_refs": missed[:_SAMPLE],
        "false_refs": false_refs,
    }
