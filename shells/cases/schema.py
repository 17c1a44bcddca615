"""The case store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are microseconds since the epoch, UTC (BIGINT): exact, ordered and the same on both databases.
Money is decimal text: SQLite has no exact numeric type, and a float would round it.
The migrations in `migrations/` create these; a test checks they agree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("exception_id", String(64), primary_key=True),
    Column("category", String(40), nullable=False),
    Column("owner_queue", String(20), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("engine_status", String(10), nullable=False),
    Column("cause", String(64), nullable=False),
    Column("refs", Text, nullable=False),  # JSON array; each ref is also a row of case_refs, for search
    Column("reason", Text, nullable=False),
    Column("amount", String(40)),
    Column("currency", String(3)),
    Column("correlation_id", String(200)),
    Column("first_seen_us", BigInteger, nullable=False),
    Column("due_at_us", BigInteger, nullable=False),
    Column("assignee", String(200)),
    Column("snoozed_until_us", BigInteger),
    Column("resolution_code", String(40)),
    Column("resolution_note", Text),
    Column("resolved_by", String(200)),
    Column("resolved_at_us", BigInteger),
    Column("version", Integer, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    # Whose books and which supplier, as the engine knew them when it raised the exception (migration 0002).
    Column("company_code", String(40)),
    Column("vendor_id", String(200)),
    Column("vendor_name", String(200)),
    # Kafka mode: the input partition (ledger) whose worker raised it; a manual match is sent back there.
    Column("ledger_partition", Integer),
)
Index("cases_queue", cases.c.owner_queue, cases.c.status, cases.c.first_seen_us)
Index("cases_company", cases.c.company_code)
Index("cases_vendor", cases.c.vendor_id)
Index("cases_assignee", cases.c.assignee)
Index("cases_correlation", cases.c.correlation_id)

case_refs = Table(
    "case_refs",
    metadata,
    Column("ref", String(200), primary_key=True),
    Column("exception_id", String(64), ForeignKey("cases.exception_id"), primary_key=True),
)

# Every change to a case, people's and the engine's, hash-chained in `seq` order like the run's audit log.
case_actions = Table(
    "case_actions",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("exception_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("note", Text),
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Column("prev", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("case_actions_case", case_actions.c.exception_id, case_actions.c.seq)

# One row: the chain's head. Updating it first in a transaction serialises writers of the chain (a row
# lock on PostgreSQL, the write lock on SQLite), so two people acting at once cannot fork it.
audit_head = Table(
    "case_audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# How far each output source has been projected, committed with the cases it produced: a record at or
# below it is not applied again after a restart (a file's audit seq, a topic partition's offset).
projection_offsets = Table(
    "projection_offsets",
    metadata,
    Column("source", String(300), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Input events people's actions make for the engine (a manual match), keyed by the seq of the timeline entry
# that made them: written in that entry's transaction, so they follow the chain's order. The embedded run
# reads them as an input source; in Kafka mode `recon project` sends them to their input topic.
engine_events = Table(
    "engine_events",
    metadata,
    Column("action_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(200), nullable=False, unique=True),
    Column("stream", String(40), nullable=False),
    Column("exception_id", String(64), nullable=False),
    Column("body", Text, nullable=False),  # the event's canonical JSON line
)
