"""The librdkafka configuration of every Kafka client here: the cluster's security settings, then the client's own.

A process talks to one cluster, and every client of it (consumer, transactional producer, admin, the restore
reader) needs the same credentials: one that lacks them cannot connect. So the command sets them once, from
the `[kafka]` section of the config file (`use`), and each client is built with `config(bootstrap, {...})`
instead of a dozen signatures carrying them. Passwords come from the environment or a file the section
names, read when the command starts; `described` is what may be logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..secrets import read_secret

if TYPE_CHECKING:
    from ..config import Kafka

# librdkafka properties whose values are secrets: never logged, never in the config file.
SECRET_PROPERTIES = frozenset({"sasl.password", "ssl.key.password"})

_security: dict[str, str] = {}


def properties(section: Kafka) -> dict[str, str]:
    """The librdkafka security properties of the `[kafka]` section, its passwords read from where it names."""
    found = {name: _librdkafka_value(value) for name, value in section.client.items()}
    if section.sasl_password_env or section.sasl_password_file:
        found["sasl.password"] = read_secret(
            "kafka.sasl_password_env", section.sasl_password_env, section.sasl_password_file
        )
    if section.ssl_key_password_env or section.ssl_key_password_file:
        found["ssl.key.password"] = read_secret(
            "kafka.ssl_key_password_env", section.ssl_key_password_env, section.ssl_key_password_file
        )
    return found


def use(security: Mapping[str, str]) -> None:
    """Every client built in this process from now on gets these properties (replacing earlier ones)."""
    _security.clear()
    _security.update(security)


def config(bootstrap: str, own: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One client's configuration: the security settings, the broker, then what this client sets itself."""
    return {**_security, "bootstrap.servers": bootstrap, **(own or {})}


def described(settings: Mapping[str, Any]) -> str:
    """A configuration as it may be logged: secrets masked, callbacks left out."""
    shown = {
        name: "***" if name in SECRET_PROPERTIES else value
        for name, value in sorted(settings.items())
        if isinstance(value, str | int | float | bool)
    }
    return ", ".join(f"{name}={value}" for name, value in shown.items())


def _librdkafka_value(value: str | int | bool) -> str:
    """librdkafka takes strings: a TOML boolean becomes "true"/"false", not Python's "True"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
