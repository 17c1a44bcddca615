"""End-to-end throughput and latency of the Kafka workers against a local broker, with one and two workers.

- throughput: the month is produced first, then the workers apply it; records/s between the first and the
  last record applied (from each worker's status.json), and records per CPU-second of the worker processes.
  The yardsticks, measured in the same run: a plain confluent-kafka consumer reading and JSON-parsing the
  same input topics, and the embedded engine on the same month, both per CPU-second as well.
- latency: the workers run first, the month is produced at a paced rate, and a read_committed consumer
  measures, for every exception and match, the time from its input's Kafka timestamp to the moment the
  output became readable (the worker's transaction committed). p50 and p99.

    .venv/bin/python benchmarks/kafka.py [--invoices 20000] [--rate LINES_PER_S]   # broker: $KAFKA_BOOTSTRAP or started
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
from confluent_kafka import Consumer, KafkaError
from machine import machine
from reconstream.shells.kafka.topics import Topics

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
RECON = [sys.executable, "-m", "reconstream.shells.cli"]
BROKER_SH = ROOT / "ops" / "kafka" / "broker.sh"
LATENCY_HEADER = "recon-input-ts-ms"


def input_topics(prefix: str) -> list[str]:
    """Every topic the workers consume, as the project names them: each input stream's, and the clock."""
    return list(Topics(prefix).streams())


