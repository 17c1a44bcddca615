"""What stops a `recon` command that is no defect of its own: a full disk, an address another process holds, a
Kafka cluster that will not serve the worker. `cli.main` turns each into one line on stderr that names what
failed and where, and an exit code of its own (docs/operations.md, "Exit codes"), instead of a traceback.

A full disk is recognised wherever it shows: an OSError (ENOSPC, EDQUOT), RocksDB's error (rocksdict raises a
plain Exception whose text carries the OS error's, e.g. "IO error: No space left on device: While appending to
file: state/000004.log: No space left on device"), SQLite's SQLITE_FULL and PostgreSQL's disk_full (the case
store). It is looked for along the whole chain of the exception: after a failed write, closing the RocksDB
database raises again ("Writer has previous error") with the first error as its context.
"""

from __future__ import annotations

import argparse
import errno
import re
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from reconstream.models.errors import ReconError

EXIT_PORT_BUSY = 69  # sysexits' EX_UNAVAILABLE: the address to listen on is taken (or cannot be listened on)
EXIT_DISK_FULL = 74  # EX_IOERR: a write failed for want of space or quota
EXIT_WORKER_GAVE_UP = 75  # EX_TEMPFAIL: the cluster was away longer than [kafka] max_outage; try again later
EXIT_CLUSTER_REFUSED = 77  # EX_NOPERM: the cluster refused the worker's credentials

_FULL_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}
_FULL_TEXT = re.compile(r"No space left on device|Disk quota exceeded")
# The file RocksDB names in its message: "...While appending to file: <path>: No space left on device".
_FULL_FILE = re.compile(r": ([^:]+): (?:No space left on device|Disk quota exceeded)")
_SQLITE_FULL = 13  # SQLITE_FULL, "database or disk is full"
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


class DiskFull(ReconError):
    """A write failed for want of space or quota, at `where` (a path, or what holds it) when known."""

    def __init__(self, reason: str, where: str | None = None) -> None:
        super().__init__(f"{reason} writing {where}" if where else reason)
        self.reason = reason
        self.where = where


class CannotListen(ReconError):
    """A command cannot listen on the address it was given; `setting` is what chooses that address."""

    def __init__(self, host: str, port: int, setting: str, reason: str) -> None:
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.setting = setting
        self.reason = reason
        super().__init__(f"cannot listen on {self.address} (chosen by {setting}): {reason}")


class PortBusy(CannotListen):
    """The address is held by another process (EADDRINUSE)."""

    def __init__(self, host: str, port: int, setting: str) -> None:
        super().__init__(host, port, setting, "already in use by another process")


@dataclass(frozen=True)
class Failure:
    """What `main` prints (after "recon <command>: ") and the exit code it returns."""

    message: str
    code: int


def listen(host: str, port: int, setting: str) -> list[socket.socket]:
    """Sockets bound to every address of `host` (as asyncio's create_server binds them), for uvicorn to serve
    on. Bound here because uvicorn, when it cannot bind, logs the error and calls sys.exit(1) (in a thread: the
    thread just ends), where a command must say which address failed, why, and what sets it."""
    try:
        infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CannotListen(host, port, setting, f"unknown host ({exc.strerror})") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortBusy(host, port, setting) from None
                raise CannotListen(host, port, setting, (exc.strerror or str(exc)).lower()) from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or while handling, and so on."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def disk_full(exc: BaseException) -> DiskFull | None:
    """The full disk behind `exc`, with the path (or store) that could not be written where an error names it."""
    reason = where = None
    for link in chain(exc):
        found = _full_reason(link)
        if found is not None:
            reason = reason or found
            where = where or _full_where(link)
    return DiskFull(reason, where) if reason is not None else None


def _full_reason(exc: BaseException) -> str | None:
    if isinstance(exc, DiskFull):
        return exc.reason
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return _FULL_ERRNOS[exc.errno]
    if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
        return "database or disk is full"
    if getattr(exc, "sqlstate", None) == _POSTGRES_DISK_FULL:
        return "the database server's disk is full"
    found = _FULL_TEXT.search(str(exc))
    return found.group(0).lower() if found else None


def _full_where(exc: BaseException) -> str | None:
    if isinstance(exc, DiskFull):
        return exc.where
    if isinstance(exc, OSError) and exc.filename is not None:
        return str(exc.filename)
    named = _FULL_FILE.search(str(exc))
    return named.group(1).strip() if named else None


def explain(exc: Exception, args: argparse.Namespace) -> Failure | None:
    """The one line and exit code for a failure an operator can act on; None for anything else (a defect, whose
    traceback is what the report needs)."""
    full = disk_full(exc)
    if full is not None:
        where = full.where or _written_places(args)
        return Failure(
            f"{full.reason} writing {where}; free space there and run the same command again" + _resume_note(args),
            EXIT_DISK_FULL,
        )
    refused = _cannot_listen(exc, args)
    if isinstance(refused, PortBusy):
        return Failure(
            f"{refused.address} is already in use by another process: stop that process, or choose another "
            f"address with {refused.setting}",
            EXIT_PORT_BUSY,
        )
    if refused is not None:
        return Failure(
            f"cannot listen on {refused.address}: {refused.reason}; choose another address with {refused.setting}",
            EXIT_PORT_BUSY,
        )
    return _kafka_failure(exc)


def _cannot_listen(exc: Exception, args: argparse.Namespace) -> CannotListen | None:
    for link in chain(exc):
        if isinstance(link, CannotListen):
            return link
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        # prometheus_client's start_http_server (the worker's --metrics-port) says only "Address already in use".
        port = getattr(args, "metrics_port", None)
        if port is not None:
            return PortBusy("0.0.0.0", port, "--metrics-port PORT")  # noqa: S104 - names the bind in run_worker, binds nothing
    return None


def _kafka_failure(exc: Exception) -> Failure | None:
    # Only a command that loaded the Kafka shell can raise these: the check costs the others no import.
    recovery = sys.modules.get(f"{__package__}.kafka.recovery")
    if recovery is None:
        return None
    text = " ".join(str(exc).split())
    if isinstance(exc, recovery.WorkerGaveUp):
        return Failure(f"gave up: {text}; start the worker again once the cluster is back", EXIT_WORKER_GAVE_UP)
    if isinstance(exc, recovery.ClusterRefused):
        return Failure(f"{text}; then start the worker again", EXIT_CLUSTER_REFUSED)
    return None


def _written_places(args: argparse.Namespace) -> str:
    """Where the command writes, from its options, when the error itself names no file."""
    places = [
        f"{value} ({flag})"
        for attribute, flag in (("out", "--out"), ("state_dir", "--state-dir"), ("data_dir", "--data-dir"))
        if (value := getattr(args, attribute, None)) is not None
    ]
    if "out" in args and args.out is None:  # recon ingest, pain001: stdout unless --out
        places.append("standard output")
    if "keep" in args:  # recon demo: the generated month and its outputs
        scratch = f"the scratch folder in {tempfile.gettempdir()}"
        places.append(f"{args.keep} (--keep)" if args.keep is not None else scratch)
    return " or ".join(places) if places else "its output"


def _resume_note(args: argparse.Namespace) -> str:
    if getattr(args, "state_dir", None) is not None:
        return " (it resumes from its last checkpoint; nothing past it was recorded)"
    if getattr(args, "data_dir", None) is not None and hasattr(args, "metrics_port"):
        return " (the worker resumes from its last committed transaction)"
    return ""
