"""`recon serve`, and `--serve HOST:PORT` for `recon run` and `recon demo` (the web service of shells/web)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconstream.models.errors import ReconError

from .config import Config
from .metrics import RunMetrics


class ServeRefused(ReconError, ValueError):
    """The service would be reachable beyond this machine with nobody's identity checked."""


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT` (host 127.0.0.1): where the web service listens."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return (host.strip("[]") or "127.0.0.1"), number


def add_serve_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve", help="serve /metrics, the JSON API and the treasury and queue pages for an output folder"
    )
    serve.add_argument("--out", type=Path, required=True, help="the output folder of a run (finished or running)")
    serve.add_argument(
        "--input",
        type=Path,
        help="not read: the service shows only what the engine decided (accepted so existing commands still run)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(handler=cmd_serve)


def add_serve_option(parser: argparse.ArgumentParser) -> None:
    """`--serve HOST:PORT` for a command that runs the engine."""
    parser.add_argument(
        "--serve",
        type=parse_address,
        metavar="HOST:PORT",
        help="serve metrics, API and pages from the start of the run, and keep serving after it (Ctrl-C stops)",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import serve

    if not args.out.is_dir():
        print(f"recon serve: --out {args.out} is not a folder", file=sys.stderr)
        return 2
    from .cli import config_of

    try:
        config = config_of(args)
        if args.input is not None:
            print("recon serve: --input is not read: pages and API show only what the engine decided", file=sys.stderr)
        serve(args.out, args.host, args.port, config=config, setting="--port (and --host)")
    except ServeRefused as exc:
        print(f"recon serve: {exc}", file=sys.stderr)
        return 2
    return 0


@contextmanager
def serving(
    address: tuple[str, int] | None,
    out_dir: Path,
    input_dir: Path | None,
    keep_serving: bool = True,
    config: Config | None = None,
) -> Iterator[RunMetrics | None]:
    """With an address: live metrics for the run and the web service up while it runs.

    Leaving the block *keeps serving* until Ctrl-C, which is what `--serve` promises. Without an
    address this does nothing and yields None (metrics off: the engine is not observed at all).
    `input_dir` is not read: the service shows what the engine decided, never its input.
    """
    if address is None:
        yield None
        return
    from .serve import start_background

    metrics = RunMetrics()
    out_dir.mkdir(parents=True, exist_ok=True)
    server = start_background(
        out_dir, address[0], address[1], metrics.registry, config=config, setting="--serve HOST:PORT"
    )
    print(f"serving on http://{address[0]}:{server.port}/ (metrics at /metrics)", file=sys.stderr)
    try:
        yield metrics
        if keep_serving:
            print(f"run done; still serving on http://{address[0]}:{server.port}/ (Ctrl-C stops)", file=sys.stderr)
            server.wait()
    finally:
        server.stop()
