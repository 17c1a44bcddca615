"""Running the web service: blocking (`recon serve`), or beside a run in a thread (`--serve` on run/demo)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from .metrics import RunMetrics
from .metrics_replay import replay
from .web import RunFolder, create_app


def build_app(out_dir: Path, registry: CollectorRegistry | None = None, input_dir: Path | None = None) -> FastAPI:
    """The app over an output folder. Without a live registry the metrics are rebuilt from the folder."""
    if registry is None:
        registry = replay(RunMetrics(), out_dir, input_dir).registry
    return create_app(RunFolder(out_dir, input_dir), registry)


def serve(
    out_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    registry: CollectorRegistry | None = None,
    input_dir: Path | None = None,
) -> None:
    """Serve until interrupted."""
    uvicorn.run(build_app(out_dir, registry, input_dir), host=host, port=port, log_level="warning")


class BackgroundServer:
    """uvicorn in a daemon thread, so a run can be scraped and browsed while it goes on."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="recon-web", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web service did not start (is the port free?)")
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


def start_background(
    out_dir: Path, host: str, port: int, registry: CollectorRegistry, input_dir: Path | None = None
) -> BackgroundServer:
    return BackgroundServer(create_app(RunFolder(out_dir, input_dir), registry), host, port).start()
