"""The posting queue (shells/erp/queue.py) on its own SQLite file: month-end order, attempts given back, the
uncertainty a crash leaves, the first attempt's time a look-up reads back to, and a queue from before a column."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reconstream.shells.erp.queue import IN_FLIGHT, PENDING, POSTED, TIMED_OUT, NewPosting, PostingQueue


def row(number: str, due: str | None = "2026-11-30", approved: str = "2026-11-20T10:00:00+00:00") -> NewPosting:
    return NewPosting(
        posting_id=f"posting:ap-{number}",
        erp="sap",
        invoice_id=f"ap-{number}",
        company_code="1010",
        due_date=due,
        approved_at=approved,
        request=b"{}",
    )


def test_a_posting_enters_once_and_the_earliest_due_is_claimed_first(tmp_path: Path) -> None:
    queue = PostingQueue(tmp_path / "q.sqlite")
    rows = [row("late", due="2026-12-15"), row("undated", due=None), row("soon", due="2026-11-28")]
    assert queue.enqueue(rows, 1000.0) == 3
    assert queue.enqueue([row("soon", due="2026-11-28")], 1001.0) == 0  # a resumed run adds nothing
    order = [queue.claim("sap", 1002.0) for _ in range(3)]
    assert [p.posting_id for p in order if p] == ["posting:ap-soon", "posting:ap-late", "posting:ap-undated"]
    assert queue.claim("sap", 1002.0) is None


def test_the_first_attempt_is_timed_once_and_kept_through_retries_and_replay(tmp_path: Path) -> None:
    queue = PostingQueue(tmp_path / "q.sqlite")
    queue.enqueue([row("1")], 1000.0)
    first = queue.claim("sap", 1010.0)
    assert first is not None and first.first_sent_at == 1010.0 and first.attempts == 1
    queue.retry(first.posting_id, 1020.0, "server_error: HTTP 503", uncertain=True)
    assert queue.claim("sap", 1015.0) is None  # not due before its backoff
    second = queue.claim("sap", 1020.0)
    assert second is not None and second.first_sent_at == 1010.0 and second.uncertain and second.attempts == 2
    queue.decide(second.posting_id, TIMED_OUT, b"{}", 1030.0, error="no verdict")
    assert queue.replay() == 1
    replayed = queue.claim("sap", 1040.0)
    assert replayed is not None and replayed.first_sent_at == 1010.0 and replayed.uncertain
    assert replayed.attempts == 1  # a fresh budget, the same doubt


def test_a_throttled_attempt_is_given_back(tmp_path: Path) -> None:
    queue = PostingQueue(tmp_path / "q.sqlite")
    queue.enqueue([row("1")], 1000.0)
    claimed = queue.claim("sap", 1000.0)
    assert claimed is not None
    queue.retry(claimed.posting_id, 1001.0, "throttled: HTTP 429", uncertain=False, counted=False)
    again = queue.claim("sap", 1001.0)
    assert again is not None and again.attempts == 1 and not again.uncertain


def test_a_crash_leaves_every_undecided_posting_uncertain(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    queue = PostingQueue(path)
    queue.enqueue([row("1"), row("2"), row("3")], 1000.0)
    queue.recover(999.0)  # the service starts: the queue is open
    claimed = queue.claim("sap", 1000.0)
    assert claimed is not None
    queue.decide(claimed.posting_id, POSTED, b"{}", 1001.0, document_number="5105600001", fiscal_year=2026)
    in_flight = queue.claim("sap", 1002.0)
    assert in_flight is not None
    queue.close()  # killed: never stopped()

    reopened = PostingQueue(path)
    assert reopened.recover(1005.0) == 2  # the one in flight and the one pending: its claim may not have reached disk
    counts = reopened.counts()
    assert counts[("sap", PENDING)] == 2 and ("sap", IN_FLIGHT) not in counts
    claims = [reopened.claim("sap", 1006.0) for _ in range(2)]
    assert all(p is not None and p.uncertain for p in claims)
    # The one claimed keeps its time; the one whose claim may be lost is no older than the crashed start.
    assert sorted(p.first_sent_at for p in claims if p and p.first_sent_at is not None) == [999.0, 1002.0]


def test_a_queue_from_before_first_sent_at_gains_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE postings (
            posting_id TEXT PRIMARY KEY, erp TEXT, invoice_id TEXT NOT NULL, company_code TEXT NOT NULL,
            due_date TEXT NOT NULL, approved_at TEXT NOT NULL, request BLOB NOT NULL, state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, throttled INTEGER NOT NULL DEFAULT 0,
            uncertain INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL DEFAULT 0, enqueued_at REAL NOT NULL,
            last_error TEXT, document_number TEXT, fiscal_year INTEGER, decided_at REAL, outcome_seq INTEGER UNIQUE,
            outcome BLOB
        );
        INSERT INTO postings (posting_id, erp, invoice_id, company_code, due_date, approved_at, request, state,
            attempts, uncertain, enqueued_at)
        VALUES ('posting:ap-old', 'sap', 'ap-old', '1010', '2026-11-30', '2026-11-20T10:00:00+00:00', x'7b7d',
            'pending', 1, 1, 900.0),
            ('posting:ap-new', 'sap', 'ap-new', '1010', '2026-12-01', '2026-11-20T10:00:00+00:00', x'7b7d',
            'pending', 0, 0, 900.0);
        """
    )
    old.close()
    queue = PostingQueue(path)
    doubted = queue.claim("sap", 1000.0)
    fresh = queue.claim("sap", 1000.0)
    # Its earlier attempt was never timed: a look-up reads back to the invoice date, as before.
    assert doubted is not None and doubted.posting_id == "posting:ap-old" and doubted.first_sent_at is None
    assert fresh is not None and fresh.first_sent_at == 1000.0
