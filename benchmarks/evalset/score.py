"""The engine's outputs against the independent evaluation set's labels (see README.md beside this file).

Reads what a run wrote (exceptions, matches, status updates) and the set's `labels.json`; knows nothing of
how the engine decides. Duplicates: precision and recall of the flagged copies, per class, and which hard
negatives were flagged. Bank lines: per class, how many were auto-matched to exactly the labeled
invoices, matched to anything else (wrong), sent to review, left unmatched; the invoice-paying share
matched right, and wrong matches as a share of all lines. Ledger: invoices paid, and left open, as the
labels' final state says.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

Json = dict[str, Any]


def _records(path: Path) -> Iterable[Json]:
    if path.exists():
        with path.open("rb") as handle:
            for line in handle:
                yield orjson.loads(line)


def latest_exceptions(out: Path) -> dict[str, Json]:
    """Each exception as it stands at the end (a resolution is a second record under the same id)."""
    return {record["exception_id"]: record for record in _records(out / "exceptions.jsonl")}


def score_duplicates(labels: Json, exceptions: Mapping[str, Json]) -> Json:
    truth = {d["invoice_id"]: d for d in labels["duplicates"]}
    negatives = {i: group["class"] for group in labels["duplicate_negatives"] for i in group["invoice_ids"]}
    flagged: dict[str, str] = {}
    for record in exceptions.values():
        if record["category"] == "duplicate_invoice":
            flagged.setdefault(record["refs"][0], record["refs"][1] if len(record["refs"]) > 1 else "")
    true_flags = [i for i in flagged if i in truth]
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    for invoice_id, label in truth.items():
        tally = per_class[label["class"]]
        tally["labeled"] += 1
        tally["caught"] += invoice_id in flagged
    false_by_class = Counter(negatives.get(i, "other") for i in flagged if i not in truth)
    right_original = sum(
        1 for i in true_flags if flagged[i] in (truth[i]["original_invoice_id"], *_same_document(truth, i))
    )
    precision = len(true_flags) / len(flagged) if flagged else 1.0
    recall = len(true_flags) / len(truth) if truth else 1.0
    return {
        "labeled": len(truth),
        "flagged": len(flagged),
        "true": len(true_flags),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "pointing_at_a_copy_of_the_same_document": right_original,
        "per_class": {k: dict(v) for k, v in sorted(per_class.items())},
        "false_flags_by_negative_class": dict(sorted(false_by_class.items())),
        "false_flag_sample": sorted(i for i in flagged if i not in truth)[:20],
        "missed_sample": sorted(i for i in truth if i not in flagged)[:20],
    }


def _same_document(truth: Mapping[str, Json], invoice_id: str) -> list[str]:
    """Other copies of the same original: pointing at one of them is still the right document."""
    original = truth[invoice_id]["original_invoice_id"]
    return [i for i, d in truth.items() if d["original_invoice_id"] == original and i != invoice_id]


def engine_outcomes(out: Path, exceptions: Mapping[str, Json]) -> tuple[dict[str, Json], set[str]]:
    """(bank entry id -> its match, the entry ids sent to treasury's review queue)."""
    matches: dict[str, Json] = {}
    for match in _records(out / "matches.jsonl"):
        matches.setdefault(match["settlement_entry_id"], match)
    review = {
        record["refs"][0]
        for record in exceptions.values()
        if record["category"] == "unmatched_settlement" and record.get("refs")
    }
    return matches, review


def score_lines(labels: Json, out: Path, exceptions: Mapping[str, Json]) -> Json:
    matches, review = engine_outcomes(out, exceptions)
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    wrong_sample: list[Json] = []
    missed_sample: list[Json] = []
    paying = paying_right = wrong = 0
    for line in labels["lines"]:
        ref, expect = line["ref"], line["expect"]
        tally = per_class[line["class"]]
        tally["lines"] += 1
        match = matches.get(ref)
        got = sorted(match["invoice_ids"]) if match else None
        if expect == "match":
            paying += 1
            if got == sorted(line["invoice_ids"]):
                paying_right += 1
                tally["right"] += 1
                continue
        if (match is not None and expect != "match") or (expect == "match" and got is not None):
            wrong += 1
            tally["wrong"] += 1
            if len(wrong_sample) < 25:
                expected = line.get("invoice_ids")
                wrong_sample.append({"ref": ref, "class": line["class"], "expected": expected, "got": got})
            continue
        if expect in ("non_invoice", "unmatched", "review", "return"):
            tally["right"] += 1  # not put on any invoice: what is right for these (routing is checked apart)
        elif ref in review:
            tally["review"] += 1
        else:
            tally["unmatched"] += 1
        if expect == "match" and len(missed_sample) < 25:
            missed_sample.append({"ref": ref, "class": line["class"], "expected": line["invoice_ids"]})
    lines = len(labels["lines"])
    return {
        "lines": lines,
        "invoice_paying_lines": paying,
        "auto_matched_right": paying_right,
        "auto_matched_right_share": round(paying_right / paying, 4) if paying else 1.0,
        "wrong_matches": wrong,
        "wrong_match_share_of_all_lines": round(wrong / lines, 5) if lines else 0.0,
        "per_class": {k: dict(v) for k, v in sorted(per_class.items())},
        "wrong_sample": wrong_sample,
        "missed_sample": missed_sample,
    }


def score_ledger(labels: Json, out: Path) -> Json:
    """Invoices the AP platform was told are paid, against the labels' final state."""
    status: dict[str, str] = {}
    for update in _records(out / "status_updates.jsonl"):
        status[update["invoice_id"]] = update["status"]
    paid = {i for i, s in status.items() if s == "paid"}
    want_paid, want_open = set(labels["final_state"]["paid"]), set(labels["final_state"]["open"])
    return {
        "labeled_paid": len(want_paid),
        "paid_right": len(want_paid & paid),
        "paid_but_open_in_truth": len(want_open & paid),
        "open_but_paid_in_truth": len(want_paid - paid),
        "paid_wrong_sample": sorted(want_open & paid)[:20],
    }


def score(labels_path: Path, out: Path) -> Json:
    labels = orjson.loads(labels_path.read_bytes())
    exceptions = latest_exceptions(out)
    return {
        "duplicates": score_duplicates(labels, exceptions),
        "payments": score_lines(labels, out, exceptions),
        "ledger": score_ledger(labels, out),
        "dead_letters": sum(1 for _ in _records(out / "dead_letters.jsonl")),
    }
