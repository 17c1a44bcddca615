"""ops/compose/docker-compose.yml against what it runs: a static check of the file's consistency with the CLI, the
Prometheus config it mounts and the image's Dockerfile. It does not run Docker (the tests never do): it reads
the files, and parses every `recon` command of the file with the real argument parser.

Checked: every Prometheus scrape target is a compose service serving metrics on that port; the worker is fed by
a one-shot producer of the demo month; every path a reconstream service writes is a named volume its image
makes writable for its user; no admin password is written in the file."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from reconstream.shells import cli
from reconstream.shells.cli_serve import cmd_serve
from servers import unavailable

COMPOSE_DIR = Path(__file__).resolve().parents[1] / "ops" / "compose"
COMPOSE = COMPOSE_DIR / "docker-compose.yml"
PROMETHEUS_CONFIG = PurePosixPath("/etc/prometheus/prometheus.yml")  # where the prom/prometheus image reads it
NOBODY = {"nobody", "65534"}  # the Debian image's nobody, by name or uid


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<: *recon) resolved


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def recon_args(service: dict[str, Any]) -> argparse.Namespace | None:
    """The service's `recon` command as the CLI parses it (a command it rejects fails the test); None if the
    service runs something else."""
    command = service.get("command")
    if not isinstance(command, list) or command[:1] != ["recon"]:
        return None
    try:
        return cli.build_parser().parse_args(command[1:])
    except SystemExit:
        pytest.fail(f"`{' '.join(command)}` is not a command the CLI accepts")


def recon_services(services: dict[str, dict[str, Any]]) -> dict[str, argparse.Namespace]:
    parsed = {name: recon_args(service) for name, service in services.items()}
    return {name: args for name, args in parsed.items() if args is not None}


def metrics_ports(args: argparse.Namespace) -> set[int]:
    """The ports a parsed `recon` command serves /metrics on."""
    if args.handler is cli.cmd_worker:
        return {args.metrics_port} if args.metrics_port is not None else set()
    if args.handler is cmd_serve:
        return {args.port}
    serve = getattr(args, "serve", None)  # run, demo: --serve HOST:PORT
    return {serve[1]} if serve is not None else set()


def mounts(service: dict[str, Any]) -> list[tuple[str, PurePosixPath, bool]]:
    """(source, target, read_only) of each short-syntax volume entry."""
    found = []
    for entry in service.get("volumes", []):
        source, target, *options = entry.split(":")
        found.append((source, PurePosixPath(target), "ro" in options))
    return found


def prometheus_config(services: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[PurePosixPath, Path]]:
    """The scrape config the compose Prometheus reads, and every file mounted into it by container path."""
    [prometheus] = [s for s in services.values() if str(s.get("image", "")).startswith("prom/prometheus")]
    files: dict[PurePosixPath, Path] = {}
    for source, target, _ in mounts(prometheus):
        path = (COMPOSE_DIR / source).resolve()
        if path.is_dir():  # a folder mounted whole: each of its files
            files.update({target / child.name: child for child in path.iterdir() if child.is_file()})
        else:
            files[target] = path
    assert PROMETHEUS_CONFIG in files, "Prometheus is given no scrape config"
    return yaml.safe_load(files[PROMETHEUS_CONFIG].read_text()), files


def test_every_scrape_target_is_a_service_serving_metrics_on_that_port(services: dict[str, dict[str, Any]]) -> None:
    config, files = prometheus_config(services)
    recon = recon_services(services)
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]
    assert targets
    for target in targets:
        host, _, port = target.rpartition(":")
        assert host in services, f"Prometheus scrapes {target}, but there is no service {host!r}"
        assert host in recon, f"{host} runs no recon command that serves metrics"
        served = metrics_ports(recon[host])
        assert int(port) in served, f"Prometheus scrapes {target}, but {host} serves metrics on {served or 'no port'}"
    # The rule files the config names are mounted beside it.
    for rules in config.get("rule_files", []):
        mounted = files.get(PROMETHEUS_CONFIG.parent / rules)
        assert mounted is not None and mounted.exists(), f"{rules} is not mounted beside the scrape config"


def test_the_compose_prometheus_config_passes_promtool(services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    tool = shutil.which("promtool")
    if tool is None:
        unavailable("promtool is not installed (make test installs Debian's prometheus package)")
    _, files = prometheus_config(services)
    for target, source in files.items():  # laid out as the container sees them
        shutil.copy(source, tmp_path / target.name)
    done = subprocess.run(
        [tool, "check", "config", PROMETHEUS_CONFIG.name], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_worker_is_fed_by_a_producer_of_the_demo_month(services: dict[str, dict[str, Any]]) -> None:
    recon = recon_services(services)
    [worker] = [name for name, args in recon.items() if args.handler is cli.cmd_worker]
    producers = [name for name, args in recon.items() if args.handler is cli.cmd_produce]
    assert producers, "nothing produces input for the worker"
    [producer] = producers
    produce, work = recon[producer], recon[worker]
    assert (produce.broker, produce.topic_prefix) == (work.broker, work.topic_prefix), "not the worker's topics"
    assert services[producer].get("restart", "no") == "no", "a one-shot producer must not be restarted"
    # Its input is the month a one-shot `recon generate` wrote, into the same volume, and finished first.
    [generator] = [name for name, args in recon.items() if args.handler is cli.cmd_generate]
    month = PurePosixPath(recon[generator].out)
    volume_of = {target: source for source, target, _ in mounts(services[producer])}
    assert PurePosixPath(produce.input) in volume_of, "the producer does not mount its input folder"
    assert volume_of[PurePosixPath(produce.input)] == {t: s for s, t, _ in mounts(services[generator])}[month]
    depends = services[producer]["depends_on"]
    assert depends[generator]["condition"] == "service_completed_successfully"
    broker_host = produce.broker.split(":")[0]
    assert depends[broker_host]["condition"] == "service_healthy"


def written_paths(args: argparse.Namespace) -> list[PurePosixPath]:
    """What a parsed `recon` command writes: its state and outputs."""
    paths = [getattr(args, name, None) for name in ("data_dir", "state_dir", "out", "keep")]
    if args.handler in (cli.cmd_ingest, cli.cmd_pain001):  # --out is a file: its folder is written
        paths = [path.parent if path is not None else None for path in paths]
    return [PurePosixPath(path) for path in paths if path is not None]


def dockerfile() -> tuple[str, list[str]]:
    """The image's user and its RUN lines."""
    lines = (COMPOSE_DIR / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    return (users[-1] if users else "root"), [line[4:] for line in lines if line.startswith("RUN ")]


def made_writable(path: PurePosixPath, user: str, runs: list[str]) -> bool:
    """Whether a RUN line makes `path` (or a folder above it, recursively) and gives it to `user`."""
    owners = NOBODY if user in NOBODY else {user}
    made = chowned = False
    for run in runs:
        for step in re.split(r"&&|;", run):
            words = step.split()
            if words[:1] == ["mkdir"]:
                made |= str(path) in words
            if words[:1] == ["chown"]:
                recursive = "-R" in words
                rest = [word for word in words[1:] if not word.startswith("-")]
                if rest and rest[0].split(":")[0] in owners:
                    for folder in map(PurePosixPath, rest[1:]):
                        chowned |= folder == path or (recursive and folder in path.parents)
    return made and chowned


def test_every_path_a_reconstream_service_writes_is_a_named_volume_its_user_can_write(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    user, runs = dockerfile()
    assert user != "root", "the image runs as root"
    recon = recon_services(services)
    assert any(args.handler is cli.cmd_worker for args in recon.values())
    for name, args in recon.items():
        for path in written_paths(args):
            assert path.is_absolute(), f"{name} writes {path}, relative to the image's root-owned /app"
            volume = [
                (source, target, ro) for source, target, ro in mounts(services[name]) if path.is_relative_to(target)
            ]
            assert volume, f"{name} writes {path}, which is no volume: lost with the container"
            source, target, read_only = volume[0]
            assert not read_only, f"{name} writes {path}, mounted read-only"
            assert source in (compose.get("volumes") or {}), f"{name}: {source} is not a named volume"
            # A new named volume takes the owner of the image's folder it is mounted on.
            assert made_writable(target, user, runs), f"the image does not make {target} writable for {user}"


def test_no_admin_password_is_written_in_the_file(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE.read_text()
    [grafana] = [s for s in services.values() if str(s.get("image", "")).startswith("grafana/")]
    environment = grafana.get("environment", {})
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    password_file = PurePosixPath(environment["GF_SECURITY_ADMIN_PASSWORD__FILE"])
    assert password_file.parent == PurePosixPath("/run/secrets")
    secret = password_file.name
    assert secret in grafana.get("secrets", [])
    source = compose["secrets"][secret]
    # The secret's file comes from a variable the operator must set: `${VAR:?message}`, no default.
    assert set(source) == {"file"} and re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", source["file"]), source
    for service in services.values():
        env = service.get("environment", {})
        pairs = env.items() if isinstance(env, dict) else (item.partition("=")[::2] for item in env)
        for key, value in pairs:
            if re.search(r"PASSWORD|SECRET", key) and not key.endswith("__FILE"):
                pytest.fail(f"{key} is set in the file ({value!r})")
    # No `${...PASSWORD...:-default}` or `-default` anywhere, and no admin/admin left in the comments.
    assert not re.search(r"\$\{[^}]*PASSWORD[^}]*:?-", text)
    assert not re.search(r"admin\s*/\s*admin", text)
