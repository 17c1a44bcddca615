"""A worker rides out a restart of the real broker mid-run, and the Kafka clients take their security settings
from the config file.

The restart fences the worker's static group membership (its rejoin races the member id the restarted
coordinator still holds) and leaves its transaction open on a coordinator that has moved on. Without an
operator the worker must drop what it had not committed, make new clients, rejoin, restore and finish with
exactly the embedded run's outputs, each record once.
"""

from __future__ import annotations

import logging
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import certifi
import orjson
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from kafka_broker import KafkaBroker
from reconstream.shells.cli import main
from reconstream.shells.config import load_config
from reconstream.shells.embedded import run
from reconstream.shells.kafka import clients
from reconstream.shells.kafka.recovery import AssignmentLost, ClusterRefused, Outage, WorkerGaveUp, recoverable
from reconstream.shells.kafka.tail import read_topic
from reconstream.shells.kafka.topics import DEFAULT_PARTITIONS, OUTPUT_STREAMS, Topics
from reconstream.shells.kafka.worker import ReconciliationWorker, WorkerConfig, consumer_config, producer_config
from reconstream.synthetic import generate
from test_kafka_worker import (
    assert_same,
    embedded_results,
    finish,
    fresh_topics,
    input_records,
    produce,
    results_of,
    start_worker,
    status_of,
    verify_audit,
)

# Big enough that the worker is still applying when the broker goes down after its first commit, small
# enough for the whole test (its own broker, the embedded run, the restart) to take about a minute.
INVOICES = 1500
# The broker stays down this long, then takes 5 s or more to start: the outage outlasts the worker's 10 s
# session timeout however fast the machine, so the group ends the worker's session, as it did in production.
DOWN_S = 6.0
COUNTED = ("exceptions", "matches", "status_updates", "dead_letters", "classified_lines")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("restart-month")
    generate(directory, invoices=INVOICES, seed=5)
    return directory


