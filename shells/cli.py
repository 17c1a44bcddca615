"""`recon`: the command line of both shells."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from reconstream.models import limits
from reconstream.models.events import event_json_schemas
from reconstream.models.outputs import TAIL_NAMES
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from . import collector, embedded
from .audit import anchors_path
from .audit_verify import verify_audit
from .auth import AuthError
from .cases import DatabaseConfigError
from .cli_erp import add_erp_commands
from .cli_keys import add_keys_commands
from .cli_serve import ServeRefused, add_serve_commands, add_serve_option, serving
from .cli_webhooks import OUTBOX_FILE, add_webhook_commands, targets_of
from .config import ENV_VAR, EXAMPLE, Config, ConfigError, config_path, effective, load_config
from .inputs import total_bytes
from .metrics import RunMetrics
from .secrets import SecretError
from .sinks import Sink
from .sinks.base import ResumeRefused

if TYPE_CHECKING:
    from .kafka.worker import WorkerConfig  # imported when a worker starts: confluent-kafka loads with it


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:  # the `recon` process itself, not a caller inside another program
        collector.tune()
    try:
        return int(args.handler(args) or 0)
    except (ConfigError, DatabaseConfigError, AuthError, SecretError) as exc:
        print(f"recon: config: {exc}", file=sys.stderr)
        return 2
    except (ServeRefused, ResumeRefused) as exc:
        print(f"recon: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # A full disk, a busy port, a cluster that will not serve: one line and an exit code of its own
        # (shells/failures.py, docs/operations.md); anything else is a defect and keeps its traceback.
        from .failures import explain

        failure = explain(exc, args)
        if failure is None:
            raise
        command = next(iter(sys.argv[1:] if argv is None else argv), "")
        print(f"recon {command}: {failure.message}", file=sys.stderr)
        return failure.code


def config_of(args: argparse.Namespace) -> Config:
    """The effective configuration of this command: `--config`, else $RECON_CONFIG, else the defaults.

    Its `[limits]` bound everything the process reads from here on (models/limits.py)."""
    config = load_config(getattr(args, "config", None))
    limits.configure(config.limits.bounds())
    return config


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` on every command, nested ones too: one file read by all of them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_config_option(sub)
            return
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help=f"configuration file, TOML or YAML (default: ${ENV_VAR})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recon", description="reconstream: streaming finance reconciliation")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="reconcile a folder of input streams (embedded engine)")
    run.add_argument("--input", type=Path, required=True, help="folder with one JSONL file per stream")
    run.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    run.add_argument("--state-dir", type=Path, help="persistent state (rocksdict); a rerun resumes from it")
    run.add_argument("--checkpoint-every", type=int, default=5000, metavar="N", help="input lines per checkpoint")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    add_serve_option(run)
    run.set_defaults(handler=cmd_run)

    generate = commands.add_parser("generate", help="write a masked synthetic month-end scenario")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--invoices", type=int, default=20000)
    generate.add_argument("--seed", type=int, default=11)
    generate.set_defaults(handler=cmd_generate)

    demo = commands.add_parser("demo", help="generate a month-end, reconcile it, show what was caught")
    demo.add_argument("--invoices", type=int, default=20000)
    demo.add_argument("--seed", type=int, default=11)
    demo.add_argument("--json", action="store_true", help="print one JSON summary object as the last line")
    demo.add_argument("--keep", type=Path, help="keep the generated input and the outputs in this folder")
    add_serve_option(demo)
    demo.set_defaults(handler=cmd_demo)

    schema = commands.add_parser("schema", help="print the JSON Schema of every event type")
    schema.add_argument("--event-type", help="only this event type, e.g. invoice.captured")
    schema.set_defaults(handler=cmd_schema)

    add_kafka_commands(commands)
    add_format_commands(commands)
    add_serve_commands(commands)
    add_keys_commands(commands)
    add_webhook_commands(commands)
    add_erp_commands(commands)

    audit = commands.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify", help="check DIR/audit.jsonl: its chain, its key ([audit] in --config) and its anchors"
    )
    verify.add_argument("dir", type=Path)
    verify.add_argument(
        "--anchors",
        type=Path,
        metavar="FILE",
        help="anchor file (default: [audit] anchors, else DIR.audit-anchors.jsonl beside DIR)",
    )
    verify.set_defaults(handler=cmd_audit_verify)
    on_kafka = audit_commands.add_parser(
        "verify-kafka", help="check every ledger partition's chain on the audit topic against its changelog head"
    )
    on_kafka.add_argument("--broker", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP)")
    on_kafka.add_argument("--topic-prefix", help="topic name prefix (default: $RECON_TOPIC_PREFIX or recon)")
    on_kafka.set_defaults(handler=cmd_audit_verify_kafka)

    config = commands.add_parser("config", help="the configuration file: check one, or write a commented example")
    config_commands = config.add_subparsers(required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="validate a config file and print the effective settings")
    check.set_defaults(handler=cmd_config_check)
    example = config_commands.add_parser("example", help="write a commented example with every default")
    example.add_argument("--out", type=Path, help="write here instead of stdout")
    example.set_defaults(handler=cmd_config_example)
    _add_config_option(parser)
    return parser


def _broker(value: str | None) -> str:
    broker = value or os.environ.get("KAFKA_BOOTSTRAP")
    if not broker:
        raise SystemExit("recon: no broker: pass --broker HOST:PORT or set KAFKA_BOOTSTRAP")
    return broker


def add_kafka_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker_help = "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP)"
    worker = commands.add_parser("worker", help="run a reconciliation worker on Apache Kafka")
    worker.add_argument("--broker", help=broker_help)
    worker.add_argument("--data-dir", type=Path, default=Path("worker-data"), help="local RocksDB state")
    worker.add_argument("--worker-id", default=socket.gethostname(), help="stable across restarts (fences zombies)")
    worker.add_argument("--partitions", type=int, default=6, help="partitions per topic, when creating topics")
    worker.add_argument("--idle-exit", type=float, metavar="SECONDS", help="stop once input is done and idle this long")
    worker.add_argument("--topic-prefix", help="topic name prefix (default: $RECON_TOPIC_PREFIX or recon)")
    worker.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port")
    worker.set_defaults(handler=cmd_worker)

    produce = commands.add_parser("produce", help="send a folder of input streams to the input topics")
    produce.add_argument("--input", type=Path, required=True, help="folder with one JSONL file per stream")
    produce.add_argument("--broker", help=broker_help)
    produce.add_argument("--partitions", type=int, default=6, help="partitions per topic, when creating topics")
    produce.add_argument("--topic-prefix", help="topic name prefix (default: $RECON_TOPIC_PREFIX or recon)")
    produce.add_argument("--rate", type=float, metavar="LINES_PER_S", help="pace the input (default: full speed)")
    produce.set_defaults(handler=cmd_produce)

    project = commands.add_parser(
        "project",
        help="project the workers' exceptions into the case store and their outputs into a run folder "
        "(the pages and API read both); send manual matches back to the workers",
    )
    project.add_argument("--broker", help=broker_help)
    project.add_argument("--topic-prefix", help="topic name prefix (default: $RECON_TOPIC_PREFIX or recon)")
    project.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="the run folder to write (outputs, cash positions) and of the default SQLite case store",
    )
    project.add_argument("--idle-exit", type=float, metavar="SECONDS", help="stop after this long without a record")
    project.add_argument("--batch", type=int, default=2000, help="records per read; a partition's share is one commit")
    project.set_defaults(handler=cmd_project)
    tail = commands.add_parser("tail", help="follow an output topic")
    outputs = list(TAIL_NAMES)
    tail.add_argument("what", choices=outputs)
    tail.add_argument("--broker", help=broker_help)
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record, not the newest")
    tail.add_argument("--idle-exit", type=float, metavar="SECONDS", help="stop after this long without a record")
    tail.add_argument("--topic-prefix", help="topic name prefix (default: $RECON_TOPIC_PREFIX or recon)")
    tail.set_defaults(handler=cmd_tail)


def add_format_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .formats import CHOICES

    ingest = commands.add_parser("ingest", help="convert bank and AP files to canonical JSONL events")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="FILE", help="files, or folders (one level deep)")
    ingest.add_argument("--format", default="auto", choices=CHOICES, help="detected from the content when auto")
    ingest.add_argument("--out", type=Path, help="write here instead of stdout")
    ingest.set_defaults(handler=cmd_ingest)

    pain001 = commands.add_parser("pain001", help="write an ISO 20022 pain.001 for a released payment batch")
    pain001.add_argument("--batch", type=Path, required=True, help="a payment_batch.released event (JSON/JSONL)")
    pain001.add_argument("--version", default="03", choices=["03", "09"], help="pain.001.001.03 or .09")
    pain001.add_argument("--out", type=Path, help="write here instead of stdout")
    pain001.set_defaults(handler=cmd_pain001)


def cmd_ingest(args: argparse.Namespace) -> int:
    from .formats.cli import cmd_ingest as ingest

    return ingest(args.paths, args.format, args.out, config_of(args).ingest_options())


def cmd_pain001(args: argparse.Namespace) -> int:
    from .formats.cli import cmd_pain001 as pain001

    return pain001(args.batch, args.version, args.out)


def cmd_worker(args: argparse.Namespace) -> int:
    from .kafka.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    applied = run_worker(worker_config(args), args.idle_exit)
    logging.getLogger("reconstream.worker").info("stopped after applying %d records", applied)
    return 0


def worker_config(args: argparse.Namespace) -> WorkerConfig:
    """What `recon worker` runs with: its flags, and the config file's engine, `[kafka]` and `[audit]` settings."""
    from .kafka.topics import Topics
    from .kafka.worker import WorkerConfig

    effective_config = _kafka_config_of(args)
    return WorkerConfig(
        settings=effective_config.engine_settings(),
        max_outage=effective_config.kafka.max_outage.total_seconds(),
        max_idle=effective_config.kafka.max_idle.total_seconds(),
        audit_key=effective_config.audit_key(),
        bootstrap=_broker(args.broker),
        data_dir=args.data_dir,
        worker_id=args.worker_id,
        topics=Topics.from_env(args.topic_prefix),
        partitions=args.partitions,
        metrics_port=args.metrics_port,
    )


