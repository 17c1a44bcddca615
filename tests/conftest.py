"""Shared pytest setup: session fixtures `kafka_bootstrap` (a real broker) and `postgres_server` (a real PostgreSQL)."""

pytest_plugins = ["kafka_broker", "postgres_server"]
