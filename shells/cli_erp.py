"""`recon erp-sim` (a simulated ERP on loopback) and `recon post enqueue | drain | status | replay | outcomes`
(the posting queue, worked apart from a run: what a separate posting process or an operator does)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .erp.queue import PostingQueue
    from .erp.service import Lane, PostingSensor

KINDS = ("sap", "oracle", "d365", "netsuite", "infor")


def add_erp_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("erp-sim", help="serve a simulated ERP API on loopback, with faults on request")
    sim.add_argument("--kind", choices=KINDS, required=True)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    sim.add_argument(
        "--credentials-out", type=Path, required=True, help="where to write the adapter's credentials (mode 0600)"
    )
    sim.add_argument("--throttle-rate", type=float, default=0.0, help="share of writes answered 429")
    sim.add_argument("--retry-after", type=float, default=1.0, help="seconds a 429 asks to wait")
    sim.add_argument("--server-error-rate", type=float, default=0.0, help="share of writes answered 500")
    sim.add_argument("--slow-rate", type=float, default=0.0, help="share of writes committed, answered late")
    sim.add_argument("--stall-rate", type=float, default=0.0, help="share of writes not committed, answered late")
    sim.add_argument("--slow-seconds", type=float, default=0.0)
    sim.add_argument("--drop-after-commit-rate", type=float, default=0.0, help="committed, connection closed")
    sim.add_argument("--concurrency-limit", type=int, help="requests in flight beyond it answered 429")
    sim.add_argument("--blocked-supplier", action="append", default=[], help="refused for posting (repeatable)")
    sim.add_argument("--closed-before", type=date.fromisoformat, help="documents dated before it: period closed")
    sim.add_argument("--seed", type=int, default=0)
    sim.set_defaults(handler=cmd_erp_sim)

    post = commands.add_parser("post", help="the ERP posting queue: enqueue, drain, status, replay, outcomes")
    actions = post.add_subparsers(required=True, metavar="ACTION")
    enqueue = actions.add_parser("enqueue", help="put a run's posting_requests.jsonl in the queue")
    enqueue.add_argument("requests", type=Path)
    enqueue.add_argument("--queue", type=Path, required=True)
    enqueue.set_defaults(handler=cmd_enqueue)
    drain = actions.add_parser("drain", help="post what is owed to the configured ERPs until none is left")
    drain.add_argument("--queue", type=Path, required=True)
    drain.add_argument("--max-seconds", type=float, help="stop after this long (default: until drained)")
    drain.add_argument("--metrics-port", type=int, metavar="PORT", help="serve the posting metrics on this port")
    drain.set_defaults(handler=cmd_drain)
    status = actions.add_parser("status", help="postings by ERP and state")
    status.add_argument("--queue", type=Path, required=True)
    status.set_defaults(handler=cmd_status)
    replay = actions.add_parser("replay", help="rejected or timed-out postings back in the queue")
    replay.add_argument("--queue", type=Path, required=True)
    replay.add_argument("--erp", help="only those of this ERP")
    replay.add_argument("--state", action="append", choices=("rejected", "timed_out"), help="default: both")
    replay.set_defaults(handler=cmd_replay)
    kafka = actions.add_parser(
        "kafka", help="post the Kafka workers' posting requests; send the verdicts to the invoice_status topic"
    )
    kafka.add_argument("--queue", type=Path, required=True)
    kafka.add_argument("--broker", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP)")
    kafka.add_argument("--topic-prefix", help="topic name prefix (default: $RECON_TOPIC_PREFIX or recon)")
    kafka.add_argument("--idle-exit", type=float, metavar="SECONDS", help="stop once idle and drained this long")
    kafka.add_argument("--metrics-port", type=int, metavar="PORT", help="serve the posting metrics on this port")
    kafka.set_defaults(handler=cmd_kafka)
    outcomes = actions.add_parser("outcomes", help="the verdicts as invoice.status_changed events (JSONL)")
    outcomes.add_argument("--queue", type=Path, required=True)
    outcomes.add_argument("--after", type=int, default=0, help="only verdicts numbered after this")
    outcomes.set_defaults(handler=cmd_outcomes)


def cmd_erp_sim(args: argparse.Namespace) -> int:
    from .erp.local import start_local
    from .erp.simulator import Faults, Rules

    faults = Faults(
        throttle_rate=args.throttle_rate,
        retry_after_seconds=args.retry_after,
        server_error_rate=args.server_error_rate,
        slow_rate=args.slow_rate,
        stall_rate=args.stall_rate,
        slow_seconds=args.slow_seconds,
        drop_after_commit_rate=args.drop_after_commit_rate,
        concurrency_limit=args.concurrency_limit,
        seed=args.seed,
    )
    rules = Rules(frozenset(args.blocked_supplier), args.closed_before)
    local = start_local(args.kind, faults, rules, args.host, args.port)
    credentials = local.write_credentials(args.credentials_out)
    started = {"kind": args.kind, "url": local.url, "credentials_file": str(credentials), "options": local.options}
    print(json.dumps(started))
    sys.stdout.flush()
    stop = threading.Event()
    for received in (signal.SIGTERM, signal.SIGINT):
        signal.signal(received, lambda *_: stop.set())
    stop.wait()
    local.stop()
    return 0


def _queue(path: Path, create: bool = False) -> PostingQueue | None:
    from .erp.queue import PostingQueue

    if not create and not path.exists():
        print(f"recon post: no posting queue at {path}", file=sys.stderr)
        return None
    return PostingQueue(path)


def cmd_enqueue(args: argparse.Namespace) -> int:
    import time

    from reconstream.models.outputs import PostingRequest

    from .cli import config_of
    from .sinks.posting import new_posting

    routes = config_of(args).erp_routes()
    queue = _queue(args.queue, create=True)
    if queue is None:
        return 2
    try:
        rows = []
        with args.requests.open("rb") as lines:
            for line in lines:
                if line.strip():
                    rows.append(new_posting(PostingRequest.model_validate_json(line), line.rstrip(b"\n"), routes))
        added = queue.enqueue(rows, time.time())
    finally:
        queue.close()
    unrouted = sum(1 for row in rows if row.erp is None)
    print(f"{added:,} postings queued ({len(rows) - added:,} already there); {unrouted:,} without an ERP configured")
    return 0


def _log_to_stderr() -> None:
    """What the service logs (an adapter's surprise, a bridge's unreadable record) goes to stderr, as the
    worker's does; no credential is ever in it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is noise at month-end volume


