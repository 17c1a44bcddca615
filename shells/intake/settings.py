"""What the AP intake needs to know: where accepted events go, which AP platforms may push, and its bounds.

A plain dataclass rather than a section of shells/config.py, so the intake can be built and tested on its
own; the `[intake]` config section maps onto these fields one to one. Each platform's signing secret is
named by an environment variable or a file (shells/secrets.py), never written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from reconstream.models.errors import ReconError
from reconstream.models.events import Stream

from ..secrets import read_secret
from ..webhooks.signing import TOLERANCE_SECONDS

# What an AP platform may push: its own documents and statuses, and the master data it often mirrors.
INTAKE_STREAMS = (
    Stream.VENDORS,
    Stream.PURCHASE_ORDERS,
    Stream.GOODS_RECEIPTS,
    Stream.INVOICES,
    Stream.INVOICE_STATUS,
)
DEFAULT_STREAMS = (Stream.INVOICES, Stream.INVOICE_STATUS)
INDEX_NAME = ".intake-ids.sqlite"  # hidden: the run's reader takes only <stream>.jsonl and bank/ from the folder
ROUTES_NAME = ".intake-routes.sqlite"  # the Kafka writer's invoice and PO company codes, hidden likewise
DEFAULT_PARTITIONS = 6  # shells/kafka/topics.py's, not imported: confluent_kafka loads only for a Kafka intake
MIN_SECRET_CHARS = 16  # shorter shared secrets can be guessed offline from one signed request
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class IntakeConfigError(ReconError, ValueError):
    """The intake's settings cannot work; the message names the setting, never a secret's value."""


@dataclass(frozen=True)
class Platform:
    """One AP platform (Coupa, Basware, Tungsten, Concur ...) that signs what it pushes with its own secret."""

    name: str
    secret_env: str | None = None
    secret_file: Path | None = None
    streams: tuple[Stream, ...] = DEFAULT_STREAMS

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise IntakeConfigError(f"intake.platforms.name: {self.name!r} is not a-z, 0-9, '-' or '_' (64 at most)")
        if bool(self.secret_env) == (self.secret_file is not None):
            raise IntakeConfigError(f"intake.platforms.{self.name}: name the secret once, in secret_env or secret_file")
        streams = tuple(_intake_stream(self.name, value) for value in self.streams)
        if not streams:
            raise IntakeConfigError(f"intake.platforms.{self.name}.streams: name at least one stream")
        object.__setattr__(self, "streams", streams)  # names from a config file become Stream members

    def secret(self) -> bytes:
        """The signing secret, read now (SecretError names the key and source when it cannot be)."""
        key = f"intake.platforms.{self.name}.secret"
        value = read_secret(key, self.secret_env, self.secret_file)
        if len(value) < MIN_SECRET_CHARS:
            raise IntakeConfigError(f"{key}: shorter than {MIN_SECRET_CHARS} characters")
        return value.encode()


def _intake_stream(platform: str, value: Stream | str) -> Stream:
    stream = next((stream for stream in INTAKE_STREAMS if stream == value), None)  # a StrEnum equals its name
    if stream is None:
        allowed = ", ".join(s.value for s in INTAKE_STREAMS)
        raise IntakeConfigError(f"intake.platforms.{platform}.streams: {value!r} is not one of {allowed}")
    return stream


@dataclass(frozen=True)
class IntakeSettings:
    # The folder `recon run --input` reads: accepted events are appended to its <stream>.jsonl, unless they go
    # to Kafka (kafka_bootstrap); it holds the id index (and the Kafka writer's routes) either way.
    input_dir: Path
    platforms: tuple[Platform, ...]
    index_path: Path | None = None  # accepted event ids; default <input_dir>/.intake-ids.sqlite
    tolerance_seconds: int = TOLERANCE_SECONDS  # a signature's timestamp this far from our clock is a replay
    max_body_bytes: int = 5 * 1024 * 1024
    max_events: int = 1000  # per request: bounds the work and the answer a body can ask for
    id_retention: timedelta = field(default=timedelta(days=90))  # as the engine's [retention] event_ids
    stamp_ingest_time: bool = True  # set ingest_time (when absent) to the receipt time: the engine's skew check
    kafka_bootstrap: str | None = None  # when set, accepted events go to the input topics (kafka_writer.py)
    topic_prefix: str | None = None  # default $RECON_TOPIC_PREFIX or "recon", as every other Kafka command
    partitions: int = DEFAULT_PARTITIONS  # per topic, when the intake is the first to create the topics
    routes_path: Path | None = None  # the Kafka writer's routes; default <input_dir>/.intake-routes.sqlite

    def __post_init__(self) -> None:
        names = [platform.name for platform in self.platforms]
        if len(set(names)) != len(names):
            raise IntakeConfigError("intake.platforms: a platform name appears twice")
        if self.tolerance_seconds <= 0 or self.max_body_bytes <= 0 or self.max_events <= 0:
            raise IntakeConfigError("intake: tolerance_seconds, max_body_bytes and max_events must be positive")
        if self.partitions <= 0:
            raise IntakeConfigError("intake.partitions: must be positive")

    @property
    def index(self) -> Path:
        return self.index_path or self.input_dir / INDEX_NAME

    @property
    def routes(self) -> Path:
        return self.routes_path or self.input_dir / ROUTES_NAME

    def secrets(self) -> dict[str, bytes]:
        """Every platform's secret by name, read once at start: a missing one stops the start, not a request."""
        return {platform.name: platform.secret() for platform in self.platforms}
