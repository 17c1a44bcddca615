"""The case store: cases, the refs they are found by, their hash-chained actions, projection offsets.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("exception_id", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("owner_queue", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("engine_status", sa.String(10), nullable=False),
        sa.Column("cause", sa.String(64), nullable=False),
        sa.Column("refs", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("amount", sa.String(40)),
        sa.Column("currency", sa.String(3)),
        sa.Column("correlation_id", sa.String(200)),
        sa.Column("first_seen_us", sa.BigInteger, nullable=False),
        sa.Column("due_at_us", sa.BigInteger, nullable=False),
        sa.Column("assignee", sa.String(200)),
        sa.Column("snoozed_until_us", sa.BigInteger),
        sa.Column("resolution_code", sa.String(40)),
        sa.Column("resolution_note", sa.Text),
        sa.Column("resolved_by", sa.String(200)),
        sa.Column("resolved_at_us", sa.BigInteger),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("cases_queue", "cases", ["owner_queue", "status", "first_seen_us"])
    op.create_index("cases_assignee", "cases", ["assignee"])
    op.create_index("cases_correlation", "cases", ["correlation_id"])
    op.create_table(
        "case_refs",
        sa.Column("ref", sa.String(200), primary_key=True),
        sa.Column("exception_id", sa.String(64), sa.ForeignKey("cases.exception_id"), primary_key=True),
    )
    op.create_table(
        "case_actions",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("exception_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("prev", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("case_actions_case", "case_actions", ["exception_id", "seq"])
    audit_head = op.create_table(
        "case_audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table(
        "projection_offsets",
        sa.Column("source", sa.String(300), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("projection_offsets", "case_audit_head", "case_actions", "case_refs", "cases"):
        op.drop_table(table)
