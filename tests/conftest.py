"""Shared pytest setup. kafka_broker provides the session fixture `kafka_bootstrap` (a real broker)."""

pytest_plugins = ["kafka_broker"]