def scenario(invoices: int, seed: int, data_dir: Path) -> Path:
    target = data_dir / f"month-end-{invoices}-{seed}"
    if not (target / "labels.json").exists():
        subprocess.run(
            [*RECON, "generate", "--out", str(target), "--invoices", str(invoices), "--seed", str(seed)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return target


def env_for(bootstrap: str, prefix: str) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "RECON_TOPIC_PREFIX": prefix}


def produce(input_dir: Path, bootstrap: str, prefix: str, rate: float | None = None) -> float:
    started = time.perf_counter()
    command = [*RECON, "produce", "--input", str(input_dir)] + (["--rate", str(rate)] if rate else [])
    subprocess.run(command, env=env_for(bootstrap, prefix), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def start_workers(bootstrap: str, prefix: str, scratch: Path, count: int, idle: float) -> list[tuple[Path, Any]]:
    workers = []
    for n in range(1, count + 1):
        data_dir = scratch / f"{prefix}-w{n}"
        command = [*RECON, "worker", "--data-dir", str(data_dir), "--worker-id", f"w{n}", "--idle-exit", str(idle)]
        log = (scratch / f"{prefix}-w{n}.log").open("wb")
        workers.append(
            (data_dir, subprocess.Popen(command, env=env_for(bootstrap, prefix), stdout=log, stderr=subprocess.STDOUT))
        )
    return workers


def wait_all(workers: list[tuple[Path, Any]]) -> list[dict[str, Any]]:
    """Each worker's status.json, with the CPU seconds its process used (start-up and recovery included)
    where this call reaps it (a worker polled to its end before has no usage left to read)."""
    statuses = []
    for data_dir, process in workers:
        cpu = None
        if process.returncode is None:
            _, code, usage = os.wait4(process.pid, 0)
            process.returncode, cpu = os.waitstatus_to_exitcode(code), usage.ru_utime + usage.ru_stime
        if process.returncode != 0:
            raise RuntimeError(f"worker in {data_dir} exited with {process.returncode}")
        statuses.append({**orjson.loads((data_dir / "status.json").read_bytes()), "cpu_seconds": cpu})
    return statuses


def consume_only(bootstrap: str, prefix: str) -> dict[str, float]:
    """The ceiling: fetch and parse every input record of the prefix, nothing else."""
    topics = input_topics(prefix)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe(topics)
    partitions = sum(len(consumer.list_topics(t, timeout=10).topics[t].partitions) for t in topics)
    at_end: set[tuple[str | None, int | None]] = set()  # an end-of-partition event names both
    records, first, last = 0, 0.0, 0.0
    cpu = time.process_time()  # the process's CPU: librdkafka's fetch threads count too
    while len(at_end) < partitions:
        for message in consumer.consume(5000, 1.0):
            error = message.error()
            if error:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add((message.topic(), message.partition()))
                continue
            last = time.perf_counter()
            first = first or last
            with contextlib.suppress(orjson.JSONDecodeError):  # planted garbage costs a parse attempt too
                orjson.loads(cast(bytes, message.value()))  # every input line is a record with a value
            records += 1
    cpu = time.process_time() - cpu
    consumer.close()
    # Up to the last record read: the consume call that then waits out its timeout for the end of each
    # partition reads nothing, and counting it made this ceiling look five times lower than it is.
    seconds = last - first
    return {
        "records": records,
        "seconds": seconds,
        "records_per_s": records / seconds if seconds else 0.0,
        "cpu_seconds": cpu,
        "records_per_cpu_s": records / cpu if cpu else 0.0,
    }


def embedded(input_dir: Path) -> dict[str, float]:
    """The embedded engine on the same month, per CPU-second (benchmarks/throughput.py's child)."""
    done = subprocess.run(
        [sys.executable, str(HERE / "throughput.py"), "--child", "engine-memory", str(input_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def throughput(input_dir: Path, bootstrap: str, scratch: Path, workers: int) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    produce_s = produce(input_dir, bootstrap, prefix)
    statuses = wait_all(start_workers(bootstrap, prefix, scratch, workers, idle=3.0))
    applied = sum(s["applied"] for s in statuses)
    first = min(s["first_applied_at"] for s in statuses if s["first_applied_at"])
    last = max(s["last_applied_at"] for s in statuses if s["last_applied_at"])
    cpu = sum(s["cpu_seconds"] for s in statuses)
    result = {
        "workers": workers,
        "records_applied": applied,
        "seconds": last - first,
        "records_per_s": applied / (last - first),
        "records_per_s_per_worker": applied / (last - first) / workers,
        "cpu_seconds": cpu,
        "records_per_cpu_s": applied / cpu,
        "partitions_per_worker": [sorted(int(p) for p, n in s["applied_by_partition"].items() if n) for s in statuses],
        "produce_seconds": produce_s,
    }
    if workers == 1:
        ceiling = result["consume_only"] = consume_only(bootstrap, prefix)
        result["share_of_consume_only"] = result["records_per_s"] / ceiling["records_per_s"]
        result["share_of_consume_only_per_cpu_s"] = result["records_per_cpu_s"] / ceiling["records_per_cpu_s"]
        engine = result["embedded_engine"] = embedded(input_dir)
        result["share_of_embedded_per_cpu_s"] = result["records_per_cpu_s"] / engine["events_per_cpu_s"]
    return result


def latency(input_dir: Path, bootstrap: str, scratch: Path, workers: int, rate: float) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    started = start_workers(bootstrap, prefix, scratch, workers, idle=8.0)
    deadline = time.monotonic() + 60
    while not all((d / "status.json").exists() for d, _ in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    reader.subscribe([f"{prefix}.exceptions", f"{prefix}.matches"])
    producer = subprocess.Popen(
        [*RECON, "produce", "--input", str(input_dir), "--rate", str(rate)],
        env=env_for(bootstrap, prefix),
        stdout=subprocess.DEVNULL,
    )
    samples: list[float] = []
    while producer.poll() is None or any(p.poll() is None for _, p in started):
        for message in reader.consume(1000, 0.2):
            if message.error():
                continue
            seen_ms = time.time() * 1000
            headers = dict(message.headers() or [])
            if LATENCY_HEADER in headers:
                samples.append(seen_ms - int(cast(bytes, headers[LATENCY_HEADER])))  # written as bytes by the sink
    reader.close()
    wait_all(started)
    ordered = sorted(samples)
    return {
        "workers": workers,
        "input_rate_lines_per_s": rate,
        "outputs_measured": len(samples),
        "p50_ms": statistics.median(ordered) if ordered else None,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] if ordered else None,
        "max_ms": ordered[-1] if ordered else None,
    }


def start_broker() -> tuple[str, str | None]:
    if os.environ.get("KAFKA_BOOTSTRAP"):
        return os.environ["KAFKA_BOOTSTRAP"], None
    out = subprocess.run(["bash", str(BROKER_SH), "start"], check=True, capture_output=True, text=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return values["KAFKA_BOOTSTRAP"], values["KAFKA_DATA"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--rate",
        type=float,
        help="input lines/s for the latency runs (default: half the load one worker applied in the throughput run)",
    )
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--out", type=Path, default=RESULTS / "kafka.json")
    args = parser.parse_args()
    input_dir = scenario(args.invoices, args.seed, args.data_dir)
    bootstrap, broker_data = start_broker()
    scratch = args.data_dir / f"kafka-{uuid.uuid4().hex[:6]}"
    scratch.mkdir(parents=True)
    try:
        result: dict[str, Any] = {
            "benchmark": "kafka workers end to end, local single-node broker",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "scenario": {"invoices": args.invoices, "seed": args.seed},
            "throughput": [throughput(input_dir, bootstrap, scratch, n) for n in (1, 2)],
        }
        rate = args.rate or round(result["throughput"][0]["records_per_s"] / 2)  # half load
        result |= {
            "latency": [latency(input_dir, bootstrap, scratch, n, rate) for n in (1, 2)],
            "target_records_per_s_per_worker": 50_000,
        }
    finally:
        if broker_data is not None:
            subprocess.run(["bash", str(BROKER_SH), "stop", "--data", broker_data], check=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