@pytest.fixture(scope="module")
def embedded_out(month: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("restart-embedded")
    run(month, out)
    return out


def committed_records(group: Consumer, topics: Topics) -> int:
    """Input records the worker's group has committed so far (0 while its coordinator is not ready)."""
    wanted = [TopicPartition(topic, n) for topic in topics.streams() for n in range(DEFAULT_PARTITIONS)]
    try:
        return sum(max(tp.offset, 0) for tp in group.committed(wanted, timeout=10))
    except KafkaException:
        return 0


def await_first_commit(bootstrap: str, topics: Topics, worker: subprocess.Popen[bytes]) -> int:
    # Reads the group's offsets without joining it (no subscribe): the worker's partitions stay its own.
    group = Consumer({"bootstrap.servers": bootstrap, "group.id": topics.group, "enable.auto.commit": False})
    deadline = time.monotonic() + 180
    try:
        while (done := committed_records(group, topics)) == 0:
            assert worker.poll() is None, f"the worker exited with {worker.returncode} before its first commit"
            assert time.monotonic() < deadline, "the worker committed nothing in 180 s"
            time.sleep(0.1)
        return done
    finally:
        group.close()


def committed_outputs(bootstrap: str, topics: Topics) -> dict[str, list[dict[str, Any]]]:
    """Every committed record of every output topic, in order."""
    return {
        name: [orjson.loads(value) for _, value in read_topic(bootstrap, topics.output(name), to_end=True) if value]
        for name in OUTPUT_STREAMS
    }


def embedded_counts(out: Path) -> dict[str, int]:
    return {name: len((out / f"{name}.jsonl").read_bytes().splitlines()) for name in COUNTED}


@pytest.mark.kafka
def test_a_worker_rides_out_a_broker_restart_and_ends_as_the_embedded_run(
    month: Path, embedded_out: Path, own_kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    bootstrap = own_kafka_broker.bootstrap
    assert bootstrap is not None
    topics = fresh_topics()
    produce(month, bootstrap, topics)
    total = input_records(bootstrap, topics)
    worker = start_worker(bootstrap, topics, tmp_path / "w1", "w1", idle=2.0)
    try:
        done = await_first_commit(bootstrap, topics, worker)
        assert done < total and worker.poll() is None, "the worker finished before the restart: use a bigger month"
        own_kafka_broker.restart(down_s=DOWN_S)
        finish(worker, timeout=300)  # before the fix: fenced, it died or hung without applying another record
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    log = (tmp_path / "w1.log").read_text(errors="replace")
    assert "recovering from" in log, "the worker never lost its group session to the outage"
    assert status_of(tmp_path / "w1")["recoveries"] >= 1  # what kafka_recovery in recon_retries_total counts
    outputs = committed_outputs(bootstrap, topics)
    assert_same(results_of(outputs), embedded_results(embedded_out))
    # Exactly once: a record of the abandoned transaction, or one applied twice, would be one line too many.
    assert {name: len(outputs[name]) for name in COUNTED} == embedded_counts(embedded_out)
    # The audit chains went back to the last commit with the state: no gap, nothing twice, each at its head.
    verified = verify_audit(bootstrap, topics)
    assert verified.returncode == 0 and "each at its changelog head" in verified.stdout, verified.stdout


@pytest.fixture
def no_security() -> Iterator[None]:
    """`clients.use` sets the whole process's clients: leave them as the other tests expect."""
    yield
    clients.use({})


def test_the_kafka_section_reaches_every_client_and_its_secrets_are_never_shown(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    no_security: None,
) -> None:
    sasl_password, key_password = f"sasl-{uuid.uuid4().hex}", f"key-{uuid.uuid4().hex}"
    monkeypatch.setenv("RECON_TEST_SASL_PASSWORD", sasl_password)
    (tmp_path / "key-password").write_text(key_password + "\n")
    path = tmp_path / "recon.toml"
    path.write_text(
        f"""
[kafka]
sasl_password_env = "RECON_TEST_SASL_PASSWORD"
ssl_key_password_file = "{tmp_path / "key-password"}"
max_outage = "PT30M"

[kafka.client]
"security.protocol" = "SASL_SSL"
"sasl.mechanisms" = "SCRAM-SHA-512"
"sasl.username" = "recon-worker"
"ssl.ca.location" = "{certifi.where()}"
"enable.ssl.certificate.verification" = false
"""
    )
    config = load_config(path)
    assert config.kafka.max_outage == timedelta(minutes=30)
    clients.use(clients.properties(config.kafka))

    worker_config = WorkerConfig(bootstrap="127.0.0.1:9", data_dir=tmp_path / "w1")
    topics = Topics("secure")
    built = {
        "consumer": consumer_config(worker_config, topics),
        "producer": producer_config(worker_config, topics),
        "admin": clients.config(worker_config.bootstrap),
    }
    for settings in built.values():
        assert settings["security.protocol"] == "SASL_SSL"
        assert settings["sasl.mechanisms"] == "SCRAM-SHA-512"
        assert settings["sasl.username"] == "recon-worker"
        assert settings["sasl.password"] == sasl_password
        assert settings["ssl.key.password"] == key_password
        assert settings["ssl.ca.location"] == certifi.where()
        assert settings["enable.ssl.certificate.verification"] == "false"  # librdkafka's spelling, not Python's
    assert built["consumer"]["isolation.level"] == "read_committed"  # the shell's own settings are kept
    # librdkafka refuses an unknown property or a bad value when the client is made: these are taken.
    Consumer(built["consumer"]).close()
    Producer(built["producer"]).flush(0)
    AdminClient(built["admin"])

    caplog.set_level(logging.INFO, logger="reconstream.worker")
    worker = ReconciliationWorker(worker_config)  # makes its clients, connects to nothing yet
    worker.consumer.close()
    assert "security.protocol=SASL_SSL" in caplog.text and "sasl.password=***" in caplog.text
    assert sasl_password not in caplog.text and key_password not in caplog.text

    assert main(["config", "check", "--config", str(path)]) == 0
    printed = capsys.readouterr()
    assert "RECON_TEST_SASL_PASSWORD" in printed.out and "SCRAM-SHA-512" in printed.out
    assert sasl_password not in printed.out + printed.err and key_password not in printed.out + printed.err


def test_a_secret_written_into_the_kafka_section_is_refused_without_being_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "recon.toml"
    path.write_text('[kafka.client]\n"sasl.password" = "hunter2-in-the-file"\n')
    assert main(["config", "check", "--config", str(path)]) == 2
    printed = capsys.readouterr()
    assert "kafka: client.sasl.password: secrets never go in the config file" in printed.err
    assert "hunter2" not in printed.out + printed.err
    path.write_text('[kafka.client]\n"transactional.id" = "mine"\n')
    assert main(["config", "check", "--config", str(path)]) == 2
    assert "client.transactional.id: only security settings pass through" in capsys.readouterr().err


def test_what_a_worker_recovers_from_and_when_it_gives_up() -> None:
    def failure(code: int) -> KafkaException:
        return KafkaException(KafkaError(code))

    for code in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID, KafkaError.PRODUCER_FENCED, KafkaError._TRANSPORT):
        assert recoverable(failure(code)), code
    assert recoverable(AssignmentLost("session timed out"))
    # Waiting changes nothing about credentials, rights or a bug: those end the run at once.
    for code in (KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError._SSL):
        assert not recoverable(failure(code)), code
    assert not recoverable(ValueError("a bug"))

    now = [0.0]
    outage = Outage(limit=60.0, clock=lambda: now[0])
    waits: list[float] = []
    for _ in range(8):
        waits.append(outage.failed(failure(KafkaError._TRANSPORT)))
        now[0] += 5.0
    assert all(0 <= wait <= 30.0 for wait in waits)
    outage.answered()  # the broker served a request: a new outage starts from the next failure
    now[0] += 100.0
    outage.failed(failure(KafkaError._TRANSPORT))
    now[0] += 61.0
    with pytest.raises(WorkerGaveUp, match=r"has not served this worker for 61 s .* max_outage"):
        outage.failed(failure(KafkaError._TRANSPORT))


def test_credentials_refused_before_the_first_connection_end_the_run_at_once(tmp_path: Path) -> None:
    # A wrong password shows only as an error event: the call itself times out, which would be retried
    # for the whole max_outage (checked by hand against the real broker: the worker exits after 30 s).
    worker = ReconciliationWorker(WorkerConfig(bootstrap="127.0.0.1:9", data_dir=tmp_path / "w1"))
    try:
        worker._on_client_error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: bad password"))
        with pytest.raises(ClusterRefused, match="refuses this worker: SASL authentication error"):
            worker._recover(KafkaException(KafkaError(KafkaError._TIMED_OUT)))
    finally:
        worker.consumer.close()
