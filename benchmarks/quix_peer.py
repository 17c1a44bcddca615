"""A peer on the same topics: a Quix Streams application with one state write and one output per record,
exactly-once, in records per CPU-second, beside the yardsticks of benchmarks/kafka.py measured in the same run.

- The month is produced once onto a local broker with `recon produce` (kafka.py's produce()).
- consume_only: kafka.py's bare confluent-kafka consumer reading and JSON-parsing every input record.
- quixstreams: one StreamingDataFrame per input topic; per record a JSON parse attempt (garbage lines
  included), one write of a per-key count into Quix's RocksDB state (keyed by the record key, the company
  code) and one record to `{prefix}.quix-out`; `processing_guarantee="exactly-once"`, Quix's default commit
  interval. It runs in its own virtualenv (benchmarks/.data/quix-venv, made on first use: quixstreams pins a
  confluent-kafka and a pydantic older than the project's), as a child process of this script, and stops
  when it has processed as many records as the input topics hold (their high watermarks: the input
  producer is idempotent, not transactional, so no offset is a control marker). Its CPU, every thread of
  the process: over `app.run()` (consumer group join, state and changelog set-up, processing, the final
  transaction commit), and the whole process from exec (what kafka.py counts for a worker).
- worker (unless --no-worker): kafka.py's throughput() with one reconstream worker on the same month, with
  its own produce, consume-only and embedded-engine yardsticks; a few minutes.

    .venv/bin/python benchmarks/quix_peer.py [--invoices 20000] [--no-worker]   # broker: $KAFKA_BOOTSTRAP or started
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
QUIX_VERSION = "3.28.1"
# Only a safety net: the app stops on the record count; this ends it if the count were never reached.
IDLE_TIMEOUT_S = 30.0


def input_records(bootstrap: str, topics: list[str]) -> int:
    """Records on the input topics: high minus low watermark of every partition. No offset in between is a
    transactional control marker, since `recon produce` is idempotent but not transactional."""
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}"})
    try:
        total = 0
        for topic in topics:
            for number in client.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = client.get_watermark_offsets(TopicPartition(topic, number), timeout=10)
                total += high - low
        return total
    finally:
        client.close()


def committed_outputs(bootstrap: str, topic: str) -> int:
    """Records a read_committed consumer reads from `topic` to its end: the Quix app's transactions did commit."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.subscribe([topic])
        partitions = len(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        at_end: set[int | None] = set()  # an end-of-partition event names its partition
        records = 0
        while len(at_end) < partitions:
            for message in consumer.consume(5000, 1.0):
                error = message.error()
                if error is None:
                    records += 1
                elif error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
        return records
    finally:
        consumer.close()


def quix_python(venv: Path) -> Path:
    """The python of a virtualenv holding quixstreams, made on first use: its pins conflict with the project's."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", f"import quixstreams; assert quixstreams.__version__ == {QUIX_VERSION!r}"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"quixstreams=={QUIX_VERSION}"], check=True)
    subprocess.run(check, check=True)
    return python


def run_quix(
    python: Path, bootstrap: str, prefix: str, topics: list[str], expect: int, scratch: Path
) -> dict[str, Any]:
    """This file's --quix-app mode in the Quix venv; its figures, plus the CPU of the whole process."""
    command = [str(python), str(Path(__file__).resolve()), "--quix-app"]
    command += ["--bootstrap", bootstrap, "--prefix", prefix, "--topics", ",".join(topics), "--expect", str(expect)]
    command += ["--state-dir", str(scratch / f"{prefix}-quix-state")]
    with (scratch / f"{prefix}-quix.log").open("wb") as log:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)
        out = child.stdout.read() if child.stdout else b""
        # wait4, not wait: its rusage is the child's own, every thread, interpreter start and imports included.
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"the Quix app exited with {child.returncode}: see {scratch / f'{prefix}-quix.log'}")
    figures = json.loads(out.decode().strip().splitlines()[-1])
    process_cpu = usage.ru_utime + usage.ru_stime
    return figures | {
        "process_cpu_seconds": process_cpu,
        "process_records_per_cpu_s": figures["records"] / process_cpu,
    }


class Step:
    """The per-record work of the Quix app, and when it saw its first and its last record."""

    def __init__(self) -> None:
        import orjson  # the Quix venv has it: quixstreams depends on it

        self.orjson = orjson
        self.records = 0
        self.first = self.last = 0.0
        self.first_cpu = 0.0

    def __call__(self, value: bytes, state: Any) -> bytes:
        self.last = time.perf_counter()
        if not self.first:
            self.first, self.first_cpu = self.last, time.process_time()
        self.records += 1
        with contextlib.suppress(self.orjson.JSONDecodeError):  # planted garbage costs a parse attempt too
            self.orjson.loads(value)
        seen = state.get("seen", 0) + 1
        state.set("seen", seen)  # the one state write
        return self.orjson.dumps({"seen": seen})  # the one output


