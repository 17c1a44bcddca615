"""The distributed shell's pure parts, without a broker: ledger routing and the event-time merge."""

from __future__ import annotations

import random
from pathlib import Path

from factories import ack, batch, goods_receipt, invoice, purchase_order, settlement, status, vendor
from reconstream.models.events import Stream
from reconstream.models.payments import Settlement
from reconstream.shells.inputs import file_name, merged
from reconstream.shells.kafka.routing import BROADCAST, LedgerRouter
from reconstream.shells.kafka.sequencer import PartitionSequencer
from reconstream.shells.kafka.topics import Topics
from reconstream.synthetic import generate

TOPICS = Topics("test")


def test_router_follows_documents_to_their_company_code() -> None:
    router = LedgerRouter()
    assert router.key_for(vendor()) == BROADCAST
    assert router.key_for(purchase_order()) == "1000"
    assert router.key_for(goods_receipt()) == "1000"  # names only the PO
    assert router.key_for(invoice()) == "1000"
    assert router.key_for(status("2026-11-03T05:00:00Z", "I1", "approved")) == "1000"
    assert router.key_for(batch("2026-11-04T06:00:00Z")) == "1000"
    assert router.key_for(ack("2026-11-04T06:10:00Z")) == "1000"  # names only the batch
    assert router.key_for(settlement("2026-11-05T08:00:00Z")) == "1000"  # names only the house account


def test_router_keeps_orphans_apart_and_knows_house_accounts_up_front() -> None:
    router = LedgerRouter({"DE00HOUSE": "2000"})
    assert router.key_for(status("2026-11-03T05:00:00Z", "NEVER", "approved")) == "invoice:NEVER"
    assert router.key_for(ack("2026-11-04T06:10:00Z", batch_id="NOPE")) == "batch:NOPE"
    entry = settlement("2026-11-05T08:00:00Z")
    assert isinstance(entry.payload, Settlement)
    assert router.key_for(entry) == f"account:{entry.payload.account.key}"


def replay(pending: dict[str, list[bytes]], rng: random.Random) -> list[tuple[str, bytes]]:
    """Push each topic's records in random bursts, popping what is ready after each burst."""
    sequencer = PartitionSequencer(0, TOPICS.streams())
    pushed = dict.fromkeys(TOPICS.streams(), 0)

    def caught_up(topic: str) -> bool:
        return pushed[topic] == len(pending.get(topic, []))

    out: list[tuple[str, bytes]] = []
    while any(pushed[topic] < len(rows) for topic, rows in pending.items()):
        topic = rng.choice([t for t, rows in pending.items() if pushed[t] < len(rows)])
        for _ in range(rng.randint(1, 50)):
            if pushed[topic] < len(pending[topic]):
                sequencer.push(topic, pushed[topic], pending[topic][pushed[topic]])
                pushed[topic] += 1
        out += [(record.stream, record.raw) for record in sequencer.pop_ready(caught_up)]
    out += [(record.stream, record.raw) for record in sequencer.pop_ready(caught_up)]
    assert len(sequencer) == 0
    return out


def test_one_partition_merges_in_the_embedded_order_however_records_arrive(tmp_path: Path) -> None:
    """Records pushed in random interleavings come out in the files' merged order (one partition)."""
    generate(tmp_path, invoices=300, seed=2)
    expected = [(line.stream.value, line.raw) for line in merged(tmp_path, {})]
    pending = {
        TOPICS.input(stream): [raw for raw in (tmp_path / file_name(stream)).read_bytes().splitlines() if raw.strip()]
        for stream in Stream
    }
    rng = random.Random(7)
    for _ in range(3):
        assert replay(pending, rng) == expected


def test_an_empty_topic_that_may_still_deliver_holds_the_partition_back() -> None:
    sequencer = PartitionSequencer(0, TOPICS.streams())
    later = invoice(at="2026-11-03T00:00:00Z").model_dump_json().encode()
    sequencer.push(TOPICS.input(Stream.INVOICES), 0, later)
    assert list(sequencer.pop_ready(lambda topic: topic != TOPICS.input(Stream.GOODS_RECEIPTS))) == []
    released = list(sequencer.pop_ready(lambda topic: True))
    assert [record.stream for record in released] == ["invoices"]


def test_clock_ticks_and_bad_records_get_their_place_and_reason() -> None:
    sequencer = PartitionSequencer(3, TOPICS.streams())
    sequencer.push(TOPICS.clock, 0, b'{"watermark": "2026-11-10T00:00:00Z"}')
    sequencer.push(TOPICS.clock, 1, b'{"watermark": "soon"}')
    sequencer.push(TOPICS.input(Stream.INVOICES), 0, b"not json")
    records = list(sequencer.pop_ready(lambda topic: True))
    assert [(r.stream, r.offset) for r in records] == [("invoices", 0), ("clock", 0), ("clock", 1)]
    garbage, tick, bad_tick = records
    assert garbage.error is not None and garbage.error.field == "<json>" and garbage.source == "test.invoices/3/0"
    assert tick.watermark_us is not None and tick.error is None
    assert bad_tick.error is not None and bad_tick.error.field == "watermark"
    assert bad_tick.sort_key[0] == tick.sort_key[0]  # a bad record sorts right after the record before it
