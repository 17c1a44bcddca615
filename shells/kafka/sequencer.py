"""Event-time order across topics: one partition of every input topic merged as the embedded shell merges files.

Kafka orders records only within a partition, and reconciliation is order-sensitive (a goods receipt must
be applied before the invoice it clears). So a worker holds the records it fetched per topic and releases
the one with the smallest (event time, stream rank, offset) only when every other topic of the partition
either has a record waiting or has nothing more to read: Kafka Streams' timestamp synchronisation. The
sort time of a record is the latest valid event time of its topic so far, the rule the files follow too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
from pydantic import AwareDatetime, BaseModel, ValidationError
from reconstream.models.base import to_micros
from reconstream.models.events import MALFORMED, SCHEMA_VIOLATION, STREAM_ORDER, Event, EventError, Stream
from reconstream.shells.inputs import classify

CLOCK_RANK = len(STREAM_ORDER)  # at equal times a tick comes after every event: time moves on afterwards


class ClockTick(BaseModel):
    watermark: AwareDatetime


@dataclass(frozen=True, slots=True)
class InputRecord:
    sort_key: tuple[int, int, int]
    topic: str
    partition: int
    offset: int
    stream: str  # the input stream, or "clock"
    raw: bytes
    event: Event | None = None
    error: EventError | None = None
    watermark_us: int | None = None  # a clock tick
    received_ms: int = 0  # the input message's Kafka timestamp: where end-to-end latency starts

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


def read_tick(raw: bytes, last_time_us: int) -> tuple[int | None, EventError | None, int]:
    try:
        tick = ClockTick.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        return None, EventError(MALFORMED, "<json>", f"not valid JSON: {exc}"), last_time_us
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "<tick>"
        return None, EventError(SCHEMA_VIOLATION, field, first["msg"]), last_time_us
    watermark = to_micros(tick.watermark)
    return watermark, None, max(last_time_us, watermark)


class PartitionSequencer:
    def __init__(self, partition: int, streams: dict[str, Stream | None]) -> None:
        """`streams`: each input topic and the stream it carries, None for the clock."""
        self.partition = partition
        self.streams = streams
        self.queues: dict[str, deque[InputRecord]] = {topic: deque() for topic in streams}
        self.last_time: dict[str, int] = dict.fromkeys(streams, 0)

    def push(self, topic: str, offset: int, raw: bytes, timestamp_ms: int = 0) -> None:
        last, stream, partition = self.last_time[topic], self.streams[topic], self.partition
        if stream is None:
            watermark, error, last = read_tick(raw, last)
            key = (last, CLOCK_RANK, offset)
            record = InputRecord(key, topic, partition, offset, "clock", raw, None, error, watermark, timestamp_ms)
        else:
            event, error, last = classify(raw, stream, last)
            key = (last, STREAM_ORDER[stream.value], offset)
            record = InputRecord(key, topic, partition, offset, stream.value, raw, event, error, None, timestamp_ms)
        self.last_time[topic] = last
        self.queues[topic].append(record)

    def pop_ready(self, caught_up: Callable[[str], bool]) -> Iterator[InputRecord]:
        """Records in merged order, for as long as no topic that may still deliver an earlier one is empty."""
        queues = self.queues
        while True:
            head: deque[InputRecord] | None = None
            for topic, queue in queues.items():
                if not queue:
                    if not caught_up(topic):
                        return
                elif head is None or queue[0].sort_key < head[0].sort_key:
                    head = queue
            if head is None:
                return
            yield head.popleft()

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.queues.values())
