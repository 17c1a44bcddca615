"""One input partition's ledger: its engine, its RocksDB state and how far that state is in the changelog."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from reconstream.models.events import Stream
from reconstream.streams import Engine, Output, Settings
from reconstream.tables import RocksStore
from reconstream.tables.state import EngineState

from ..metrics import ObservedEngine, RunMetrics
from .sequencer import InputRecord, PartitionSequencer

# Several partitions share a worker: RocksDB's memory is bounded per partition, not left at its defaults.
BLOCK_CACHE_MB = 16
WRITE_BUFFER_MB = 8
DECODED_CACHE_ENTRIES = 50_000


class LedgerPartition:
    def __init__(
        self,
        partition: int,
        data_dir: Path,
        streams: dict[str, Stream | None],
        settings: Settings | None,
        metrics: RunMetrics | None = None,
    ) -> None:
        self.partition = partition
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

    def apply(self, record: InputRecord) -> list[Output]:
        engine = self.engine
        assert engine is not None, "start() the partition before applying records"
        self.dirty = True
        if record.watermark_us is not None:
            return engine.advance_to(record.watermark_us)
        if record.event is not None:
            return engine.process(record.event, record.source)
        assert record.error is not None
        return engine.reject(record.error, record.source, record.stream, record.raw, record.sort_key[0])

    def pending_changes(self) -> list[tuple[bytes, bytes | None]]:
        return self.store.pending_changes()

    def committed(self, changelog_end: int) -> None:
        """The transaction holding this partition's changes is committed: make the local copy durable too."""
        self.changelog_offset = max(self.changelog_offset, changelog_end)
        self.store.commit({"changelog_offset": self.changelog_offset})
        self.dirty = False

    def close(self) -> None:
        self.store.close()
