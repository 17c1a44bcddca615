"""A simulated ERP on loopback with fresh credentials, and what an adapter needs to reach it: for the demo,
`recon erp-sim`, the tests and the benchmarks. Secrets are made here, per start, and handed on in memory or
in a file only the user can read; none is fixed in code."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import secrets
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .adapter import ErpTarget
from .registry import simulator_class
from .simulator import Faults, Rules, RunningSimulator, start

if TYPE_CHECKING:
    from .sim_d365 import D365Simulator  # loaded late, by name, as every simulator is

TENANT = "RECON_TST"


@dataclass
class LocalErp:
    kind: str
    running: RunningSimulator
    credentials: dict[str, str] = field(repr=False)  # what the adapter presents
    options: dict[str, str]

    @property
    def url(self) -> str:
        return self.running.url

    def target(self, name: str | None = None, timeout_seconds: float = 10.0) -> ErpTarget:
        return ErpTarget(name or self.kind, self.kind, self.url, self.credentials, timeout_seconds, self.options)

    def write_credentials(self, path: Path) -> Path:
        """The adapter's credentials as a JSON file only its owner can read (what `credentials_file` names)."""
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(self.credentials, handle)
        return path

    def config_entry(self, name: str, company_codes: list[str], credentials_file: Path) -> dict[str, Any]:
        """An `[[erp]]` entry of the config file that posts to this simulator."""
        return config_entry(self.kind, self.url, self.options, name, company_codes, credentials_file)

    def stop(self) -> None:
        self.running.stop()


def config_entry(
    kind: str, url: str, options: dict[str, str], name: str, company_codes: list[str], credentials_file: Path
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "base_url": url,
        "company_codes": company_codes,
        "credentials_file": str(credentials_file),
        "options": options,
    }


@dataclass
class ErpProcess:
    """A simulated ERP serving from a process of its own, as a real ERP would. On a thread of the process
    that posts to it, its answers can wait for the interpreter lock behind the run's own work, and an
    answer late by that reads as an ERP timeout the ERP never had (`recon demo`; on a busy machine its
    timeout matters as much, docs/erp.md)."""

    kind: str
    url: str
    options: dict[str, str]
    process: BaseProcess
    connection: Connection

    def config_entry(self, name: str, company_codes: list[str], credentials_file: Path) -> dict[str, Any]:
        return config_entry(self.kind, self.url, self.options, name, company_codes, credentials_file)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.connection.close()


def start_process(kind: str, faults: Faults, rules: Rules, credentials_file: Path) -> ErpProcess:
    """The simulator of `kind` in a process of its own, its adapter's credentials written to `credentials_file`."""
    context = multiprocessing.get_context("spawn")  # a fork would copy the caller's threads' locks mid-use
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_serve_until_told, args=(kind, faults, rules, credentials_file, theirs), name=f"erp-{kind}", daemon=True
    )
    process.start()
    theirs.close()
    if not ours.poll(60):
        process.terminate()
        raise RuntimeError(f"the simulated {kind} ERP did not start within 60 seconds")
    try:
        url, options = ours.recv()
    except EOFError:
        process.join(timeout=5)
        raise RuntimeError(f"the simulated {kind} ERP exited before serving (exit code {process.exitcode})") from None
    return ErpProcess(kind, url, options, process, ours)


def _serve_until_told(kind: str, faults: Faults, rules: Rules, credentials_file: Path, connection: Connection) -> None:
    local = start_local(kind, faults, rules)
    local.write_credentials(credentials_file)
    connection.send((local.url, local.options))
    with contextlib.suppress(EOFError):
        connection.recv()  # told to stop, or the caller is gone
    local.stop()


def start_local(
    kind: str,
    faults: Faults | None = None,
    rules: Rules | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> LocalErp:
    """The simulator of `kind` serving on host:port (0: any free port), with credentials made now."""
    simulator_credentials, credentials = _credentials(kind)
    simulator = simulator_class(kind)(faults, rules, simulator_credentials)
    running = start(simulator, host, port)
    url = running.url
    if kind == "d365":
        cast("D365Simulator", simulator).resource = url  # the environment's URL is the token's audience
    if kind == "infor":  # an .ionapi file names the gateway and the token provider as well
        credentials = {**credentials, "iu": url, "pu": f"{url}/{TENANT}/as/", "ot": "token.oauth2"}
    return LocalErp(kind, running, credentials, _options(kind, url))


def _credentials(kind: str) -> tuple[dict[str, str], dict[str, str]]:
    """(what the simulator checks, what the adapter presents)."""
    secret = secrets.token_urlsafe(24)
    if kind in ("sap", "oracle"):
        both = {"username": "RECON_COMM_USER", "password": secret}
        return both, both
    if kind == "d365":
        both = {"client_id": secrets.token_hex(8), "client_secret": secret}
        return {**both, "tenant_id": TENANT}, both
    if kind == "netsuite":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        ids = {"client_id": secrets.token_hex(32), "certificate_id": secrets.token_urlsafe(32)}
        return {**ids, "public_key": public}, {**ids, "private_key": private}
    if kind == "infor":
        ionapi = {"ti": TENANT, "ci": f"{TENANT}~reconstream", "cs": secret, "saak": f"{TENANT}#svc"}
        both = {**ionapi, "sask": secrets.token_urlsafe(24)}
        return both, both
    raise ValueError(f"kind: no simulator for {kind!r}")


def _options(kind: str, url: str) -> dict[str, str]:
    if kind == "sap":
        return {"gl_account": "0000400000"}
    if kind == "d365":
        return {"token_url": f"{url}/{TENANT}/oauth2/v2.0/token", "resource": url}
    if kind == "netsuite":
        return {"expense_account": "67", "tax_account": "111"}
    if kind == "infor":
        return {"poll_seconds": "0.02"}
    return {}
