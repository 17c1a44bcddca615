"""Running the web service: blocking (`recon serve`), or beside a run in a thread (`--serve` on run/demo).

What it serves comes from the config file: the case store of `[database]` (by default the run folder's
cases.sqlite) and the authentication of `[auth]`. Without authentication it binds to loopback only.

It serves what the engine decided, from the output folder and the case store, never the run's input: the
functions here still take `input_dir` (a run's `--serve` passes it) and do not read it.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from .auth import ApiKeys, Authenticator, OidcSettings, OidcVerifier
from .cases.store import CaseStore
from .cli_serve import ServeRefused
from .config import Config
from .failures import listen
from .metrics import RunMetrics
from .metrics_replay import replay
from .web import RunFolder, create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authenticator_of(config: Config) -> Authenticator:
    auth = config.auth
    api_keys = ApiKeys.load(auth.api_keys_file) if auth.api_keys_file is not None else None
    oidc = None
    if auth.oidc_issuer and auth.oidc_audience and auth.oidc_jwks_url:
        oidc = OidcVerifier(
            OidcSettings(
                issuer=auth.oidc_issuer,
                audience=auth.oidc_audience,
                jwks_url=auth.oidc_jwks_url,
                role_claim=auth.role_claim,
                name_claim=auth.name_claim,
            )
        )
    return Authenticator(api_keys, oidc)


def check_binding(host: str, authenticator: Authenticator) -> None:
    if not authenticator.configured and not is_loopback(host):
        raise ServeRefused(
            f"refusing to serve on {host}: without [auth] (API keys or OIDC) in the config file anyone who can "
            "reach the port would see every queue and account; serve on 127.0.0.1, or configure [auth]"
        )


def open_case_store(config: Config, out_dir: Path, create: bool) -> CaseStore | None:
    """The case store the pages work on. A run folder's default SQLite file is opened only if it exists,
    unless `create` (a run is about to project into it)."""
    url = config.case_store_url(out_dir)
    if url is None:
        return None
    if config.database.url is None and not create and not (out_dir / "cases.sqlite").exists():
        return None
    return CaseStore.open(url)


def build_app(
    out_dir: Path,
    registry: CollectorRegistry | None = None,
    input_dir: Path | None = None,
    config: Config | None = None,
    create_cases: bool = False,
) -> FastAPI:
    """The app over an output folder. Without a live registry the metrics are rebuilt from the folder alone:
    an input line the engine refused must not stop the service (or show in its figures)."""
    config = config or Config()
    if registry is None:
        registry = replay(RunMetrics(), out_dir).registry
    store = open_case_store(config, out_dir, create_cases)
    app = create_app(RunFolder(out_dir), registry, store, authenticator_of(config))
    app.state.intake = None
    settings = config.intake_settings()
    if settings is not None:  # AP platforms push here; their HMAC signature is their authentication
        from .intake import Intake

        try:
            if settings.kafka_bootstrap is not None:  # its producer gets the [kafka] security, as `recon produce`'s
                from .kafka import clients

                clients.use(clients.properties(config.kafka))
            app.state.intake = Intake.open(settings, ingest_options=config.ingest_options())
        except BaseException:
            close_case_store(app)
            raise
        app.include_router(app.state.intake.router())
    return app


def serve(
    out_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    registry: CollectorRegistry | None = None,
    config: Config | None = None,
    setting: str = "--port (and --host)",
) -> None:
    """Serve until interrupted. CannotListen (PortBusy when it is taken) names the address and `setting`, what
    chooses it, if the address cannot be listened on."""
    app = build_app(out_dir, registry, config=config)
    try:
        check_binding(host, app.state.authenticator)
        sockets = listen(host, port, setting)
    except BaseException:
        close_case_store(app)
        raise
    bound = sockets[0].getsockname()[1]
    print(f"serving {out_dir} on http://{host}:{bound}/ (Ctrl-C stops)", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    try:
        server.run(sockets=sockets)  # what uvicorn.run does, on the sockets bound here
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()
    if not server.started:
        raise SystemExit(1)  # the app's startup failed: uvicorn has logged why


def close_case_store(app: FastAPI) -> None:
    """The case store and the intake's files, which the app holds open."""
    store: CaseStore | None = app.state.case_store
    if store is not None:
        store.close()
    intake = getattr(app.state, "intake", None)
    if intake is not None:
        intake.close()


class BackgroundServer:
    """uvicorn in a daemon thread, so a run can be scraped and browsed while it goes on."""

    def __init__(self, app: FastAPI, host: str, port: int, setting: str = "--serve HOST:PORT") -> None:
        # Bound here, not by uvicorn in its thread: a taken address is PortBusy in the caller (uvicorn would log
        # it and end the thread), naming the address and `setting`, what chooses it.
        self.sockets = listen(host, port, setting)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": self.sockets}, name="recon-web", daemon=True
        )

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web service did not start (uvicorn logged why)")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def wait(self) -> None:
        """Keep serving until Ctrl-C (or the server stops)."""
        try:
            while self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        for sock in self.sockets:
            sock.close()
        close_case_store(self.server.config.app)  # type: ignore[arg-type]


def start_background(
    out_dir: Path,
    host: str,
    port: int,
    registry: CollectorRegistry,
    input_dir: Path | None = None,
    config: Config | None = None,
    setting: str = "--serve HOST:PORT",
) -> BackgroundServer:
    app = build_app(out_dir, registry, config=config, create_cases=True)
    try:
        check_binding(host, app.state.authenticator)
        server = BackgroundServer(app, host, port, setting)
    except BaseException:
        close_case_store(app)
        raise
    return server.start()
