"""What converting one file may cost: time spent in its converter, records, and the size of one record.

A bank file comes from outside, and the embedded runner converts it in its own process (shells/inputs.py
read_bank_file -> ingest_file), so a converter that does not end would stop the whole run, and one that
builds records without bound would take the machine's memory. Every converter therefore runs against a
Budget, and a file over any bound is refused with the bound named, reported like any other refusal (a
dead letter with its reason in a run, a named error in `recon ingest`):

- time: the seconds spent inside the converter (not in whoever consumes its events, which may be a long
  run reading a streamed statement), checked between the results it yields and, for the formats read
  whole (BAI2, MT940, flat files), every CLOCK_EVERY records inside their reading loops. The bound grows
  with the file, since a 2 GB camt.053 legitimately takes minutes (about 4 MB/s, benchmarks/formats.py);
- records per file, for the formats whose records are all held at once before converting;
- characters per record (a BAI2 logical record with its 88 continuations, an MT940 tag with its lines, a
  CSV line), so that one record cannot hold the file.

The defaults are far above any real bank's file (BAI2 records are tens to hundreds of characters, an
MT940 `:86:` at most 6 x 65, a day's statement thousands of records) and need no configuration; each can
be set through IngestOptions (max_seconds, seconds_per_mib, max_records, max_record_chars).

The loops that read records are ours and bounded by construction (each step consumes input); the clock
checks inside them are what turns a future mistake there into a refusal instead of a hang. Code we do not
own is never given a whole untrusted file to loop on: libxml2 runs with its own depth and size limits, and
the `bai2` library is used for its type-code table only (bai2_records.py says why).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TypeVar

from reconstream.models.errors import ReconError

DEFAULT_SECONDS = 60.0  # any file, however small, may take this long
# And this much more per MiB, about 6x the slowest rate measured: a BAI2 file of short records (some 25,000
# settlements per MiB, the densest format) converted at 4.4 s per MiB on a busy 2-core machine; camt.053
# streams at about 0.25 s per MiB.
DEFAULT_SECONDS_PER_MIB = 30.0
# Physical records (lines) per file. A day's statement of a large corporate holds tens of thousands; a
# million, read whole before converting (BAI2, MT940), peaked at 800 MB (a 40 MB BAI2 file of one-line
# details), which is what this bound keeps one file to. Flat files are streamed, but bounded alike.
DEFAULT_MAX_RECORDS = 1_000_000
DEFAULT_MAX_RECORD_CHARS = 256 * 1024  # per record: BAI2 and MT940 records are tens to hundreds of characters
CLOCK_EVERY = 256  # records between two readings of the clock inside a reading loop
MIB = 1024 * 1024

T = TypeVar("T")


class LimitError(ReconError):
    """A file over one of its budget's bounds: refused, its field naming the bound (<time>, <records>, <record>).

    Not a FieldError on purpose: converters catch those per record and go on with the next one, while a
    file over its budget must stop where it is.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Budget:
    """One file's bounds, and what its conversion has spent of them so far."""

    def __init__(self, seconds: float, max_records: int, max_record_chars: int) -> None:
        self.seconds = seconds
        self.max_records = max_records
        self.max_record_chars = max_record_chars
        self.records = 0
        self._spent = 0.0  # seconds spent in the converter while it was paused (its consumer working)
        self._resumed: float | None = None  # when the converter was last resumed; None while paused

    @classmethod
    def for_size(
        cls,
        size: int,
        seconds: float = DEFAULT_SECONDS,
        seconds_per_mib: float = DEFAULT_SECONDS_PER_MIB,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_record_chars: int = DEFAULT_MAX_RECORD_CHARS,
    ) -> Budget:
        return cls(seconds + seconds_per_mib * size / MIB, max_records, max_record_chars)

    def spent(self) -> float:
        running = 0.0 if self._resumed is None else time.monotonic() - self._resumed
        return self._spent + running

    def check_time(self, where: str | None = None) -> None:
        if self.spent() > self.seconds:
            at = f" (stopped at {where})" if where else ""
            raise LimitError("<time>", f"conversion took longer than the {self.seconds:g} s allowed{at}")

    def record(self, chars: int, where: str) -> None:
        """One more record of `chars` characters read at `where` (e.g. "line 12"); refused past a bound."""
        self.check_size(chars, where)
        self.count(where)

    def count(self, where: str) -> None:
        """One more record, whose size was bounded before it was read (a JSON row: by the file's size)."""
        self.records += 1
        if self.records > self.max_records:
            raise LimitError("<records>", f"{where}: more than the {self.max_records} records allowed in one file")
        if self.records % CLOCK_EVERY == 0:
            self.check_time(where)

    def check_size(self, chars: int, where: str) -> None:
        """A record grown to `chars` characters (a line with its continuations) is still within its bound."""
        if chars > self.max_record_chars:
            raise LimitError(
                "<record>", f"{where}: a record of {chars} characters, more than the {self.max_record_chars} allowed"
            )

    def run(self, results: Iterator[T]) -> Iterator[T]:
        """The converter's results, its clock running only while it works; past its time it is stopped."""
        while True:
            self._resumed = resumed = time.monotonic()
            try:
                result = next(results)
            except StopIteration:
                return
            finally:
                self._spent += time.monotonic() - resumed
                self._resumed = None
            self.check_time()
            yield result


def unlimited() -> Budget:
    """For reading a trusted text (tests, tools): no bound is ever reached."""
    return Budget(float("inf"), 1 << 62, 1 << 62)
