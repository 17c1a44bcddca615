"""The posting queue: every posting owed to an ERP, in a SQLite file, with what became of it.

A posting enters when the run's checkpoint flushes its sinks, keyed by its posting id (the invoice's): a
resumed run, or the same invoice approved twice, adds nothing; that write is fsynced before the run's
checkpoint commits. Before each attempt the row is marked in flight and the attempt counted, so a process
killed during the call comes back knowing the ERP may have booked it: `uncertain` is set, and the next attempt
looks the invoice up before posting. Those per-attempt writes are not fsynced (WAL, synchronous=NORMAL: they
survive a killed process, not a power cut); instead the service marks the queue open while it runs, and one
that finds it still open at start (a crash of any kind) makes every posting not decided uncertain. A
posting leaves the queue's work once the ERP gave a verdict (`posted`, `rejected`) or the retry budget ran
out without one (`timed_out`); each verdict is stored with the `invoice.status_changed` event it makes, numbered
in the order decided, which is what the engine reads back (`verdicts`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

PENDING, IN_FLIGHT, POSTED, REJECTED, TIMED_OUT, UNROUTED = (
    "pending",
    "in_flight",
    "posted",
    "rejected",
    "timed_out",
    "unrouted",
)
DECIDED = (POSTED, REJECTED, TIMED_OUT)
_NO_DUE_DATE = "9999-12-31"  # sorts after every date: an invoice without a due date waits for the dated ones

_SCHEMA = """
CREATE TABLE IF NOT EXISTS postings (
    posting_id TEXT PRIMARY KEY,
    erp TEXT,
    invoice_id TEXT NOT NULL,
    company_code TEXT NOT NULL,
    due_date TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    request BLOB NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    throttled INTEGER NOT NULL DEFAULT 0,
    uncertain INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    first_sent_at REAL,
    last_error TEXT,
    document_number TEXT,
    fiscal_year INTEGER,
    decided_at REAL,
    outcome_seq INTEGER UNIQUE,
    outcome BLOB
);
CREATE INDEX IF NOT EXISTS postings_due ON postings (erp, state, due_date, approved_at, posting_id);
CREATE INDEX IF NOT EXISTS postings_outcomes ON postings (outcome_seq);
CREATE TABLE IF NOT EXISTS service (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Posting:
    posting_id: str
    erp: str
    request: bytes
    attempts: int  # counting the one just claimed
    uncertain: bool  # an earlier attempt may have booked it: look it up first
    enqueued_at: float
    first_sent_at: float | None  # the first claim, no attempt older; None when a queue from before kept none


class Verdict(NamedTuple):
    seq: int
    invoice_id: str
    company_code: str
    event: bytes  # the invoice.status_changed it makes


@dataclass(frozen=True, slots=True)
class NewPosting:
    posting_id: str
    erp: str | None  # None: no ERP is configured for its company code
    invoice_id: str
    company_code: str
    due_date: str | None
    approved_at: str
    request: bytes


class PostingQueue:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # see the module's note: FULL only where it must be
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A queue written before a column existed gains it (first_sent_at: none of its claims were timed, so
        a look-up reads back to the posting's invoice date as it did then)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(postings)")}
        if "first_sent_at" not in have:
            self._db.execute("ALTER TABLE postings ADD COLUMN first_sent_at REAL")

    def enqueue(self, postings: Iterable[NewPosting], now: float) -> int:
        """Postings in, those already there left as they are; returns how many were new. On disk when it
        returns: the run commits its checkpoint after this, and would not emit these requests again."""
        with self._lock, self._transaction(durable=True):
            added = 0
            for p in postings:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO postings (posting_id, erp, invoice_id, company_code, due_date, approved_at,"
                    " request, state, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        p.posting_id,
                        p.erp,
                        p.invoice_id,
                        p.company_code,
                        p.due_date or _NO_DUE_DATE,
                        p.approved_at,
                        p.request,
                        PENDING if p.erp is not None else UNROUTED,
                        now,
                    ),
                )
                added += cursor.rowcount
        return added

    def recover(self, now: float) -> int:
        """Before any worker starts. Postings left in flight go back to pending, marked uncertain (the call may
        have booked them); if the last service never closed (killed, or the power cut, which may have lost the
        last claims), every posting not decided is marked uncertain. A lost claim lost its first_sent_at too:
        it is no earlier than the crashed service's start, which was on disk before it made any call. Then
        the queue is marked open, since `now`."""
        with self._lock, self._transaction(durable=True):
            crashed = self._db.execute("SELECT value FROM service WHERE key = 'open'").fetchone() == ("1",)
            states = (PENDING, IN_FLIGHT) if crashed else (IN_FLIGHT,)
            marks = ", ".join("?" for _ in states)
            opened = self._db.execute("SELECT value FROM service WHERE key = 'opened_at'").fetchone()
            changed = self._db.execute(
                f"UPDATE postings SET state = ?, uncertain = 1, first_sent_at = COALESCE(first_sent_at, ?) "  # noqa: S608 - placeholders only
                f"WHERE state IN ({marks})",
                (PENDING, float(opened[0]) if opened else None, *states),
            ).rowcount
            self._db.execute("INSERT OR REPLACE INTO service (key, value) VALUES ('open', '1')")
            self._db.execute("INSERT OR REPLACE INTO service (key, value) VALUES ('opened_at', ?)", (repr(now),))
        return changed

    def stopped(self) -> None:
        """The service stopped with every call answered or given back: the next start need not doubt."""
        with self._lock, self._transaction(durable=True):
            if self._db.execute("SELECT COUNT(*) FROM postings WHERE state = ?", (IN_FLIGHT,)).fetchone()[0] == 0:
                self._db.execute("INSERT OR REPLACE INTO service (key, value) VALUES ('open', '0')")

    def claim(self, erp: str, now: float) -> Posting | None:
        """The most urgent posting due for `erp` (earliest due date, then earliest approval), marked in flight
        with its attempt counted before any call is made."""
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT posting_id, request, attempts, uncertain, enqueued_at, first_sent_at FROM postings "
                "WHERE erp = ? AND state = ? AND next_attempt_at <= ? "
                "ORDER BY due_date, approved_at, posting_id LIMIT 1",
                (erp, PENDING, now),
            ).fetchone()
            if row is None:
                return None
            posting_id, request, attempts, uncertain, enqueued_at, first_sent_at = row
            if first_sent_at is None and not uncertain:
                first_sent_at = now
            self._db.execute(
                "UPDATE postings SET state = ?, attempts = ?, first_sent_at = ? WHERE posting_id = ?",
                (IN_FLIGHT, attempts + 1, first_sent_at, posting_id),
            )
        return Posting(posting_id, erp, request, attempts + 1, bool(uncertain), enqueued_at, first_sent_at)

    def retry(self, posting_id: str, at: float, error: str, uncertain: bool, counted: bool = True) -> None:
        """Back to pending until `at`. An attempt not `counted` is given back (the ERP throttled it: flow
        control, not a failure of the posting)."""
        with self._lock:
            self._db.execute(
                "UPDATE postings SET state = ?, next_attempt_at = ?, last_error = ?, uncertain = uncertain | ?, "
                "attempts = attempts - ?, throttled = throttled + ? WHERE posting_id = ? AND state = ?",
                (PENDING, at, error, int(uncertain), int(not counted), int(not counted), posting_id, IN_FLIGHT),
            )

    def release(self, posting_id: str) -> None:
        """Back to pending without counting the attempt: it was never made (the ERP's breaker opened)."""
        with self._lock:
            self._db.execute(
                "UPDATE postings SET state = ?, attempts = attempts - 1 WHERE posting_id = ? AND state = ?",
                (PENDING, posting_id, IN_FLIGHT),
            )

    def decide(
        self,
        posting_id: str,
        state: str,
        outcome: bytes,
        now: float,
        error: str | None = None,
        document_number: str | None = None,
        fiscal_year: int | None = None,
    ) -> None:
        """Record the verdict with the event it makes, numbered after every verdict before it."""
        with self._lock, self._transaction():
            seq = self._db.execute("SELECT COALESCE(MAX(outcome_seq), 0) + 1 FROM postings").fetchone()[0]
            self._db.execute(
                "UPDATE postings SET state = ?, outcome = ?, outcome_seq = ?, decided_at = ?, last_error = ?, "
                "document_number = ?, fiscal_year = ? WHERE posting_id = ? AND state = ?",
                (state, outcome, seq, now, error, document_number, fiscal_year, posting_id, IN_FLIGHT),
            )

    def verdicts(self, seq: int, limit: int = 1000) -> list[Verdict]:
        """The verdicts decided after `seq`, in the order decided: what a run applies, the Kafka bridge sends
        (keyed by company code) and `recon post outcomes` prints."""
        with self._lock:
            rows = self._db.execute(
                "SELECT outcome_seq, invoice_id, company_code, outcome FROM postings WHERE outcome_seq > ? "
                "ORDER BY outcome_seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [Verdict(*row) for row in rows]

    def forwarded(self) -> int:
        """The last verdict sent on (to a Kafka input topic)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM service WHERE key = 'forwarded'").fetchone()
        return int(row[0]) if row else 0

    def set_forwarded(self, seq: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO service (key, value) VALUES ('forwarded', ?)", (str(seq),))

    def undecided(self) -> list[tuple[str, str, str]]:
        """(posting id, ERP, approved at) of every posting pending or in flight."""
        with self._lock:
            return self._db.execute(
                "SELECT posting_id, erp, approved_at FROM postings WHERE state IN (?, ?)", (PENDING, IN_FLIGHT)
            ).fetchall()

    def replay(self, states: Iterable[str] = (REJECTED, TIMED_OUT), erp: str | None = None) -> int:
        """Decided postings back to pending with a fresh budget (after the ERP or its data was fixed), and
        unrouted ones once their company code has an ERP. A replayed posting keeps its uncertainty: a timed-out
        one is looked up before it is posted again."""
        wanted = tuple(states)
        marks = ", ".join("?" for _ in wanted)
        query = (
            f"UPDATE postings SET state = ?, attempts = 0, next_attempt_at = 0, outcome = NULL, outcome_seq = NULL, "  # noqa: S608 - placeholders only
            f"decided_at = NULL WHERE state IN ({marks})"
        )
        params: tuple[object, ...] = (PENDING, *wanted)
        if erp is not None:
            query += " AND erp = ?"
            params = (*params, erp)
        with self._lock:
            return self._db.execute(query, params).rowcount

    def route(self, routes: dict[str, str]) -> int:
        """Unrouted postings whose company code now has an ERP: given it, and pending."""
        changed = 0
        with self._lock, self._transaction():
            for company_code, erp in routes.items():
                changed += self._db.execute(
                    "UPDATE postings SET erp = ?, state = ? WHERE state = ? AND company_code = ?",
                    (erp, PENDING, UNROUTED, company_code),
                ).rowcount
        return changed

    def attempts(self) -> dict[str, tuple[int, int]]:
        """(attempts counted, attempts throttled) per ERP: the counted ones less the postings decided are the
        retries."""
        with self._lock:
            rows = self._db.execute(
                "SELECT COALESCE(erp, ''), SUM(attempts), SUM(throttled) FROM postings GROUP BY 1"
            ).fetchall()
        return {erp: (counted, throttled) for erp, counted, throttled in rows}

    def counts(self) -> dict[tuple[str, str], int]:
        """Postings by (ERP, state): the queue depth metrics and `recon post --status`."""
        with self._lock:
            rows = self._db.execute("SELECT COALESCE(erp, ''), state, COUNT(*) FROM postings GROUP BY 1, 2").fetchall()
        return {(erp, state): count for erp, state, count in rows}

    def open_work(self, erp: str | None = None) -> int:
        """Postings not decided yet (pending or in flight), for one ERP or all."""
        query = "SELECT COUNT(*) FROM postings WHERE state IN (?, ?)"
        params: tuple[str, ...] = (PENDING, IN_FLIGHT)
        if erp is not None:
            query += " AND erp = ?"
            params = (*params, erp)
        with self._lock:
            return self._db.execute(query, params).fetchone()[0]

    def next_due_at(self, erp: str) -> float | None:
        with self._lock:
            return self._db.execute(
                "SELECT MIN(next_attempt_at) FROM postings WHERE erp = ? AND state = ?", (erp, PENDING)
            ).fetchone()[0]

    def decided(self) -> list[tuple[str, str, str, str | None, str | None, int | None, int]]:
        """(posting id, ERP, state, error, document number, fiscal year, attempts) of every decided posting."""
        with self._lock:
            return self._db.execute(
                "SELECT posting_id, erp, state, last_error, document_number, fiscal_year, attempts FROM postings "
                "WHERE outcome_seq IS NOT NULL ORDER BY outcome_seq"
            ).fetchall()

    def _transaction(self, durable: bool = False) -> _Transaction:
        return _Transaction(self._db, durable)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (the caller holds the queue's lock); a durable one
    is fsynced at its commit."""

    def __init__(self, db: sqlite3.Connection, durable: bool) -> None:
        self._db = db
        self._durable = durable

    def __enter__(self) -> None:
        if self._durable:
            self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            if self._durable:
                self._db.execute("PRAGMA synchronous=NORMAL")
