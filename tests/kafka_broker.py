"""A real single-node Kafka broker for tests, started by ops/kafka/broker.sh.

The shell script owns all the logic (jar fetch, ports, KRaft config, readiness); this module only runs it,
so there is one implementation to fix. Register the fixture with ``pytest_plugins = ["kafka_broker"]``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from servers import unavailable

BROKER_SH = Path(__file__).resolve().parents[1] / "ops" / "kafka" / "broker.sh"

# The first run fetches ~45 MB of jars through Maven before the script's own 90 s readiness wait starts.
START_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 60.0


class BrokerError(RuntimeError):
    """The broker could not be started or stopped; the message carries the script's output."""


class KafkaBroker:
    """One broker process; ``with KafkaBroker() as bootstrap: ...`` or start()/stop()."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None, ready_timeout_s: float = 90.0) -> None:
        self.port = port
        self.data_dir = data_dir
        self.ready_timeout_s = ready_timeout_s
        self.bootstrap: str | None = None

    def start(self) -> str:
        if self.bootstrap is not None:
            return self.bootstrap
        args = ["start", "--timeout", str(int(self.ready_timeout_s))]
        if self.port is not None:
            args += ["--port", str(self.port)]
        if self.data_dir is not None:
            args += ["--data", str(self.data_dir)]
        out = _run(args, START_TIMEOUT_S)
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        try:
            self.bootstrap = values["KAFKA_BOOTSTRAP"]
            self.data_dir = Path(values["KAFKA_DATA"])
        except KeyError as exc:
            raise BrokerError(f"broker.sh start printed no {exc.args[0]}: {out!r}") from None
        return self.bootstrap

    def stop(self) -> None:
        if self.bootstrap is None or self.data_dir is None:
            return
        _run(["stop", "--data", str(self.data_dir)], STOP_TIMEOUT_S)
        self.bootstrap = None

    def restart(self, down_s: float = 3.0) -> None:
        """Stop the broker keeping its data, wait `down_s` seconds, start it again on the same port.

        Clients see what a rolling restart or a crashed and respawned broker looks like: connections drop,
        then the same address serves the same topics, committed offsets and open transactions again.
        """
        if self.bootstrap is None or self.data_dir is None:
            raise BrokerError("restart: the broker is not running")
        args = ["restart", "--data", str(self.data_dir), "--down", f"{down_s:g}"]
        out = _run([*args, "--timeout", str(int(self.ready_timeout_s))], STOP_TIMEOUT_S + down_s + START_TIMEOUT_S)
        if f"KAFKA_BOOTSTRAP={self.bootstrap}" not in out.splitlines():
            raise BrokerError(f"broker.sh restart came back elsewhere than {self.bootstrap}: {out!r}")

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _run(args: list[str], timeout_s: float) -> str:
    """Run broker.sh, return its stdout; stderr (progress, log tails) goes into the error on failure."""
    # A session of its own, so a timeout can end the script and any JVM it has started, not just bash.
    try:
        proc = subprocess.Popen(
            ["bash", str(BROKER_SH), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise BrokerError(f"broker.sh {args[0]}: {exc}") from exc
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate()
        raise BrokerError(f"broker.sh {args[0]} took more than {timeout_s:.0f}s:\n{err.strip()}") from None
    if proc.returncode != 0:
        raise BrokerError(f"broker.sh {args[0]} exited {proc.returncode}:\n{err.strip()}")
    return out


def _started(broker: KafkaBroker) -> None:
    """Start `broker`, or skip (fail under CI) saying why it could not run here."""
    error: BrokerError | None = None
    try:
        broker.start()
    except BrokerError as exc:
        error = exc
    # decided outside the except block, so the report shows the reason rather than a chained traceback
    if error is not None:
        unavailable(f"could not start the Kafka test broker: {error}")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a Kafka broker: $KAFKA_BOOTSTRAP if set, else one started for this session.

    Without a broker the kafka tests skip on a developer machine, but fail under CI=true, where a skip
    would hide that they never ran.
    """
    external = os.environ.get("KAFKA_BOOTSTRAP", "").strip()
    if external:
        yield external
        return
    broker = KafkaBroker()
    _started(broker)
    try:
        assert broker.bootstrap is not None
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def own_kafka_broker() -> Iterator[KafkaBroker]:
    """A broker of this module's own, always started here (never $KAFKA_BOOTSTRAP): one a test may restart
    without disturbing the tests that share the session's broker."""
    broker = KafkaBroker()
    _started(broker)
    try:
        yield broker
    finally:
        broker.stop()
