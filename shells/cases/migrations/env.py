"""Alembic's environment for the case store: run on the connection `migrate()` hands over, never from an
ini file, so a database URL (and its password) never sits in a file Alembic reads."""

from __future__ import annotations

from alembic import context
from reconstream.shells.cases.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
