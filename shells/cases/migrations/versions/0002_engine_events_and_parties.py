"""Input events for the engine made by people's actions (manual matches); whose books and supplier a case is,
and in Kafka mode the ledger partition that raised it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_events",
        sa.Column("action_seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("stream", sa.String(40), nullable=False),
        sa.Column("exception_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    with op.batch_alter_table("cases") as cases:  # batch: SQLite rebuilds the table where it must
        cases.add_column(sa.Column("company_code", sa.String(40)))
        cases.add_column(sa.Column("vendor_id", sa.String(200)))
        cases.add_column(sa.Column("vendor_name", sa.String(200)))
        cases.add_column(sa.Column("ledger_partition", sa.Integer))
    op.create_index("cases_company", "cases", ["company_code"])
    op.create_index("cases_vendor", "cases", ["vendor_id"])


def downgrade() -> None:
    op.drop_index("cases_vendor", "cases")
    op.drop_index("cases_company", "cases")
    with op.batch_alter_table("cases") as cases:
        cases.drop_column("ledger_partition")
        cases.drop_column("vendor_name")
        cases.drop_column("vendor_id")
        cases.drop_column("company_code")
    op.drop_table("engine_events")