def quix_app(bootstrap: str, prefix: str, topics: list[str], expect: int, state_dir: Path) -> dict[str, Any]:
    """Runs in the Quix venv: process `expect` records of the input topics, then stop."""
    import quixstreams
    from quixstreams import Application

    app = Application(
        broker_address=bootstrap,
        consumer_group=f"quix-peer-{prefix}",
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        state_dir=state_dir,
        loglevel="WARNING",  # its INFO lines would be measured too
    )
    # Bytes in: garbage lines must reach the step (a JSON deserializer raises on them). Bytes out: the step
    # serializes with orjson itself, so Quix's serializer choice is not what is compared.
    output = app.topic(f"{prefix}.quix-out", value_serializer="bytes")
    step = Step()
    for topic in topics:
        # One dataframe per topic, not concat(): concatenating topics turns on Quix's time alignment, a
        # buffering the reconstream worker does not do. State is per topic, keyed by the record key.
        app.dataframe(app.topic(topic, value_deserializer="bytes")).apply(step, stateful=True).to_topic(output)
    cpu = time.process_time()
    started = time.perf_counter()
    # count: the number of outputs, one per record; the run ends on the last record, no idle wait counted.
    app.run(count=expect, timeout=IDLE_TIMEOUT_S, collect=False)
    cpu_end, run_end = time.process_time(), time.perf_counter()
    cpu = cpu_end - cpu
    records = step.records
    seconds = step.last - step.first  # first to last record, as kafka.py's consume_only times its reads
    return {
        "version": quixstreams.__version__,
        "processing_guarantee": "exactly-once",
        "commit_interval_s": app.config.commit_interval,
        "records": records,
        "stopped_by": "count" if records >= expect else "idle timeout",
        "seconds": seconds,
        "records_per_s": records / seconds if seconds else 0.0,
        "run_seconds": run_end - started,
        "cpu_seconds": cpu,
        "records_per_cpu_s": records / cpu if cpu else 0.0,
        "cpu_seconds_from_first_record": cpu_end - step.first_cpu,
    }


def ratios(quix: dict[str, Any], consume: dict[str, Any], worker: dict[str, Any] | None) -> dict[str, float]:
    found = {"quix_over_consume_only_per_cpu_s": quix["records_per_cpu_s"] / consume["records_per_cpu_s"]}
    if worker is not None:
        # Both whole processes: kafka.py counts a worker's CPU from exec, start-up and recovery included.
        found["worker_over_quix_per_cpu_s"] = worker["records_per_cpu_s"] / quix["process_records_per_cpu_s"]
    return found


def measure(args: argparse.Namespace) -> dict[str, Any]:
    # Imported here, not at the top: the Quix child runs this file in its venv, which has none of the project.
    from kafka import BROKER_SH, consume_only, input_topics, produce, scenario, start_broker, throughput
    from machine import machine

    python = quix_python(args.data_dir / "quix-venv")
    input_dir = scenario(args.invoices, args.seed, args.data_dir)
    bootstrap, broker_data = start_broker()
    scratch = args.data_dir / f"quix-peer-{uuid.uuid4().hex[:6]}"
    scratch.mkdir(parents=True)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    try:
        produce_s = produce(input_dir, bootstrap, prefix)
        topics = input_topics(prefix)
        expect = input_records(bootstrap, topics)
        consume = consume_only(bootstrap, prefix)
        quix = run_quix(python, bootstrap, prefix, topics, expect, scratch)
        if quix["records"] != expect:
            raise RuntimeError(f"the Quix app processed {quix['records']:,} of {expect:,} records")
        quix["outputs_committed"] = committed_outputs(bootstrap, f"{prefix}.quix-out")
        worker = None if args.no_worker else throughput(input_dir, bootstrap, scratch, 1)
    finally:
        if broker_data is not None:
            subprocess.run(["bash", str(BROKER_SH), "stop", "--data", broker_data], check=False)
    return {
        "benchmark": "Quix Streams peer, one state write and one output per record, exactly-once, local broker",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "scenario": {"invoices": args.invoices, "seed": args.seed},
        "input_records": expect,
        "produce_seconds": produce_s,
        "quixstreams": quix,
        "consume_only": consume,
        "worker": worker,
        "ratios": ratios(quix, consume, worker),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=RESULTS / "quix_peer.json")
    parser.add_argument("--no-worker", action="store_true", help="skip the reconstream worker run")
    # The child mode, run by run_quix() in the Quix venv.
    parser.add_argument("--quix-app", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--topics", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quix_app:
        topics = args.topics.split(",")
        print(json.dumps(quix_app(args.bootstrap, args.prefix, topics, args.expect, args.state_dir)))
        return 0
    result = measure(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
