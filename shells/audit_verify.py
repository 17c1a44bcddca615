"""`recon audit verify`: an audit log checked record by record against its chain, its key and its anchors.

What each check catches:
- the chain (seq, prev, hash): a record changed, removed or reordered by someone who did not recompute it;
- the key: a record changed with its chain recomputed (no HMAC without the key), or a record written
  unkeyed into a keyed log;
- the anchors: a log cut off at a record boundary (a valid chain, just shorter), and, for an unkeyed log, a
  chain recomputed after the first checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .audit import GENESIS, AuditKey, anchor_mac_holds, chain_hash


@dataclass
class AuditVerdict:
    checked: int = 0  # records whose chain held
    problem: str | None = None  # the first thing wrong: the log cannot be trusted past `checked`
    broken_at: int | None = None  # the record whose own chain link failed, if that was the problem
    unverified_key_id: str | None = None  # a keyed log checked without its key: only its links were
    anchors_checked: int = 0
    notes: list[str] = field(default_factory=list)  # what was not checked, and why


def read_anchors(path: Path, key: AuditKey | None) -> tuple[dict[str, dict[int, str]], list[str]]:
    """Anchors by run id ({seq: head}), and the lines that are not anchors (or forged ones). With a key, only
    the anchors it wrote count."""
    runs: dict[str, dict[int, str]] = {}
    refused: list[str] = []
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                anchor = orjson.loads(raw)
                run_id, seq, head = str(anchor["run_id"]), int(anchor["seq"]), str(anchor["head"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                if raw.endswith(b"\n"):  # a cut-off last line is a crash, not a forgery
                    refused.append(f"{path.name} line {line_no}: not an anchor")
                continue
            if key is not None and anchor.get("key_id") != key.key_id:
                continue  # another deployment's, or an unkeyed run's: it anchors no log of this key
            if key is not None and not anchor_mac_holds(anchor, key):
                refused.append(f"{path.name} line {line_no}: names this key but its MAC is not the key's: forged")
                continue
            runs.setdefault(run_id, {})[seq] = head
    return runs, refused


def verify_audit(path: Path, key: AuditKey | None = None, anchors: Path | None = None) -> AuditVerdict:
    anchored = anchors is not None and anchors.exists()
    runs, refused = read_anchors(anchors, key) if anchors is not None and anchored else ({}, [])
    wanted = {seq for run in runs.values() for seq in run}  # the heads to keep: a log has millions of records
    with path.open("rb") as handle:
        verdict, heads = verify_lines(handle, key, wanted)
    if not anchored:
        where = "no anchor file given" if anchors is None else f"{anchors} does not exist"
        verdict.notes.append(f"not anchored ({where}): a log cut off at a record boundary would verify")
    elif refused:
        verdict.problem = verdict.problem or f"anchor file: {refused[0]}"
    else:
        _check_anchors(verdict, heads, runs)
    return verdict


def verify_lines(
    lines: Iterable[bytes], key: AuditKey | None, wanted: set[int] | None = None
) -> tuple[AuditVerdict, dict[int, str]]:
    """The chain and key checks over records as lines (a file's, or an audit topic partition's messages),
    and the hashes, by seq, of the records `wanted` and of the last record that held."""
    verdict = AuditVerdict()
    heads: dict[int, str] = {}
    head, seen_key_id = GENESIS, None
    for line_no, raw in enumerate(lines, start=1):
        problem, record = _problem_of(raw, line_no, verdict.checked + 1, head, key)
        if problem is not None or record is None:
            verdict.problem, verdict.broken_at = problem, verdict.checked + 1
            break
        seen_key_id = seen_key_id or record.get("key_id")
        verdict.checked += 1
        head = record["hash"]
        if wanted is not None and verdict.checked in wanted:
            heads[verdict.checked] = head
    if verdict.checked:
        heads[verdict.checked] = head
    if key is None:
        verdict.unverified_key_id = seen_key_id
        verdict.notes.append(
            f"keyed with key {seen_key_id}: without the key only the chain's links were checked"
            if seen_key_id
            else "unkeyed: anyone who can write the log can recompute its chain ([audit] key_env or key_file)"
        )
    return verdict, heads


def _problem_of(
    raw: bytes, line_no: int, seq: int, head: str, key: AuditKey | None
) -> tuple[str | None, dict[str, Any] | None]:
    """What is wrong with one line as record `seq` after `head` (None if nothing), and the record read."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        if not raw.endswith(b"\n"):  # what a crash or a power cut leaves, not what a forger writes
            return f"line {line_no}: the last record is cut off (written when the run stopped)", None
        return f"line {line_no}: not valid JSON", None
    if not isinstance(record, dict):
        return f"line {line_no}: not a JSON object", None
    if record.get("seq") != seq:
        return f"line {line_no}: seq {record.get('seq')} where {seq} was expected", record
    if record.get("prev") != head:
        return f"line {line_no}: prev does not match the hash of the record before", record
    if key is not None and record.get("key_id") != key.key_id:
        found = record.get("key_id")
        what = "is not keyed" if found is None else f"is keyed with key {found}, not {key.key_id}"
        return f"line {line_no}: the record {what}", record
    # A keyed record without the key: only its links can be checked (above).
    if (key is not None or "key_id" not in record) and chain_hash(head, record, key) != record.get("hash"):
        return f"line {line_no}: hash does not match the record's content", record
    return None, record


def _check_anchors(verdict: AuditVerdict, heads: dict[int, str], runs: dict[str, dict[int, str]]) -> None:
    """Against the anchors of the run this log is. An anchor file may hold many runs' anchors: the log's run is
    the one whose anchors it matches; a run anchored only past the log's end is what a cut-off log leaves."""
    candidates = [{seq: head for seq, head in anchors.items() if seq > 0} for anchors in runs.values()]
    candidates = [anchors for anchors in candidates if anchors]
    if not candidates:
        verdict.notes.append("the anchor file anchors no record yet")
        return
    for anchors in candidates:
        inside = [seq for seq in anchors if seq <= verdict.checked]
        if inside and all(heads[seq] == anchors[seq] for seq in inside):
            verdict.anchors_checked = len(inside)
            beyond = max(anchors)
            if beyond > verdict.checked and verdict.problem is None:
                verdict.problem = _cut_off(verdict.checked, beyond)
            return
    for anchors in candidates:
        inside = sorted(seq for seq in anchors if seq <= verdict.checked)
        if inside and heads[inside[0]] == anchors[inside[0]]:  # this run's log, changed after a checkpoint
            changed = next(seq for seq in inside if heads[seq] != anchors[seq])
            verdict.problem = (
                verdict.problem or f"the chain differs from its anchor at record {changed:,}: rewritten at or before it"
            )
            return
    past_the_end = [min(anchors) for anchors in candidates if min(anchors) > verdict.checked]
    if past_the_end and verdict.problem is None:
        verdict.problem = _cut_off(verdict.checked, min(past_the_end))
    elif not past_the_end:
        verdict.problem = verdict.problem or "no run in the anchor file matches this log: rewritten"


def _cut_off(checked: int, anchored: int) -> str:
    return f"the log ends at record {checked:,}, but it was anchored at {anchored:,}: cut off"
