"""The audit log: one record per input (what came in, what became of it, what it caused), each hashing its
predecessor, so that a record changed or removed breaks the chain."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
from reconstream.models.base import iso
from reconstream.models.cases import CaseAction
from reconstream.streams import Output

from .outputs import output_id

GENESIS = "0" * 64
CASE_ACTIONS = "cases/actions"  # the source name of people's actions in the audit log and the checkpoint


def chain_hash(previous: str, record: dict[str, Any]) -> str:
    body = orjson.dumps({k: v for k, v in record.items() if k != "hash"}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(previous.encode() + body).hexdigest()


class AuditChain:
    """Each record names the input, what became of it and what it caused, and hashes its predecessor."""

    def __init__(self, seq: int = 0, head: str = GENESIS) -> None:
        self.seq = seq
        self.head = head

    def record(
        self, source: str, event_id: str | None, event_type: str | None, outcome: str, outputs: list[Output]
    ) -> dict[str, Any]:
        self.seq += 1
        record: dict[str, Any] = {
            "seq": self.seq,
            "source": source,
            "event_id": event_id,
            "event_type": event_type,
            "outcome": outcome,
            "outputs": [output_id(o) for o in outputs],
            "prev": self.head,
        }
        record["hash"] = self.head = chain_hash(self.head, record)
        return record

    def record_case_action(self, case_seq: int, action: CaseAction, case_hash: str) -> dict[str, Any]:
        """A person's action on a case, in the same chain as the engine's decisions. `case_hash` is the entry's
        hash in the case store's own chain: either log proves the other was not rewritten."""
        self.seq += 1
        record: dict[str, Any] = {
            "seq": self.seq,
            "source": f"{CASE_ACTIONS}:{case_seq}",
            "event_type": f"case.{action.kind.value}",
            "outcome": "case_action",
            "exception_id": action.exception_id,
            "actor": action.actor,
            "at": iso(action.at),
            "note": action.note,
            "before": action.before,
            "after": action.after,
            "case_hash": case_hash,
            "prev": self.head,
        }
        record["hash"] = self.head = chain_hash(self.head, record)
        return record


def verify_audit(path: Path) -> tuple[int, str | None]:
    """(records checked, None) when the chain holds, else (seq reached, what is wrong)."""
    head, expected_seq = GENESIS, 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                if not raw.endswith(b"\n"):  # what a crash or a power cut leaves, not what a forger writes
                    return expected_seq, f"line {line_no}: the last record is cut off (written when the run stopped)"
                return expected_seq, f"line {line_no}: not valid JSON"
            expected_seq += 1
            if record.get("seq") != expected_seq:
                return expected_seq, f"line {line_no}: seq {record.get('seq')} where {expected_seq} was expected"
            if record.get("prev") != head:
                return expected_seq, f"line {line_no}: prev does not match the hash of the record before"
            if chain_hash(head, record) != record.get("hash"):
                return expected_seq, f"line {line_no}: hash does not match the record's content"
            head = record["hash"]
    return expected_seq, None
