"""Signed webhooks against a real receiver on loopback that fails, times out and answers 429: every
exception delivered to a ticketing receiver and every status update to the AP platform (the closed loop),
each once by delivery id, every signature verified, dead letters after the last attempt and their replay,
and a sender killed with SIGKILL mid-delivery losing nothing."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from reconstream.shells.retrying import backoff
from reconstream.shells.webhooks import signing
from reconstream.synthetic import generate

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
SECRET = "whsec-test-0123456789"


class Receiver:
    """A webhook receiver: checks signatures, dedupes by delivery id, and misbehaves as told per delivery."""

    def __init__(self, behaviour: str = "flaky", delay: float = 0.0) -> None:
        self.behaviour = behaviour
        self.delay = delay
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.accepted: dict[str, bytes] = {}
        self.accepted_posts: Counter[str] = Counter()
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, headers = receiver.answer(self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def answer(self, headers: object, body: bytes) -> tuple[int, dict[str, str]]:
        delivery_id = headers["Recon-Delivery-Id"]  # type: ignore[index]
        if signing.verify(SECRET.encode(), headers[signing.HEADER], body, time.time()) is not None:  # type: ignore[index]
            with self.lock:
                self.bad_signatures += 1
            return 401, {}
        with self.lock:
            self.attempts[delivery_id] += 1
            attempt = self.attempts[delivery_id]
        if self.delay:
            time.sleep(self.delay)
        kind = int(hashlib.sha256(delivery_id.encode()).hexdigest(), 16) % 4
        if self.behaviour == "unavailable_first" and attempt == 1 and kind < 2:
            return 503, {}  # half the deliveries fail once: retried, and then taken
        if self.behaviour == "down" or (self.behaviour == "flaky" and attempt == 1 and kind):
            if self.behaviour == "flaky" and kind == 2:
                return 429, {"Retry-After": "1"}
            if self.behaviour == "flaky" and kind == 3:
                time.sleep(1.2)  # past the sender's timeout: it tries again, the receiver may see it twice
            return 503, {}
        with self.lock:
            self.accepted[delivery_id] = body
            self.accepted_posts[delivery_id] += 1
        return 200, {}

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hooks-month")
    generate(directory, invoices=400, seed=5)
    return directory


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.close()


def config_for(path: Path, url: str, max_attempts: int = 6, drain: float = 60.0, stream: str = "exceptions") -> Path:
    path.write_text(
        f"[database]\nenabled = false\n\n[delivery]\ndrain_seconds = {drain}\n\n"
        f'[[webhooks]]\nname = "ticketing"\nurl = "{url}"\nstreams = ["{stream}"]\n'
        f'secret_env = "RECON_TEST_WEBHOOK_SECRET"\nmax_attempts = {max_attempts}\ntimeout_seconds = 0.5\n'
        "max_backoff_seconds = 1.5\n"
    )
    return path


def exception_bodies(out: Path) -> set[bytes]:
    return set((out / "exceptions.jsonl").read_bytes().splitlines())


def status(out: Path, config: Path) -> str:
    return subprocess.run(
        [*RECON, "webhooks", "status", "--config", str(config), "--out", str(out)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_TEST_WEBHOOK_SECRET", SECRET)


def test_signatures_verify_and_refuse_tampering() -> None:
    header = signing.signature(b"k", 1_700_000_000, b'{"a":1}')
    assert signing.verify(b"k", header, b'{"a":1}', 1_700_000_100) is None
    assert signing.verify(b"k", header, b'{"a":2}', 1_700_000_100) == "signature does not match"
    assert signing.verify(b"other", header, b'{"a":1}', 1_700_000_100) == "signature does not match"
    assert signing.verify(b"k", header, b'{"a":1}', 1_700_000_400) == "timestamp outside the tolerance"


def test_backoff_grows_with_jitter_up_to_its_cap() -> None:
    waits = [[backoff(attempt, 30.0) for _ in range(200)] for attempt in (1, 4, 12)]
    assert all(0 <= wait <= 30.0 for group in waits for wait in group)
    assert max(waits[0]) <= 1.0 < max(waits[1])  # exponential: 0.5 * 2^attempts
    assert len({round(wait, 6) for wait in waits[2]}) > 100  # jittered, not one fixed delay


def test_a_run_delivers_every_exception_through_failures_timeouts_and_429(
    month: Path, receiver: Receiver, tmp_path: Path
) -> None:
    config = config_for(tmp_path / "recon.toml", receiver.url)
    out = tmp_path / "out"
    subprocess.run([*RECON, "run", "--config", str(config), "--input", str(month), "--out", str(out), "--quiet"],
                   check=True, timeout=300)  # fmt: skip
    expected = exception_bodies(out)
    assert len(expected) > 20
    assert set(receiver.accepted.values()) == expected  # every exception record, nothing else
    assert receiver.bad_signatures == 0
    assert sum(receiver.attempts.values()) > len(expected)  # the receiver did fail, and was retried
    assert "0 pending" in status(out, config) and "0 dead" in status(out, config)


def test_the_ap_platform_gets_every_status_update_once_the_closed_loop(tmp_path: Path) -> None:
    month = tmp_path / "month"
    generate(month, invoices=80, seed=8)
    ap_platform = Receiver("unavailable_first")  # timeouts and 429s: the exceptions test above
    try:
        config = config_for(tmp_path / "recon.toml", ap_platform.url, stream="status_updates")
        out = tmp_path / "out"
        subprocess.run([*RECON, "run", "--config", str(config), "--input", str(month), "--out", str(out), "--quiet"],
                       check=True, timeout=300)  # fmt: skip
        expected = (out / "status_updates.jsonl").read_bytes().splitlines()
        assert len(expected) > 200
        assert sorted(ap_platform.accepted.values()) == sorted(expected)  # each update once by its delivery id
        assert ap_platform.bad_signatures == 0 and sum(ap_platform.attempts.values()) > len(expected)
    finally:
        ap_platform.close()


def test_dead_letters_after_the_last_attempt_then_replay(month: Path, tmp_path: Path) -> None:
    down = Receiver("down")
    try:
        config = config_for(tmp_path / "recon.toml", down.url, max_attempts=2, drain=20.0)
        out = tmp_path / "out"
        subprocess.run([*RECON, "run", "--config", str(config), "--input", str(month), "--out", str(out), "--quiet"],
                       check=True, timeout=300)  # fmt: skip
        total = len(exception_bodies(out))
        report = status(out, config)
        assert f"0 pending, 0 delivered, {total} dead" in report and "gave up after 2 attempts: HTTP 503" in report
        assert all(count == 2 for count in down.attempts.values())
        down.behaviour = "ok"
        replayed = subprocess.run([*RECON, "webhooks", "replay", "--config", str(config), "--out", str(out)],
                                  check=True, capture_output=True, text=True)  # fmt: skip
        assert f"{total} dead-lettered deliveries queued again" in replayed.stdout
        subprocess.run([*RECON, "webhooks", "deliver", "--config", str(config), "--out", str(out)],
                       check=True, capture_output=True)  # fmt: skip
        assert set(down.accepted.values()) == exception_bodies(out)
    finally:
        down.close()


def test_a_sender_killed_mid_delivery_loses_nothing(month: Path, tmp_path: Path) -> None:
    config = config_for(tmp_path / "recon.toml", "http://127.0.0.1:9/refused", drain=0.0)
    out = tmp_path / "out"
    subprocess.run([*RECON, "run", "--config", str(config), "--input", str(month), "--out", str(out), "--quiet"],
                   check=True, timeout=300)  # fmt: skip
    expected = exception_bodies(out)
    slow = Receiver("ok", delay=0.05)
    try:
        config_for(tmp_path / "recon.toml", slow.url)
        deliver = [*RECON, "webhooks", "replay", "--config", str(config), "--out", str(out)]
        subprocess.run(deliver, check=True, capture_output=True)  # any that ran out of attempts while refused
        deliver = [*RECON, "webhooks", "deliver", "--config", str(config), "--out", str(out)]
        sender = subprocess.Popen(deliver, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(slow.accepted) < len(expected) // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        assert 0 < len(slow.accepted) < len(expected), "the sender finished before it could be killed"
        subprocess.run(deliver, check=True, capture_output=True, timeout=120)
        assert set(slow.accepted.values()) == expected
        assert max(slow.accepted_posts.values()) <= 2  # at most the one in flight at the kill, sent again
    finally:
        slow.close()
