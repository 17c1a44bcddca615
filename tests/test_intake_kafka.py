"""The AP intake writing to Kafka input topics on a real broker: signed pushes over real HTTP land on the input
topics keyed as `recon produce` keys them (routes surviving a restart), a month pushed through the intake
gives a `recon worker` the embedded run's results, and a broker that does not answer makes a push a 503
that remembers nothing."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka_broker import KafkaBroker
from reconstream.models.base import iso
from reconstream.models.events import Stream, parse
from reconstream.shells.config import load_config
from reconstream.shells.embedded import run
from reconstream.shells.intake import EVENTS_PATH, INTAKE_STREAMS, Intake, IntakeSettings, Platform, intake_app
from reconstream.shells.intake.kafka_writer import KafkaIntakeWriter
from reconstream.shells.kafka import clients
from reconstream.shells.kafka.audit_topic import read_partitions
from reconstream.shells.kafka.producer import produce
from reconstream.shells.kafka.routing import LedgerRouter
from reconstream.shells.kafka.topics import DEFAULT_PARTITIONS, Topics
from reconstream.shells.serve import BackgroundServer, build_app
from reconstream.shells.webhooks.signing import signature
from reconstream.synthetic import generate
from test_intake import envelope, invoice, nordwind_master_data
from test_kafka_worker import assert_same, embedded_results, finish, fresh_topics, kafka_results, start_worker

pytestmark = pytest.mark.kafka

SECRET = "whsec-coupa-0123456789abcdef"
SECRET_ENV = "TEST_KAFKA_INTAKE_SECRET"
INTAKE_FILES = (Stream.INVOICES, Stream.INVOICE_STATUS)  # what AP platforms push in the end-to-end month
CLIENT = httpx.Client(timeout=120)  # a push waits for the broker: a loaded machine may make that slow


@pytest.fixture(autouse=True)
def platform_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def settings_for(folder: Path, bootstrap: str, topics: Topics) -> IntakeSettings:
    platform = Platform("coupa", secret_env=SECRET_ENV, streams=INTAKE_STREAMS)
    return IntakeSettings(folder, (platform,), kafka_bootstrap=bootstrap, topic_prefix=topics.prefix)


@dataclass
class Pusher:
    base: str
    at: Callable[[], float] = time.time  # the signature's time: the intake's clock

    def post(self, body: bytes) -> httpx.Response:
        signed = signature(SECRET.encode(), int(self.at()), body)
        headers = {"Recon-Platform": "coupa", "Recon-Signature": signed}
        return CLIENT.post(f"{self.base}{EVENTS_PATH}", content=body, headers=headers)

    def events(self, *events: dict[str, Any]) -> httpx.Response:
        return self.post(orjson.dumps(list(events)))


@contextmanager
def serving(intake: Intake, at: Callable[[], float] = time.time) -> Iterator[Pusher]:
    """The standalone intake app on a loopback port; stopping it closes the intake (its lifespan does)."""
    server = BackgroundServer(intake_app(intake), "127.0.0.1", 0).start()
    try:
        yield Pusher(f"http://127.0.0.1:{server.port}", at)
    finally:
        server.server.should_exit = True  # not stop(): that closes a web app's case store, absent here
        server.thread.join(30)
        for sock in server.sockets:
            sock.close()


def records(bootstrap: str, topics: Topics, stream: Stream) -> dict[int, list[tuple[bytes, bytes]]]:
    """(key, value) of every record of a stream's input topic, by partition."""
    return read_partitions(bootstrap, topics.input(stream))


def placed(found: dict[int, list[tuple[bytes, bytes]]]) -> list[tuple[int, bytes, bytes]]:
    return [(partition, key, value) for partition, messages in found.items() for key, value in messages]


