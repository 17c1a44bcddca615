"""Which adapter and simulator serve each kind of ERP, and the lanes a config file asks for.

Imported by name, late: a command that posts to one ERP does not load the other four."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..secrets import SecretError, read_secret
from .adapter import ErpAdapter, ErpTarget
from .service import Lane, LanePolicy
from .simulator import Simulator

if TYPE_CHECKING:
    from ..config import Config
    from ..config import ErpTarget as ErpTargetConfig

KINDS: dict[str, tuple[str, str]] = {
    # kind: (module, adapter class); the simulator is sim_<module>'s <Name>Simulator
    "sap": ("sap", "Sap"),
    "oracle": ("oracle", "Oracle"),
    "d365": ("d365", "D365"),
    "netsuite": ("netsuite", "NetSuite"),
    "infor": ("infor", "Infor"),
}


def adapter_class(kind: str) -> type[ErpAdapter]:
    module, name = KINDS[kind]
    return getattr(importlib.import_module(f"{__package__}.{module}"), f"{name}Adapter")  # type: ignore[no-any-return]


def simulator_class(kind: str) -> type[Simulator]:
    module, name = KINDS[kind]
    return getattr(importlib.import_module(f"{__package__}.sim_{module}"), f"{name}Simulator")  # type: ignore[no-any-return]


def read_credentials(key: str, env: str | None, file: os.PathLike[str] | None) -> dict[str, str]:
    """A JSON object of credentials, read as every secret is (shells/secrets.py); errors name the key and the
    source, never a value."""
    text = read_secret(key, env, Path(file) if file is not None else None)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SecretError(f"{key}: {f'${env}' if env else file} does not hold a JSON object")
    return {str(name): str(value) for name, value in data.items()}


def target_of(number: int, target: ErpTargetConfig) -> ErpTarget:
    credentials = read_credentials(f"erp.{number}.credentials", target.credentials_env, target.credentials_file)
    return ErpTarget(
        name=target.name,
        kind=target.kind,
        base_url=target.base_url,
        credentials=credentials,
        timeout_seconds=target.timeout_seconds,
        options=dict(target.options),
    )


def policy_of(target: ErpTargetConfig) -> LanePolicy:
    return LanePolicy(
        concurrency=target.concurrency,
        rate_per_second=target.rate_per_second,
        burst=target.burst,
        max_attempts=target.max_attempts,
        max_backoff_seconds=target.max_backoff_seconds,
        breaker_threshold=target.breaker_threshold,
        breaker_cool_off_seconds=target.breaker_cool_off_seconds,
    )


def lanes_of(config: Config) -> dict[str, Lane]:
    """One lane per configured ERP, its credentials read now."""
    lanes = {}
    for number, target in enumerate(config.erp):
        adapter = adapter_class(target.kind)(target_of(number, target))
        lanes[target.name] = Lane(target.name, adapter, policy_of(target))
    return lanes
