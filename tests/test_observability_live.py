"""What operations and treasury see, for real: a Prometheus server on loopback scrapes `recon serve`
over a reconciled month and answers every Grafana panel query, and headless Chromium opens the treasury
and queue pages the way a person would (RECON_UPDATE_DOCS=1 refreshes the screenshot in docs/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from reconstream.synthetic import generate
from servers import free_port, unavailable

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "reconstream.json"
SCREENSHOT = ROOT / "docs" / "treasury.png"
RECON = [sys.executable, "-m", "reconstream.shells.cli"]


def needed(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        unavailable(f"{tool} is not installed (make test installs it from Debian's packages)")
    return path


def get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def wait_for(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            get(url, timeout=2.0)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("observed")
    generate(base / "in", invoices=1500, seed=6)
    return base / "in", base / "out"


@pytest.fixture(scope="module")
def engine_url(month: tuple[Path, Path]) -> Iterator[str]:
    """`recon run --serve`: metrics and pages from the start of the run, and still served after it."""
    input_dir, out_dir = month
    port = free_port()
    server = subprocess.Popen(
        [*RECON, "run", "--input", str(input_dir), "--out", str(out_dir), "--quiet", "--serve", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/metrics")
        deadline = time.monotonic() + 120
        while not (out_dir / "cash_positions.json").exists():  # written when the run is done
            assert server.poll() is None and time.monotonic() < deadline, "the run did not finish"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def prometheus_url(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = needed("prometheus")
    base = tmp_path_factory.mktemp("prometheus")
    target = engine_url.removeprefix("http://")
    (base / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: reconstream\n    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={base / 'prometheus.yml'}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/-/ready")
        deadline = time.monotonic() + 60
        # rate() needs two scrapes inside its window: wait for a few.
        while query(url, "count_over_time(up[1m])") < [4.0]:
            if time.monotonic() > deadline:
                raise TimeoutError("Prometheus did not scrape the engine")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def query(url: str, expr: str) -> list[float]:
    body = orjson.loads(get(f"{url}/api/v1/query?query={urllib.parse.quote(expr)}"))
    assert body["status"] == "success", body
    return [float(sample["value"][1]) for sample in body["data"]["result"]]


def test_every_dashboard_query_returns_data_from_the_scraped_engine(prometheus_url: str) -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    assert query(prometheus_url, 'up{job="reconstream"}') == [1.0]
    empty = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m")
            if not query(prometheus_url, expr):
                empty.append(f"{panel['title']}: {expr}")
    assert empty == []


def chromium(*args: str) -> str:
    binary = needed("chromium")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    # A profile of its own each time (short, under TMPDIR): a shared one is locked by whichever chromium of
    # the parallel test workers holds it, and one left by a killed run refuses every later start.
    profile = tempfile.mkdtemp(prefix="recon-chromium-")
    try:
        done = subprocess.run(
            [binary, *flags, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_treasury_page_in_a_browser_shows_every_account_and_currency(
    engine_url: str, month: tuple[Path, Path], tmp_path: Path
) -> None:
    positions = orjson.loads((month[1] / "cash_positions.json").read_bytes())["positions"]
    page = chromium("--dump-dom", f"{engine_url}/treasury")
    for position in positions:
        assert position["account"] in page
        assert position["projected_balance"] in page
    # The picture in docs/ is refreshed on request only, so a test run never dirties the work tree.
    shot = SCREENSHOT if os.environ.get("RECON_UPDATE_DOCS") else tmp_path / "treasury.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,900", f"{engine_url}/treasury")
    assert shot.stat().st_size > 10_000


def test_each_queue_page_lists_its_open_exceptions_oldest_first(engine_url: str, month: tuple[Path, Path]) -> None:
    latest: dict[str, dict[str, str]] = {}
    for line in (month[1] / "exceptions.jsonl").read_bytes().splitlines():
        record = orjson.loads(line)
        latest[record["exception_id"]] = record
    for owner in ("ap", "vendor_master", "treasury", "integration"):
        page = chromium("--dump-dom", f"{engine_url}/queues/{owner}")
        open_ones = sorted(
            (e for e in latest.values() if e["owner_queue"] == owner and e["status"] == "open"),
            key=lambda e: (e["first_seen"], e["exception_id"]),
        )
        assert open_ones, owner
        positions = [page.find(e["refs"][0]) for e in open_ones[:5]]
        assert all(p >= 0 for p in positions), owner
        assert positions == sorted(positions), f"{owner}: not oldest first"