def test_pushes_land_keyed_as_recon_produce_keys_them_and_routes_survive_a_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = fresh_topics()
    settings = settings_for(tmp_path / "in", kafka_bootstrap, topics)
    now = time.time()  # the intake's clock: the ingest_time it stamps is then known here
    stamped = iso(datetime.fromtimestamp(now, UTC))
    vendor, order, receipt = nordwind_master_data()
    captured = invoice("coupa-inv-1", "I1")
    approved = envelope("coupa-st-1", "invoice.status_changed", "2026-11-04T00:00:00Z",
                        {"invoice_id": "I1", "status": "approved"})  # fmt: skip
    rejected = envelope("coupa-st-2", "invoice.status_changed", "2026-11-05T00:00:00Z",
                        {"invoice_id": "I1", "status": "rejected"})  # fmt: skip
    orphan = envelope("coupa-st-3", "invoice.status_changed", "2026-11-05T00:00:00Z",
                      {"invoice_id": "NEVER-SEEN", "status": "approved"})  # fmt: skip

    with serving(Intake.open(settings, clock=lambda: now), at=lambda: now) as pusher:
        first = pusher.events(vendor, order, captured)
        assert first.status_code == 202, first.text
        later = pusher.events(approved)  # another request: the router remembered the invoice's company code
        assert later.status_code == 202, later.text
    # A new intake (a restart of `recon serve`): it knows I1 and the order only from the routes file.
    assert settings.routes.exists()
    with serving(Intake.open(settings, clock=lambda: now), at=lambda: now) as pusher:
        after = pusher.events(rejected, receipt, orphan)
        assert after.status_code == 202, after.text
        assert after.json()["accepted"] == 3

    pushed = [vendor, order, captured, approved, rejected, receipt, orphan]
    lines = {event["event_id"]: orjson.dumps({**event, "ingest_time": stamped}) for event in pushed}
    stream_of = {"vendor.upserted": Stream.VENDORS, "purchase_order.created": Stream.PURCHASE_ORDERS,
                 "goods_receipt.posted": Stream.GOODS_RECEIPTS, "invoice.captured": Stream.INVOICES,
                 "invoice.status_changed": Stream.INVOICE_STATUS}  # fmt: skip
    router = LedgerRouter()  # what `recon produce` would key them by, read in the same order
    expected = {e["event_id"]: router.key_for(parse(lines[e["event_id"]], stream_of[e["event_type"]])) for e in pushed}
    assert expected["coupa-st-2"] == "1000" and expected["coupa-gr-1"] == "MUSTER-HOLDING-1000"

    found = {stream: placed(records(kafka_bootstrap, topics, stream)) for stream in INTAKE_STREAMS}
    # The vendor on every partition, explicitly, with its BROADCAST key; each line byte-equal to what was accepted.
    assert sorted(found[Stream.VENDORS]) == [(n, b"*", lines["coupa-v-1"]) for n in range(DEFAULT_PARTITIONS)]
    [(po_partition, po_key, po_value)] = found[Stream.PURCHASE_ORDERS]
    assert (po_key, po_value) == (expected["coupa-po-1"].encode(), lines["coupa-po-1"])
    [(gr_partition, gr_key, gr_value)] = found[Stream.GOODS_RECEIPTS]
    assert (gr_key, gr_value) == (expected["coupa-gr-1"].encode(), lines["coupa-gr-1"])
    assert gr_partition == po_partition  # keyed by its order's company code, learned before the restart
    [(invoice_partition, invoice_key, invoice_value)] = found[Stream.INVOICES]
    assert (invoice_key, invoice_value) == (b"1000", lines["coupa-inv-1"])
    statuses = {orjson.loads(value)["event_id"]: (partition, key, value) for partition, key, value in
                found[Stream.INVOICE_STATUS]}  # fmt: skip
    assert statuses == {
        "coupa-st-1": (invoice_partition, b"1000", lines["coupa-st-1"]),
        "coupa-st-2": (invoice_partition, b"1000", lines["coupa-st-2"]),  # after the restart: from the routes
        "coupa-st-3": (statuses["coupa-st-3"][0], b"invoice:NEVER-SEEN", lines["coupa-st-3"]),
    }
    assert expected["coupa-st-3"] == "invoice:NEVER-SEEN"  # the router's own fallback: the worker's orphan
    assert list(settings.input_dir.glob("*.jsonl")) == []  # nothing went to files


def test_a_month_pushed_through_the_intake_gives_the_embedded_results(kafka_bootstrap: str, tmp_path: Path) -> None:
    month = tmp_path / "month"
    generate(month, invoices=150, seed=6)  # two redelivered lines among its invoices and statuses, none invalid
    others = tmp_path / "others"  # the streams that do not come from AP platforms, for `recon produce`
    others.mkdir()
    for path in month.glob("*.jsonl"):
        if path.stem not in INTAKE_FILES:
            shutil.copy2(path, others / path.name)
    topics = fresh_topics()
    settings = settings_for(tmp_path / "in", kafka_bootstrap, topics)

    answers: list[dict[str, Any]] = []
    with serving(Intake.open(settings)) as pusher:
        for stream in INTAKE_FILES:  # each stream in its file's order, as `recon produce` would send it
            lines = (month / f"{stream.value}.jsonl").read_bytes().splitlines()
            for start in range(0, len(lines), 100):
                response = pusher.post(b"\n".join(lines[start : start + 100]) + b"\n")
                assert response.status_code == 202, response.text
                answers.append(response.json())
    produce(others, kafka_bootstrap, topics)

    pushed = sum(len((month / f"{s.value}.jsonl").read_bytes().splitlines()) for s in INTAKE_FILES)
    accepted = sum(answer["accepted"] for answer in answers)
    duplicates = sum(answer["duplicate"] for answer in answers)
    assert accepted + duplicates == pushed and duplicates == 2  # a redelivery is answered, not written again
    on_topics = sum(len(placed(records(kafka_bootstrap, topics, stream))) for stream in INTAKE_FILES)
    assert on_topics == accepted  # every acknowledged event is on its topic, once

    finish(start_worker(kafka_bootstrap, topics, tmp_path / "w1", "w1"))
    results = kafka_results(kafka_bootstrap, topics)
    run(month, tmp_path / "embedded")
    embedded = embedded_results(tmp_path / "embedded")
    assert len(results.matches) > 20  # a month with payments, not an empty agreement
    assert_same(results, embedded)


