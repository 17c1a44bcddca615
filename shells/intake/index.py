"""The event ids the intake has stored, so that a platform's retry is answered "accepted" and written once.

The engine applies an event id once anyway; this keeps the input files free of the copies that webhook
retries make (every AP platform retries on a timeout, and a replay within the signature's tolerance is a
copy too). Each id keeps a digest of what it said, so the same id with other content is refused here, as
the engine would refuse it. Ids are forgotten after the retention (wall time), which keeps the file small.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted (
    event_id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    stream TEXT NOT NULL,
    platform TEXT NOT NULL,
    accepted_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS accepted_at ON accepted (accepted_at);
"""
_CHUNK = 500  # ids per query, well under SQLite's bound on parameters
_PRUNE_EVERY = 1000  # stored ids between prunings of the expired ones


@dataclass(frozen=True, slots=True)
class Remembered:
    event_id: str
    digest: str
    stream: str
    platform: str


class AcceptedIds:
    """SQLite file of accepted ids. Not thread-safe on its own: the intake calls it under its writer lock."""

    def __init__(self, path: Path, retention: timedelta, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # synchronous=NORMAL: an id lost to a crash only lets a retry append the event again, which the
        # engine then skips by its id; the event itself was fsynced before the id was recorded.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._retention = retention.total_seconds()
        self._clock = clock
        self._since_prune = 0
        self.prune()

    def digests(self, event_ids: Iterable[str]) -> dict[str, str]:
        """The stored digest of each id already accepted."""
        wanted = list(dict.fromkeys(event_ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT event_id, digest FROM accepted WHERE event_id IN ({marks})"  # noqa: S608 (only ? marks)
            found.update(self._db.execute(query, chunk).fetchall())
        return found

    def remember(self, rows: Sequence[Remembered]) -> None:
        now = self._clock()
        with self._db:  # one transaction: BEGIN ... COMMIT
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO accepted VALUES (?, ?, ?, ?, ?)",
                [(row.event_id, row.digest, row.stream, row.platform, now) for row in rows],
            )
        self._since_prune += len(rows)
        if self._since_prune >= _PRUNE_EVERY:
            self.prune()

    def prune(self) -> None:
        self._db.execute("DELETE FROM accepted WHERE accepted_at < ?", (self._clock() - self._retention,))
        self._since_prune = 0

    def close(self) -> None:
        self._db.close()
