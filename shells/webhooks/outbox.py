"""The webhook outbox: every delivery owed, in a SQLite file beside the run's outputs.

A delivery enters when the run's checkpoint flushes its sinks, keyed by a deterministic id (target,
output record id, digest of the body): a resumed run adds the same rows again and changes nothing. It
leaves `pending` only when the receiver answered 2xx (`delivered`) or after the last attempt (`dead`);
a sender killed between sending and recording sends it again, and the receiver dedupes by the id.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    stream TEXT NOT NULL,
    body BLOB NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at, seq);
"""


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    target: str
    stream: str
    body: bytes
    attempts: int


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an enqueued delivery survives power loss
        self._db.executescript(_SCHEMA)

    def enqueue(self, rows: Iterable[tuple[str, str, str, bytes]]) -> int:
        """(delivery id, target, stream, body) rows, in order; ones already there are left as they are."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM deliveries").fetchone()[0]
                added = 0
                for delivery_id, target, stream, body in rows:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO deliveries (delivery_id, target, stream, body, seq, state) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (delivery_id, target, stream, body, seq + added + 1, PENDING),
                    )
                    added += cursor.rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def due(self, now: float, limit: int) -> list[Delivery]:
        with self._lock:
            rows = self._db.execute(
                "SELECT delivery_id, target, stream, body, attempts FROM deliveries "
                "WHERE state = ? AND next_attempt_at <= ? ORDER BY seq LIMIT ?",
                (PENDING, now, limit),
            ).fetchall()
        return [Delivery(*row) for row in rows]

    def next_due_at(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = ?", (PENDING,)).fetchone()
        return row[0]

    def delivered(self, delivery_id: str, attempts: int) -> None:
        self._set(delivery_id, DELIVERED, attempts, 0.0, None)

    def retry(self, delivery_id: str, attempts: int, at: float, error: str) -> None:
        self._set(delivery_id, PENDING, attempts, at, error)

    def dead(self, delivery_id: str, attempts: int, error: str) -> None:
        self._set(delivery_id, DEAD, attempts, 0.0, error)

    def _set(self, delivery_id: str, state: str, attempts: int, at: float, error: str | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? "
                "WHERE delivery_id = ?",
                (state, attempts, at, error, delivery_id),
            )

    def replay_dead(self, target: str | None = None) -> int:
        """Dead deliveries back to pending with a fresh count of attempts (after the receiver is fixed)."""
        with self._lock:
            query = "UPDATE deliveries SET state = ?, attempts = 0, next_attempt_at = 0 WHERE state = ?"
            params: tuple[str, ...] = (PENDING, DEAD)
            if target is not None:
                query += " AND target = ?"
                params = (*params, target)
            return self._db.execute(query, params).rowcount

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
        return {PENDING: 0, DELIVERED: 0, DEAD: 0, **dict(rows)}

    def dead_letters(self) -> list[tuple[str, str, int, str | None]]:
        with self._lock:
            return self._db.execute(
                "SELECT delivery_id, target, attempts, last_error FROM deliveries WHERE state = ? ORDER BY seq", (DEAD,)
            ).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
