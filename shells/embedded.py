"""The embedded shell (the default): the handlers in one process over input files. No broker, no server.

Crash safety: every `checkpoint_every` input records the output files are flushed and fsynced, then the
state, the position in every input source (JSONL file or bank file, by name), the output lengths with the
SHA-256 of their bytes and the audit head are committed in one atomic write. A restart cuts the outputs back
to the committed lengths and reads on from the committed positions, so a `kill -9` at any point neither
loses nor doubles a record. Outputs that no longer hold the committed bytes (a power cut lost writes) are
refused, not resumed: the state already holds every event up to the checkpoint, so they cannot be rebuilt.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from reconstream.models.base import iso
from reconstream.models.cases import CaseAction
from reconstream.models.events import STREAM_ORDER
from reconstream.models.outputs import OutputStream
from reconstream.streams import Engine, Output, Settings
from reconstream.tables import MemoryStore, RocksStore, Store
from reconstream.tables.state import EngineState

from . import collector
from .audit import CASE_ACTIONS, AnchorFile, AuditChain, AuditKey, anchors_path, apply_input
from .erp.queue import Verdict
from .formats.canonical import IngestOptions
from .inputs import CaseEvents, InputLine, Position, Stream, fed_line, file_name, merged
from .metrics import ObservedEngine, RunMetrics
from .sinks import FileSink, Sink
from .sinks.base import ResumeRefused

if TYPE_CHECKING:
    from .erp.queue import Verdict

Progress = Callable[[int, int], None]  # (lines read, bytes read)
POSTING_OUTCOMES = "erp/outcomes"  # the source name of the ERPs' verdicts in positions and the audit log
RESUME_REMEDY = (
    "The state already holds every event up to that checkpoint, so these outputs cannot be written again from "
    "it: rerun from scratch into a fresh --out with a fresh --state-dir, or restore this output folder and the "
    "state dir together from one backup."
)


class CaseFeed(CaseEvents, Protocol):
    """The case store as the run reads it: the events people's actions made, and the actions themselves."""

    def people_actions_after(self, seq: int, limit: int = 1000) -> list[tuple[int, CaseAction, str]]: ...


class PostingFeed(Protocol):
    """ERP posting beside the run (shells/erp/running.py): the ERPs' verdicts as events, what the run waits
    for before its clock passes an approval by more than the allowance, and how many postings are owed."""

    drain_seconds: float
    hold_seconds: float
    allowance_us: int

    def open_work(self) -> int: ...

    def verdicts_after(self, seq: int) -> list[Verdict]: ...

    def applied(self, invoice_id: str) -> None: ...

    def flush(self) -> None: ...

    def oldest_undecided_us(self) -> int | None: ...

    def stop_waiting(self) -> None: ...


