"""The case store (SQLAlchemy over SQLite or PostgreSQL): cases, actions, their audit; migrations by Alembic."""

from reconstream.models.errors import ReconError


class DatabaseConfigError(ReconError, ValueError):
    """The case store cannot be reached as configured (the message never carries a password)."""
