"""`recon project` also writes the workers' committed outputs as a run folder, so that `recon serve` shows
the treasury and invoice pages in Kafka mode from the same files an embedded run writes.

`exceptions`, `matches`, `status_updates` and `dead_letters` are appended to their `.jsonl` files (the
FileSink of the embedded shell) and the latest record of each account of the compacted `cash_positions`
topic is `cash_positions.json`. A checkpoint (`projection.json`, replaced atomically) holds the files'
lengths with the next offset of every topic partition and the cash positions: a projector killed
anywhere cuts the files back to it and reads on from its offsets, so no line is lost or doubled.
Records of one exception share a key, hence a partition, so its raise comes before its resolution.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from reconstream.models.outputs import PAGE_STREAMS, OutputStream

from ..sinks.files import FileSink
from . import clients
from .consumed import position
from .topics import Topics

FOLDER_STREAMS = PAGE_STREAMS
CASH = OutputStream.CASH_POSITIONS
CHECKPOINT = "projection.json"


class FolderProjection:
    def __init__(self, bootstrap: str, topics: Topics, out_dir: Path, partitions: dict[str, list[int]]) -> None:
        self.out_dir = out_dir
        self.streams = {topics.output(name): name for name in (*FOLDER_STREAMS, CASH)}
        saved = _load(out_dir / CHECKPOINT)
        self.offsets: dict[str, int] = saved.get("offsets", {})
        self.cash: dict[str, Any] = saved.get("cash", {})
        self.files = FileSink(out_dir, saved.get("lengths"))
        self.consumer = Consumer(
            clients.config(
                bootstrap,
                {
                    "group.id": f"{topics.prefix}.folder-projector",  # named, never joined: assigned below
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "auto.offset.reset": "earliest",
                },
            )
        )
        self.consumer.assign(
            [
                TopicPartition(topic, n, self.offsets.get(f"{topic}:{n}", OFFSET_BEGINNING))
                for topic in self.streams
                for n in partitions[topic]
            ]
        )

    def poll(self, limit: int = 50_000) -> int:
        """Read what is there (up to `limit` records) and commit it with the files; the number read."""
        read = 0
        while read < limit:
            messages = self.consumer.consume(num_messages=5000, timeout=0.1)
            if not messages:
                break
            read += self._write(messages)
        if read:
            self._checkpoint()
        return read

    def _write(self, messages: list[Message]) -> int:
        read = 0
        for message in messages:
            if not readable(message):
                continue
            read += 1
            topic, number, offset = position(message)
            name = self.streams[topic]
            value = message.value()
            if name == CASH:
                if value:
                    self.cash[(message.key() or b"").decode()] = orjson.loads(value)
            elif value:
                self.files.add_line(name, value)
            self.offsets[f"{topic}:{number}"] = offset + 1
        return read

    def _checkpoint(self) -> None:
        lengths = self.files.flush()
        for handle in self.files.handles():
            os.fsync(handle.fileno())  # the files hold what the checkpoint says before it says so
        positions = sorted(self.cash.values(), key=lambda p: (p["account"], p["currency"]))
        as_of = max((p["as_of"] for p in positions if p.get("as_of")), default=None)
        _replace(self.out_dir / f"{CASH}.json", {"as_of": as_of, "positions": positions})
        _replace(self.out_dir / CHECKPOINT, {"lengths": lengths, "offsets": self.offsets, "cash": self.cash})

    def close(self) -> None:
        self.consumer.close()
        self.files.close()


def readable(message: Message) -> bool:
    """A record to project; False for the end of a partition or a topic not there yet; else it raises."""
    error = message.error()
    if error is None:
        return True
    if error.code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
        return False
    raise KafkaException(error)


def _load(path: Path) -> dict[str, Any]:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}


def _replace(path: Path, document: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