@dataclass
class RunSummary:
    events: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    exceptions: Counter[str] = field(default_factory=Counter)  # by category
    owners: Counter[str] = field(default_factory=Counter)
    matches: int = 0
    match_methods: Counter[str] = field(default_factory=Counter)  # by the rule that matched
    line_classes: Counter[str] = field(default_factory=Counter)  # bank lines routed by their codes, by class
    status_updates: int = 0
    dead_letters: int = 0
    cash_positions: list[dict[str, Any]] = field(default_factory=list)

    def count(self, outputs: list[Output]) -> None:
        for output in outputs:
            if output.stream == OutputStream.EXCEPTIONS:
                if getattr(output.record, "status", None) == "open":
                    self.exceptions[output.record.category.value] += 1  # type: ignore[attr-defined]
                    self.owners[output.record.owner_queue.value] += 1  # type: ignore[attr-defined]
            elif output.stream == OutputStream.MATCHES:
                self.matches += 1
                self.match_methods[output.record.method.value] += 1  # type: ignore[attr-defined]
            elif output.stream == OutputStream.CLASSIFIED_LINES:
                self.line_classes[output.record.line_class] += 1  # type: ignore[attr-defined]
            elif output.stream == OutputStream.STATUS_UPDATES:
                self.status_updates += 1
            elif output.stream == OutputStream.DEAD_LETTERS:
                self.dead_letters += 1

    def to_state(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "outcomes": dict(self.outcomes),
            "exceptions": dict(self.exceptions),
            "owners": dict(self.owners),
            "matches": self.matches,
            "match_methods": dict(self.match_methods),
            "line_classes": dict(self.line_classes),
            "status_updates": self.status_updates,
            "dead_letters": self.dead_letters,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> RunSummary:
        return cls(
            events=data["events"],
            outcomes=Counter(data["outcomes"]),
            exceptions=Counter(data["exceptions"]),
            owners=Counter(data["owners"]),
            matches=data["matches"],
            match_methods=Counter(data.get("match_methods", {})),
            line_classes=Counter(data.get("line_classes", {})),
            status_updates=data["status_updates"],
            dead_letters=data["dead_letters"],
        )


class EmbeddedRunner:
    def __init__(
        self,
        input_dir: Path,
        out_dir: Path,
        state_dir: Path | None = None,
        settings: Settings | None = None,
        checkpoint_every: int = 5000,
        ingest_options: IngestOptions | None = None,
        metrics: RunMetrics | None = None,
        sinks: Callable[[str], list[Sink]] | None = None,
        cases: CaseFeed | None = None,
        audit_key: AuditKey | None = None,
        anchors: Path | None = None,
        posting: PostingFeed | None = None,
    ) -> None:
        self.input_dir, self.out_dir = input_dir, out_dir
        self.posting = posting  # the ERPs' verdicts on the postings this run requested come back as inputs
        self._verdicts_applied: set[int] = set()  # applied past the position, around one still waiting
        self.cases = cases  # the case store: its manual matches are inputs, its people's actions audited
        self.metrics = metrics
        self.checkpoint_every = checkpoint_every
        self.ingest_options = ingest_options  # lookups for the bank files of input_dir/bank
        self.store: Store = RocksStore(state_dir) if state_dir is not None else MemoryStore()
        state = EngineState(self.store)
        # Observed only when someone looks (--serve): the engine stays unobserved otherwise.
        self.engine = Engine(state, settings) if metrics is None else ObservedEngine(state, settings, metrics)
        checkpoint = self.store.checkpoint()
        self.positions: dict[str, Position] = {}  # by source name: "invoices.jsonl", "bank/c54.xml"
        self.summary = RunSummary()
        self.audit = AuditChain(key=audit_key)
        if checkpoint is not None:
            self.positions = {source_name(k): Position(**v) for k, v in checkpoint["inputs"].items()}
            self.summary = RunSummary.from_state(checkpoint["summary"])
            self.audit = self._resumed_chain(checkpoint["audit"], audit_key)
        # The run's name outlives a kill in its checkpoint: a sink that dedupes by position keys on it.
        resumed: str | None = checkpoint.get("run_id") if checkpoint is not None else None
        self.run_id = resumed or uuid.uuid4().hex
        self.files = self._open_files(checkpoint)
        self.anchors = AnchorFile(anchors_path(out_dir, anchors))
        self.sinks: list[Sink] = [self.files, *(sinks(self.run_id) if sinks is not None else [])]
        self.input_lines = count_lines(input_dir) if metrics is not None else {}
        if checkpoint is None:
            # The run's name is committed before any sink sees a record: a kill before the first checkpoint
            # resumes as the same run, so a sink that already has its records skips them.
            self._checkpoint()

    def _open_files(self, checkpoint: dict[str, Any] | None) -> FileSink:
        """The output files, checked against the checkpoint resumed from; a refusal closes the state first,
        since no runner comes back to close it."""
        if checkpoint is None:
            return FileSink(self.out_dir, None)
        try:
            # Checkpoints written before digests were kept have none: their lengths are checked alone.
            return FileSink(self.out_dir, checkpoint["outputs"], checkpoint.get("output_sha256"))
        except ResumeRefused as refused:
            self.store.close()
            raise ResumeRefused(f"{refused}\n{RESUME_REMEDY}") from refused

    def _resumed_chain(self, kept: dict[str, Any], key: AuditKey | None) -> AuditChain:
        """The audit chain where the checkpoint left it, under the key it was started with: a log half keyed
        with one key and half with another (or none) would verify under neither."""
        chain = AuditChain(kept["seq"], kept["head"], key)
        if kept.get("key_id") != chain.key_id:
            self.store.close()
            before, now = (f"key {k}" if k else "no key" for k in (kept.get("key_id"), chain.key_id))
            raise ResumeRefused(
                f"the audit log was started with {before} and the config now names {now}: resume with the "
                "key it was started with, or rerun from scratch into a fresh --out with a fresh --state-dir"
            )
        return chain

    def run(self, progress: Progress | None = None) -> RunSummary:
        started = time.perf_counter()
        since_checkpoint = 0
        self._audit_case_actions()
        for line in merged(self.input_dir, self.positions, self.ingest_options, self.cases):
            if self.posting is not None:
                self._pace(self.posting, line.time_us)
            self._apply(line)
            self.positions[line.name] = line.after
            since_checkpoint += 1
            if since_checkpoint >= self.checkpoint_every:
                self._checkpoint()
                since_checkpoint = 0
                if progress is not None:
                    progress(self.summary.events, sum(p.offset for p in self.positions.values()))
        self._checkpoint()
        if self.posting is not None:
            self._drain_postings(self.posting)
        self.summary.seconds = time.perf_counter() - started
        self.summary.cash_positions = self._write_cash_positions()
        return self.summary

    def _apply(self, line: InputLine) -> None:
        source = line.source
        outputs, event_id, event_type, outcome = apply_input(
            self.engine, line.event, line.error, source, line.stream.value, line.raw, line.time_us
        )
        entry = self.audit.record(source, event_id, event_type, outcome, outputs)
        position = self.audit.seq
        for sink in self.sinks:
            for output in outputs:
                sink.add(output, position)
            sink.add_audit(entry, position)
        self.summary.events += 1
        self.summary.outcomes[outcome] += 1
        self.summary.count(outputs)

    def _apply_verdicts(self) -> None:
        """The ERPs' verdicts decided since the last ones applied, in the order decided, each once the engine
        holds its invoice's approval. After a kill the queue can hold a verdict on an approval the resumed run
        has not read again yet: it waits, and the position stays before it (so a kill now applies it again
        later, which the engine drops by event id); the ones after it are applied meanwhile."""
        posting = self.posting
        if posting is None:
            return
        start = self.positions.get(POSTING_OUTCOMES, Position())
        through, last_time, waiting = start.line, start.time_us, False
        for seq, invoice_id, _, raw in posting.verdicts_after(through):
            if seq not in self._verdicts_applied:
                if not self.engine.has_approved(invoice_id):
                    waiting = True
                    continue
                line = fed_line(raw, Stream.INVOICE_STATUS, seq, last_time, POSTING_OUTCOMES)
                last_time = line.after.time_us
                self._apply(line)
                self._verdicts_applied.add(seq)
                posting.applied(invoice_id)
            if not waiting:
                through = seq
        self._verdicts_applied = {seq for seq in self._verdicts_applied if seq > through}
        self.positions[POSTING_OUTCOMES] = Position(0, through, last_time)

    def _pace(self, posting: PostingFeed, time_us: int) -> None:
        """Before an event dated past an undecided posting's approval by more than the allowance: wait for the
        verdict (up to the hold), so the engine's posting timers never race the ERP (shells/erp/running.py)."""
        oldest = posting.oldest_undecided_us()
        if oldest is None or time_us <= oldest + posting.allowance_us:
            return
        posting.flush()
        deadline = time.monotonic() + posting.hold_seconds
        while (oldest := posting.oldest_undecided_us()) is not None and time_us > oldest + posting.allowance_us:
            if time.monotonic() >= deadline:
                posting.stop_waiting()
                return
            time.sleep(0.002)
            self._apply_verdicts()

    def _drain_postings(self, posting: PostingFeed) -> None:
        """At the end of the input: keep posting up to the drain time, applying the verdicts as they come."""
        deadline = time.monotonic() + posting.drain_seconds
        while posting.open_work() and time.monotonic() < deadline:
            time.sleep(0.05)
            self._apply_verdicts()
        self._checkpoint()

    def _audit_case_actions(self) -> None:
        """What people did on cases since the last checkpoint, appended to the run's audit chain."""
        if self.cases is None:
            return
        done = self.positions.get(CASE_ACTIONS, Position()).line
        while batch := self.cases.people_actions_after(done):
            for done, action, case_hash in batch:
                entry = self.audit.record_case_action(done, action, case_hash)
                for sink in self.sinks:
                    sink.add_audit(entry, self.audit.seq)
        self.positions[CASE_ACTIONS] = Position(0, done, 0)

    def _report_lag(self) -> None:
        """The embedded shell's consumer lag: lines of each input file not applied yet."""
        if self.metrics is None:
            return
        for name, total in self.input_lines.items():
            position = self.positions.get(name)
            self.metrics.set_consumer_lag(name, 0, total - (position.line if position else 0))

    def _checkpoint(self) -> None:
        self._apply_verdicts()
        self._audit_case_actions()
        collector.settle()
        self._report_lag()
        # Every sink first (the files fsynced), then the state with the input positions: a crash or power
        # cut between the two replays outputs the sinks already have (they skip them), never loses one.
        flushed = {sink.name: sink.flush() for sink in self.sinks}
        self.store.commit(
            {
                "run_id": self.run_id,
                "inputs": {name: vars_of(position) for name, position in self.positions.items()},
                "outputs": flushed[self.files.name],
                "output_sha256": self.files.digests(),
                "audit": {"seq": self.audit.seq, "head": self.audit.head, "key_id": self.audit.key_id},
                "summary": self.summary.to_state(),
            }
        )
        # After the commit: an anchor never names a record a resume would cut off and write again.
        self.anchors.append(self.audit.anchor(self.run_id))

    def _write_cash_positions(self) -> list[dict[str, Any]]:
        positions = [p.model_dump(mode="json", exclude_none=True) for p in self.engine.cash_positions()]
        document = {"as_of": iso(self.engine.watermark) if self.engine.watermark_us else None, "positions": positions}
        (self.out_dir / "cash_positions.json").write_bytes(
            orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
        return positions

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        self.anchors.close()
        self.store.close()


def count_lines(input_dir: Path) -> dict[str, int]:
    """Lines per JSONL stream file: what input lag is measured against."""
    counts = {}
    for stream in Stream:
        path = input_dir / file_name(stream)
        if path.exists():
            with path.open("rb") as handle:
                counts[path.name] = sum(chunk.count(b"\n") for chunk in iter(partial(handle.read, 1 << 20), b""))
    return counts


def vars_of(position: Position) -> dict[str, int]:
    return {"offset": position.offset, "line": position.line, "time_us": position.time_us}


def source_name(key: str) -> str:
    """A checkpoint's input key as a source name; checkpoints written before bank files were read used
    the stream ("invoices") for its JSONL file."""
    return file_name(Stream(key)) if key in STREAM_ORDER else key


def run(
    input_dir: Path,
    out_dir: Path,
    state_dir: Path | None = None,
    settings: Settings | None = None,
    checkpoint_every: int = 5000,
    progress: Progress | None = None,
    ingest_options: IngestOptions | None = None,
    metrics: RunMetrics | None = None,
    sinks: Callable[[str], list[Sink]] | None = None,
    cases: CaseFeed | None = None,
    audit_key: AuditKey | None = None,
    anchors: Path | None = None,
    posting: PostingFeed | None = None,
) -> RunSummary:
    runner = EmbeddedRunner(
        input_dir,
        out_dir,
        state_dir,
        settings,
        checkpoint_every,
        ingest_options,
        metrics,
        sinks,
        cases,
        audit_key,
        anchors,
        posting,
    )
    try:
        return runner.run(progress)
    finally:
        runner.close()