def cmd_produce(args: argparse.Namespace) -> int:
    from .kafka.producer import produce
    from .kafka.topics import Topics

    if not args.input.is_dir():
        print(f"recon produce: --input {args.input} is not a folder", file=sys.stderr)
        return 2
    config = _kafka_config_of(args)
    summary = produce(
        args.input,
        _broker(args.broker),
        Topics.from_env(args.topic_prefix),
        args.partitions,
        rate=args.rate,
        house=config.house_accounts(),
        ingest_options=config.ingest_options(),
    )
    print(
        f"produced {summary.lines:,} input lines as {summary.messages:,} messages "
        f"({summary.ticks:,} watermark ticks) over {summary.partitions} partitions"
    )
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from .cases.store import CaseStore
    from .kafka.projector import project_cases
    from .kafka.topics import Topics

    url = _kafka_config_of(args).case_store_url(args.out)
    if url is None:
        print("recon project: [database] enabled = false in the config: nothing to project into", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    store = CaseStore.open(url)
    try:
        topics = Topics.from_env(args.topic_prefix)
        summary = project_cases(_broker(args.broker), topics, store, args.idle_exit, args.batch, folder=args.out)
    finally:
        store.close()
    print(
        f"read {summary.records:,} exception records, applied {summary.applied:,}"
        + (f", {summary.unreadable:,} unreadable (named above)" if summary.unreadable else "")
        + (f"; sent {summary.sent:,} manual matches to the engine" if summary.sent else "")
        + f"; wrote {summary.written:,} output records to {args.out}"
    )
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    from .kafka.tail import tail
    from .kafka.topics import Topics

    _kafka_config_of(args)
    tail(_broker(args.broker), Topics.from_env(args.topic_prefix), args.what, args.from_beginning, args.idle_exit)
    return 0


def _kafka_config_of(args: argparse.Namespace) -> Config:
    """The config of a command that talks to the cluster: its `[kafka]` security settings go to every client."""
    from .kafka import clients

    config = config_of(args)
    clients.use(clients.properties(config.kafka))
    return config


def _run_with_progress(
    input_dir: Path,
    out_dir: Path,
    state_dir: Path | None,
    checkpoint_every: int,
    console: Console,
    show: bool,
    metrics: RunMetrics | None = None,
    config: Config | None = None,
) -> embedded.RunSummary:
    config = config or Config()
    with run_extras(config, out_dir, metrics) as extras:
        return _run_with_sinks(input_dir, out_dir, state_dir, checkpoint_every, console, show, metrics, config, extras)


@dataclass(frozen=True)
class RunExtras:
    """What a run has beside its input and output files, as the config asks."""

    sinks: Callable[[str], list[Sink]] | None = None  # the case store's and the webhooks', made with the run id
    cases: embedded.CaseFeed | None = None  # the case store, whose manual matches and actions the run reads
    posting: embedded.PostingFeed | None = None  # ERP posting beside the run, whose verdicts the run reads


@contextmanager
def run_extras(config: Config, out_dir: Path, metrics: RunMetrics | None = None) -> Iterator[RunExtras]:
    """What a run has beside its files, as the config asks: the case store (a sink, and a source of manual
    matches and people's actions) and webhooks. Closed (and the webhooks given `[delivery] drain_seconds`
    to go out) when the run ends."""
    url = config.case_store_url(out_dir)
    targets = targets_of(config) if config.webhooks else []
    if url is None and not targets and not config.erp:
        yield RunExtras()
        return
    with ExitStack() as stack:
        out_dir.mkdir(parents=True, exist_ok=True)
        made: list[Callable[[str], Sink]] = []
        store = None
        if url is not None:
            from .cases.store import CaseStore
            from .sinks.cases import CaseStoreSink

            store = CaseStore.open(url)
            stack.callback(store.close)
            made.append(lambda run_id: CaseStoreSink(store, f"run:{run_id}"))
        if targets:
            from .sinks.webhook import WebhookSink
            from .webhooks.delivery import Deliverer
            from .webhooks.outbox import Outbox
            from .webhooks.running import DeliveryThread

            outbox = Outbox(out_dir / OUTBOX_FILE)
            stack.callback(outbox.close)
            delivery = DeliveryThread(Deliverer(outbox, {t.name: t for t in targets})).start()
            stack.callback(delivery.finish, config.delivery.drain_seconds)
            made.append(lambda run_id: WebhookSink(outbox, targets))
        posting = None
        if config.erp:
            from .erp.registry import lanes_of
            from .erp.running import QUEUE_FILE, PostingBeside

            queue = config.posting.queue or out_dir / QUEUE_FILE
            settings = config.posting
            lanes = lanes_of(config)
            sensor = None
            if metrics is not None:  # observed only when someone looks (--serve)
                from .erp.metrics import PostingMetrics

                sensor = PostingMetrics(metrics.registry, lanes)
            posting = PostingBeside(
                queue,
                lanes,
                config.erp_routes(),
                settings.drain_seconds,
                settings.allowance,
                settings.hold_seconds,
                sensor,
            )
            if sensor is not None:
                sensor.attach(posting.queue)
            stack.callback(posting.close)
            posting.start()
            made.append(lambda run_id: posting.sink())
        yield RunExtras(lambda run_id: [make(run_id) for make in made], store, posting)


def _run_with_sinks(
    input_dir: Path,
    out_dir: Path,
    state_dir: Path | None,
    checkpoint_every: int,
    console: Console,
    show: bool,
    metrics: RunMetrics | None,
    config: Config,
    extras: RunExtras,
) -> embedded.RunSummary:
    settings, options = config.engine_settings(), config.ingest_options()

    def reconcile(progress: embedded.Progress | None) -> embedded.RunSummary:
        return embedded.run(
            input_dir,
            out_dir,
            state_dir,
            settings,
            checkpoint_every,
            progress,
            ingest_options=options,
            metrics=metrics,
            sinks=extras.sinks,
            cases=extras.cases,
            audit_key=config.audit_key(),
            anchors=config.audit.anchors,
            posting=extras.posting,
        )

    if not show:
        return reconcile(None)
    columns = (
        TextColumn("reconciling"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("run", total=total_bytes(input_dir), events=0)
        return reconcile(lambda events, done: bar.update(task, completed=done, events=events))


def cmd_run(args: argparse.Namespace) -> int:
    if not args.input.is_dir():
        print(f"recon run: --input {args.input} is not a folder", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    config = config_of(args)
    with serving(args.serve, args.out, args.input, config=config) as metrics:
        summary = _run_with_progress(
            args.input,
            args.out,
            args.state_dir,
            args.checkpoint_every,
            console,
            show=not args.quiet and console.is_terminal,
            metrics=metrics,
            config=config,
        )
        if not args.quiet:
            from .report import print_summary

            print_summary(summary, Console())
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from reconstream.synthetic import generate

    labels = generate(args.out, invoices=args.invoices, seed=args.seed)
    print(
        f"wrote {labels.events:,} events for {args.invoices:,} invoices to {args.out} "
        f"({sum(labels.counts.values()):,} planted anomalies, see labels.json)"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from reconstream.synthetic import Labels, generate, score

    from .erp.demo import demo_company_codes, demo_erps, posting_summary
    from .report import print_summary

    console = Console(stderr=args.json)
    config = config_of(args)
    # Unless the config names ERPs of its own, the demo posts through simulated ones, each in a process of its own.
    simulated = not config.erp
    with tempfile.TemporaryDirectory(prefix="recon-demo-") as scratch, ExitStack() as stack:
        base = args.keep or Path(scratch)
        input_dir, out_dir = base / "input", base / "out"
        console.print(f"generating a month-end of {args.invoices:,} invoices (seed {args.seed}) ...")
        posted_by_service = demo_company_codes() if simulated else frozenset()
        labels: Labels = generate(
            input_dir, invoices=args.invoices, seed=args.seed, posted_by_service=posted_by_service
        )
        if simulated:
            config = stack.enter_context(demo_erps(config, input_dir, Path(scratch)))
        # With --serve the pages and /metrics stay up after the summary, until Ctrl-C, over this month.
        with serving(args.serve, out_dir, input_dir, config=config) as metrics:
            summary = _run_with_progress(input_dir, out_dir, None, 5000, console, console.is_terminal, metrics, config)
            print_summary(summary, console)
            with (out_dir / "exceptions.jsonl").open("rb") as handle:
                result = score(labels, (orjson.loads(line) for line in handle))
            report_demo(console, summary, result, posting_summary(out_dir), args.json)
    return 0


def report_demo(
    console: Console,
    summary: embedded.RunSummary,
    result: dict[str, Any],
    postings: dict[str, dict[str, int]],
    as_json: bool,
) -> None:
    console.print(
        f"planted {sum(result['injected'].values()):,} anomalies: missed {result['missed']}, "
        f"false exceptions {result['false_exceptions']}"
    )
    for erp, states in postings.items():
        if not erp:
            unrouted = states.get("unrouted", 0)
            console.print(f"{unrouted:,} approved invoices of company codes with no ERP configured here")
            continue
        console.print(
            f"posted to {erp}: {states.get('posted', 0):,} booked, "
            f"{states.get('rejected', 0):,} refused, {states.get('timed_out', 0):,} without a verdict, "
            f"{states.get('retries', 0):,} retries, {states.get('throttled', 0):,} throttled"
        )
    console.print(
        "duplicate invoices caught, by how the copy differs: "
        + ", ".join(f"{kind} {n['caught']}/{n['planted']}" for kind, n in result["duplicate_variants"].items())
    )
    if as_json:
        print(
            orjson.dumps(
                {
                    "events": summary.events,
                    "seconds": round(summary.seconds, 3),
                    "injected": result["injected"],
                    "detected": result["detected"],
                    "missed": result["missed"],
                    "false_exceptions": result["false_exceptions"],
                    "duplicate_variants": result["duplicate_variants"],
                    "postings": postings,
                }
            ).decode(),
            flush=True,  # with --serve the process goes on serving: the line must not wait in a buffer
        )


def cmd_schema(args: argparse.Namespace) -> int:
    schemas = event_json_schemas()
    if args.event_type:
        if args.event_type not in schemas:
            print(f"recon schema: unknown event type {args.event_type!r}; one of {', '.join(schemas)}", file=sys.stderr)
            return 2
        schemas = {args.event_type: schemas[args.event_type]}
    print(orjson.dumps(schemas, option=orjson.OPT_INDENT_2).decode())
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    path = args.dir / "audit.jsonl"
    if not path.exists():
        print(f"recon audit verify: {path} does not exist", file=sys.stderr)
        return 2
    config = config_of(args)
    key = config.audit_key()
    verdict = verify_audit(path, key, args.anchors or anchors_path(args.dir, config.audit.anchors))
    for note in verdict.notes:
        print(f"note: {note}", file=sys.stderr)
    if verdict.problem is not None:
        where = f" at record {verdict.broken_at:,}" if verdict.broken_at else ""
        print(f"audit chain BROKEN{where}: {verdict.problem}")
        return 1
    if verdict.unverified_key_id is not None:
        print(f"audit chain NOT VERIFIED: {verdict.notes[0]}; name the key in [audit] key_env or key_file")
        return 3
    keyed = f", keyed ({key.key_id})" if key else ""
    print(f"audit chain intact: {verdict.checked:,} records{keyed}, {verdict.anchors_checked:,} anchors matched")
    return 0


def cmd_audit_verify_kafka(args: argparse.Namespace) -> int:
    from .kafka.audit_topic import verify_topic
    from .kafka.topics import Topics

    key = _kafka_config_of(args).audit_key()
    verdicts = verify_topic(_broker(args.broker), Topics.from_env(args.topic_prefix), key)
    broken = {n: v for n, v in verdicts.items() if v.problem is not None}
    for number, verdict in sorted(broken.items()):
        where = f" at record {verdict.broken_at:,}" if verdict.broken_at else ""
        print(f"audit chain of partition {number} BROKEN{where}: {verdict.problem}")
    if broken:
        return 1
    notes = {note for verdict in verdicts.values() for note in verdict.notes}
    for note in sorted(notes):
        print(f"note: {note}", file=sys.stderr)
    if any(verdict.unverified_key_id is not None for verdict in verdicts.values()):
        print("audit chains NOT VERIFIED: they are keyed; name the key in [audit] key_env or key_file")
        return 3
    total = sum(verdict.checked for verdict in verdicts.values())
    keyed = f", keyed ({key.key_id})" if key else ""
    print(f"audit chains intact: {total:,} records in {len(verdicts)} partitions{keyed}, each at its changelog head")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    config = config_of(args)  # a ConfigError names every bad key (main prints it, exit 2)
    version = config.engine_settings().policy_version  # what every match made under this file will record
    print(f"# {path or 'no config file: the defaults'}: valid, matching policy {version}", file=sys.stderr)
    print(orjson.dumps(effective(config), option=orjson.OPT_INDENT_2).decode())
    return 0


def cmd_config_example(args: argparse.Namespace) -> int:
    text = EXAMPLE.read_text(encoding="utf-8")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