def test_an_unreachable_broker_answers_503_and_remembers_no_id(kafka_bootstrap: str, tmp_path: Path) -> None:
    topics = fresh_topics()
    down = settings_for(tmp_path / "in", "127.0.0.1:1", topics)
    writer = KafkaIntakeWriter("127.0.0.1:1", topics, down.routes, timeout=2.0, topics_timeout=2.0)
    started = time.monotonic()
    with serving(Intake.open(down, writer=writer)) as pusher:
        refused = pusher.events(invoice())
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "unavailable" and "send them again" in refused.json()["reason"]
    assert time.monotonic() - started < 60  # bounded by the writer's timeout, not librdkafka's five minutes

    # The same input folder (its id index) with a cluster that answers: the event is new to it, not a duplicate.
    with serving(Intake.open(settings_for(tmp_path / "in", kafka_bootstrap, topics))) as pusher:
        retried = pusher.events(invoice())
    assert retried.status_code == 202 and retried.json()["accepted"] == 1, retried.text
    [(_, key, value)] = placed(records(kafka_bootstrap, topics, Stream.INVOICES))
    assert key == b"1000" and orjson.loads(value)["event_id"] == "coupa-inv-1"


def test_a_broker_down_mid_service_answers_503_and_the_retry_goes_in_once_it_is_back(
    own_kafka_broker: KafkaBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap = own_kafka_broker.bootstrap
    assert bootstrap is not None
    topics = fresh_topics()
    settings = settings_for(tmp_path / "in", bootstrap, topics)
    writer = KafkaIntakeWriter(bootstrap, topics, settings.routes, timeout=3.0)
    with serving(Intake.open(settings, writer=writer)) as pusher:
        assert pusher.events(invoice("coupa-inv-1", "I1")).status_code == 202  # topics found, producer connected
        restart = threading.Thread(target=own_kafka_broker.restart, kwargs={"down_s": 15.0})
        restart.start()
        try:
            wait_until_refused(bootstrap, timeout=60)
            refused = pusher.events(invoice("coupa-inv-2", "I2"))
            assert refused.status_code == 503, refused.text
            # The delivery itself failed (the topics were found before): its callback said why.
            assert "acknowledged 0 of 1 records" in caplog.text, caplog.text
        finally:
            restart.join(300)
        assert not restart.is_alive()
        retried = pusher.events(invoice("coupa-inv-2", "I2"))
        assert retried.status_code == 202 and retried.json()["accepted"] == 1, retried.text
    ids = [orjson.loads(value)["event_id"] for _, _, value in placed(records(bootstrap, topics, Stream.INVOICES))]
    assert sorted(ids) == ["coupa-inv-1", "coupa-inv-2"]  # the refused attempt never reached the log


def wait_until_refused(bootstrap: str, timeout: float) -> None:
    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the broker at {bootstrap} still accepts connections after {timeout:.0f} s")


def test_recon_serve_builds_the_kafka_intake_with_the_kafka_security_settings(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "_security", {})  # clients.use is process-wide: restored after the test
    topics = fresh_topics()
    (tmp_path / "recon.toml").write_text(
        '[kafka]\nclient = { "security.protocol" = "plaintext" }\n'
        f'[intake]\ninput_dir = "{tmp_path / "in"}"\nkafka_bootstrap = "{kafka_bootstrap}"\n'
        f'topic_prefix = "{topics.prefix}"\n'
        f'[[intake.platforms]]\nname = "coupa"\nsecret_env = "{SECRET_ENV}"\n'
    )
    config = load_config(tmp_path / "recon.toml")
    (tmp_path / "out").mkdir()
    app = build_app(tmp_path / "out", config=config)
    assert isinstance(app.state.intake.writer, KafkaIntakeWriter)
    assert clients.config(kafka_bootstrap)["security.protocol"] == "plaintext"  # what the writer's producer got
    server = BackgroundServer(app, "127.0.0.1", 0).start()
    try:
        answer = Pusher(f"http://127.0.0.1:{server.port}").events(invoice())
    finally:
        server.stop()  # closes the case store and the intake
    assert answer.status_code == 202, answer.text
    assert [key for _, key, _ in placed(records(kafka_bootstrap, topics, Stream.INVOICES))] == [b"1000"]
