"""Connecting to the case store: a SQLite file by default, PostgreSQL by URL, the password never in the URL
text of a file. Migrations run through Alembic on the connection handed over here."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from ..secrets import SecretError, read_secret
from . import DatabaseConfigError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str, password_env: str | None = None, password_file: Path | None = None) -> URL:
    """The URL with its password from the environment or a file; a password written in the URL is refused."""
    parsed = make_url(url)
    if parsed.password is not None:
        raise DatabaseConfigError(
            f"database.url for {parsed.render_as_string(hide_password=True)} carries a password: "
            "name it in database.password_env or database.password_file instead"
        )
    password = None
    if password_env or password_file is not None:
        key = "database.password_env" if password_env else "database.password_file"
        try:
            password = read_secret(key, password_env, password_file)
        except SecretError as exc:
            raise DatabaseConfigError(str(exc)) from None
    return parsed.set(password=password) if password is not None else parsed


def connect(url: URL | str, *, writer: bool) -> Engine:
    """An engine for the store. On SQLite a writer begins with BEGIN IMMEDIATE, so two writers wait for each
    other instead of failing when both try to upgrade a read lock; readers see the last commit (WAL)."""
    url = make_url(url) if isinstance(url, str) else url
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_connection(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's implicit one
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed projection offset survives power loss
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command  # here: a command that never opens the store does not pay for Alembic
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
