"""Shared pytest setup: session fixtures `kafka_bootstrap` (a real broker) and `postgres_server` (a real PostgreSQL),
and how `make test` spreads the suite over two xdist workers."""

from __future__ import annotations

import pytest

pytest_plugins = ["kafka_broker", "postgres_server"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on a Kafka broker in one group, so one worker starts one broker (its first start fetches the
    jars, which two at once would race on); every other test grouped by its file, so a module's fixtures are
    built once. `--dist loadgroup` hands out whole groups."""
    for item in items:
        uses_kafka = item.get_closest_marker("kafka") is not None or "kafka_bootstrap" in getattr(
            item, "fixturenames", ()
        )
        group = "kafka" if uses_kafka else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