def _sensor(port: int | None, lanes: Mapping[str, Lane], queue: PostingQueue) -> PostingSensor | None:
    """With a port, the posting metrics served there (every interface: Prometheus scrapes from another host,
    as the worker's --metrics-port); bound before any posting starts, so a taken port stops the command."""
    if port is None:
        return None
    from prometheus_client import CollectorRegistry, start_http_server

    from .erp.metrics import PostingMetrics

    registry = CollectorRegistry()
    sensor = PostingMetrics(registry, lanes, queue)
    start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104
    logging.getLogger(__name__).info("posting metrics on :%d/metrics", port)
    return sensor


def cmd_drain(args: argparse.Namespace) -> int:
    from .cli import config_of
    from .erp.registry import lanes_of
    from .erp.service import PostingService

    config = config_of(args)
    _log_to_stderr()
    queue = _queue(args.queue)
    if queue is None:
        return 2
    lanes = lanes_of(config)
    service = PostingService(queue, lanes, _sensor(args.metrics_port, lanes, queue))
    try:
        queue.route(config.erp_routes())
        service.start()
        drained = service.wait_drained(args.max_seconds)
    finally:
        service.stop()
        for lane in service.lanes.values():
            lane.adapter.close()
        counts = queue.counts()
        queue.close()
    _print_counts(counts)
    return 0 if drained else 1


def cmd_kafka(args: argparse.Namespace) -> int:
    from .cli import _broker, _kafka_config_of
    from .erp.kafka_bridge import KafkaPostingBridge
    from .erp.registry import lanes_of
    from .erp.service import PostingService
    from .kafka.topics import Topics

    config = _kafka_config_of(args)
    _log_to_stderr()
    queue = _queue(args.queue, create=True)
    if queue is None:
        return 2
    lanes = lanes_of(config)
    service = PostingService(queue, lanes, _sensor(args.metrics_port, lanes, queue))
    stop = threading.Event()
    for received in (signal.SIGTERM, signal.SIGINT):
        signal.signal(received, lambda *_: stop.set())
    bridge = None
    try:
        queue.route(config.erp_routes())
        service.start()
        bridge = KafkaPostingBridge(
            _broker(args.broker), Topics.from_env(args.topic_prefix), queue, service, config.erp_routes()
        )
        bridge.run(stop, args.idle_exit)
    finally:
        if bridge is not None:
            bridge.close()
        service.stop()
        for lane in service.lanes.values():
            lane.adapter.close()
        counts = queue.counts()
        queue.close()
    _print_counts(counts)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    queue = _queue(args.queue)
    if queue is None:
        return 2
    try:
        counts = queue.counts()
    finally:
        queue.close()
    _print_counts(counts)
    return 0


def _print_counts(counts: dict[tuple[str, str], int]) -> None:
    for erp in sorted({erp for erp, _ in counts}):
        states = ", ".join(f"{state} {count:,}" for (name, state), count in sorted(counts.items()) if name == erp)
        print(f"{erp or '(no ERP configured)'}: {states}")


def cmd_replay(args: argparse.Namespace) -> int:
    queue = _queue(args.queue)
    if queue is None:
        return 2
    try:
        count = queue.replay(tuple(args.state or ("rejected", "timed_out")), args.erp)
    finally:
        queue.close()
    print(f"{count:,} postings queued again; `recon post drain` posts them (a timed-out one is looked up first)")
    return 0


def cmd_outcomes(args: argparse.Namespace) -> int:
    queue = _queue(args.queue)
    if queue is None:
        return 2
    try:
        seq = args.after
        while batch := queue.verdicts(seq):
            for verdict in batch:
                sys.stdout.buffer.write(verdict.event + b"\n")
            seq = batch[-1].seq
    finally:
        queue.close()
    return 0
