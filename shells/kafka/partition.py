"""One input partition's ledger: its engine, its RocksDB state, how far that state is in the changelog, and
its audit chain (one per partition, its head kept in the state: the changelog anchors it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reconstream.models.errors import InvariantBroken
from reconstream.models.events import Stream
from reconstream.streams import Engine, Output, Settings
from reconstream.tables import RocksStore
from reconstream.tables.state import EngineState
from reconstream.tables.store import JsonCodec

from ..audit import AuditChain, AuditKey, apply_input
from ..metrics import ObservedEngine, RunMetrics
from ..sinks.base import ResumeRefused
from .sequencer import InputRecord, PartitionSequencer

# Several partitions share a worker: RocksDB's memory is bounded per partition, not left at its defaults.
BLOCK_CACHE_MB = 16
WRITE_BUFFER_MB = 8
DECODED_CACHE_ENTRIES = 50_000
AUDIT_TABLE, AUDIT_HEAD = "audit", "head"  # the chain's seq, head and key id, in the state and the changelog


class LedgerPartition:
    def __init__(
        self,
        partition: int,
        data_dir: Path,
        streams: dict[str, Stream | None],
        settings: Settings | None,
        metrics: RunMetrics | None = None,
        audit_key: AuditKey | None = None,
    ) -> None:
        self.partition = partition
        self.audit_key = audit_key
        self.audit = AuditChain(key=audit_key)
        self.path = data_dir / f"p{partition}"
        self.settings = settings
        self.metrics = metrics
        self.store = self._open()
        checkpoint = self.store.checkpoint() or {}
        self.changelog_offset: int = checkpoint.get("changelog_offset", 0)
        self.sequencer = PartitionSequencer(partition, streams)
        self.engine: Engine | None = None
        self.dirty = False

    def _open(self) -> RocksStore:
        return RocksStore(self.path, BLOCK_CACHE_MB, WRITE_BUFFER_MB, DECODED_CACHE_ENTRIES)

    def reset(self) -> None:
        """Forget the local copy: the changelog is the truth, and it no longer starts where this one ends."""
        self.store.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self.store = self._open()
        self.changelog_offset = 0

    def restore(self, changes: Iterable[tuple[bytes, bytes | None]], next_offset: int) -> None:
        self.store.restore(changes, {"changelog_offset": next_offset})
        self.changelog_offset = next_offset

    def start(self) -> None:
        """Open the engine once the state has caught up with the changelog."""
        state = EngineState(self.store)
        self.engine = (
            Engine(state, self.settings) if self.metrics is None else ObservedEngine(state, self.settings, self.metrics)
        )
        self._audit_heads = self.store.table(AUDIT_TABLE, JsonCodec())
        kept = self._audit_heads.get(AUDIT_HEAD)
        if kept is not None:
            self.audit = AuditChain(kept["seq"], kept["head"], self.audit_key)
            if kept.get("key_id") != self.audit.key_id:
                raise ResumeRefused(
                    f"partition {self.partition}: its audit chain was started with key {kept.get('key_id')} and "
                    f"the config names key {self.audit.key_id}: run the workers with the key it was started with"
                )

    def apply(self, record: InputRecord) -> tuple[list[Output], dict[str, Any] | None]:
        """The record's outputs and its audit record (a clock tick has one only when timers fired)."""
        engine = self.engine
        if engine is None:
            raise InvariantBroken("start() the partition before applying records")
        self.dirty = True
        if record.watermark_us is not None:
            outputs = engine.advance_to(record.watermark_us)
            if not outputs:
                return outputs, None
            event_id, event_type, outcome = None, None, "timers_fired"
        else:
            outputs, event_id, event_type, outcome = apply_input(
                engine, record.event, record.error, record.source, record.stream, record.raw, record.sort_key[0]
            )
        entry = self.audit.record(record.source, event_id, event_type, outcome, outputs)
        self._audit_heads[AUDIT_HEAD] = {"seq": self.audit.seq, "head": self.audit.head, "key_id": self.audit.key_id}
        return outputs, entry

    def pending_changes(self) -> list[tuple[bytes, bytes | None]]:
        return self.store.pending_changes()

    def committed(self, changelog_end: int) -> None:
        """The transaction holding this partition's changes is committed: make the local copy durable too."""
        self.changelog_offset = max(self.changelog_offset, changelog_end)
        self.store.commit({"changelog_offset": self.changelog_offset})
        self.dirty = False

    def close(self) -> None:
        self.store.close()
