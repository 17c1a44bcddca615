"""The audit log: one record per input (what came in, what became of it, what it caused), each hashing its
predecessor, so that a record changed or removed breaks the chain.

A chain anyone can recompute proves nothing against someone who can write the log: with a key
(`[audit] key_env` or `key_file`) each hash is an HMAC-SHA256 over the previous hash and the record, and
every record names the key's id. Cutting records off the end leaves a valid chain, so at every checkpoint
the run also appends the head and the count to an anchor file kept outside the output folder
(`[audit] anchors`); `recon audit verify` checks the log against both (audit_verify.py).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from reconstream.models.base import iso
from reconstream.models.cases import CaseAction
from reconstream.models.errors import InvariantBroken
from reconstream.models.events import Event, EventError
from reconstream.streams import Engine, Output

from .outputs import output_id

GENESIS = "0" * 64
CASE_ACTIONS = "cases/actions"  # the source name of people's actions in the audit log and the checkpoint
_KEY_ID_LABEL = b"reconstream audit key id"
MIN_KEY_BYTES = 32  # HMAC-SHA256's own block of strength: a shorter secret is refused, not padded


class AuditKeyError(ValueError):
    """The configured audit key cannot key a chain."""


class AuditKey:
    """The secret an audit chain is keyed with. Only its id (an HMAC of a fixed label) is ever written out."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise AuditKeyError(f"the audit key has {len(secret)} bytes; it needs at least {MIN_KEY_BYTES}")
        self._secret = secret
        self.key_id = hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> AuditKey:
        """A key as a secret store hands it over: text, e.g. `openssl rand -hex 32`."""
        return cls(text.strip().encode())

    def mac(self, data: bytes) -> str:
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"AuditKey(key_id={self.key_id})"


def _body(record: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in record.items() if k != "hash"}, option=orjson.OPT_SORT_KEYS)


def chain_hash(previous: str, record: dict[str, Any], key: AuditKey | None = None) -> str:
    data = previous.encode() + _body(record)
    return hashlib.sha256(data).hexdigest() if key is None else key.mac(data)


class AuditChain:
    """Each record names the input, what became of it and what it caused, and hashes its predecessor."""

    def __init__(self, seq: int = 0, head: str = GENESIS, key: AuditKey | None = None) -> None:
        self.seq = seq
        self.head = head
        self.key = key

    @property
    def key_id(self) -> str | None:
        return None if self.key is None else self.key.key_id

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
        }
        return self._link(record)

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
        }
        return self._link(record)

    def _link(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.key is not None:
            record["key_id"] = self.key.key_id
        record["prev"] = self.head
        record["hash"] = self.head = chain_hash(self.head, record, self.key)
        return record

    def anchor(self, run_id: str) -> dict[str, Any]:
        """The head and the count as they stand, for the anchor file; keyed, so a forger cannot write one."""
        anchor: dict[str, Any] = {"run_id": run_id, "seq": self.seq, "head": self.head}
        if self.key is not None:
            anchor["key_id"] = self.key.key_id
            anchor["mac"] = self.key.mac(_body(anchor))
        return anchor


class Applied(NamedTuple):
    """An input applied, as its audit record names it."""

    outputs: list[Output]
    event_id: str | None
    event_type: str | None
    outcome: str  # applied | duplicate | dead_letter


def apply_input(
    engine: Engine, event: Event | None, error: EventError | None, source: str, stream: str, raw: bytes, at_us: int
) -> Applied:
    """One input line or record through the engine, the same in both shells: a valid event is applied (or found a
    duplicate, or refused by a rule), a refused one dead-lettered."""
    if event is not None:
        seen = event.event_id in engine.state.seen_events
        outputs = engine.process(event, source)
        refused = any(output.stream == "dead_letters" for output in outputs)
        outcome = "dead_letter" if refused else ("duplicate" if seen else "applied")
        return Applied(outputs, event.event_id, event.event_type, outcome)
    if error is None:
        raise InvariantBroken(f"{source}: an input is neither an event nor an error")
    return Applied(engine.reject(error, source, stream, raw, at_us), error.event_id, None, "dead_letter")


def anchor_mac_holds(anchor: dict[str, Any], key: AuditKey) -> bool:
    expected = key.mac(_body({k: v for k, v in anchor.items() if k != "mac"}))
    return hmac.compare_digest(expected, str(anchor.get("mac", "")))


def anchors_path(out_dir: Path, configured: Path | None) -> Path:
    """Where a run's anchors go: the configured file, else one beside (not inside) the output folder."""
    if configured is not None:
        return configured
    out = out_dir.resolve()
    return out.parent / f"{out.name}.audit-anchors.jsonl"


class AnchorFile:
    """Append-only, fsynced: an anchor is on disk before the run goes on past the checkpoint it names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        self._cut_torn_tail()

    def _cut_torn_tail(self) -> None:
        """A kill mid-append leaves part of a line: cut it, or the next anchor would be glued to it. The
        checkpoint it named is committed all the same; the next checkpoint anchors past it."""
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return
        start = max(0, size - 4096)  # an anchor line is ~200 bytes
        tail = os.pread(self._fd, size - start, start)
        os.ftruncate(self._fd, start + tail.rfind(b"\n") + 1 if b"\n" in tail else start)

    def append(self, anchor: dict[str, Any]) -> None:
        os.write(self._fd, orjson.dumps(anchor, option=orjson.OPT_SORT_KEYS) + b"\n")
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)
