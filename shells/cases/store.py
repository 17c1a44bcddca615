"""The case store: cases projected from the engine's exceptions, the actions people take on them, and the
hash-chained timeline of both, in SQLite or PostgreSQL.

Projection is idempotent and exactly-once per source: each record comes with its position in its source
(the audit seq of the event that emitted it, a Kafka offset), and the store commits the highest position
it applied with the cases themselves. A record at or below that position is skipped, so a run resumed
after a kill, or a projector restarted, neither loses nor doubles a timeline entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from reconstream.matchers import cases as decide
from reconstream.models.base import from_micros, iso, to_micros
from reconstream.models.cases import ENGINE, Actor, Case, CaseAction, CaseCommand
from reconstream.models.events import EVENT_TYPE_OF
from reconstream.models.exceptions import ReconException
from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from ..audit import chain_hash
from .database import connect, migrate
from .schema import audit_head, case_actions, case_refs, cases, engine_events, projection_offsets

_CHUNK = 500  # ids per IN (...) lookup: under every database's parameter limit
_STREAM_OF = {event_type: stream.value for stream, event_type in EVENT_TYPE_OF.items()}


@dataclass(frozen=True, slots=True)
class Projected:
    applied: int  # records applied (raised, resolved, changed or seen again)
    skipped: int  # records at or below the source's committed position: applied before
    actions: int  # timeline entries written


@dataclass(frozen=True, slots=True)
class EventToSend:
    """An event a person's action made, with where its case came from: the ledger partition that raised
    the exception (None before workers said so) and the company code it concerns."""

    seq: int
    event_id: str
    stream: str
    body: bytes
    ledger_partition: int | None
    company_code: str | None


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """A filtered view of the cases. `queues` is what the reader's role may see (None: all)."""

    queues: frozenset[str] | None = None
    owner: str | None = None
    category: str | None = None
    severity: str | None = None
    status: str | None = None
    assignee: str | None = None
    company_code: str | None = None
    vendor: str | None = None  # a vendor id, or words of the vendor's name
    first_seen_before: datetime | None = None  # age: raised before this
    overdue_at: datetime | None = None  # only cases open past their due time at this moment
    not_snoozed_at: datetime | None = None  # leave out cases snoozed beyond this moment
    search: str | None = None  # an exception, invoice, end-to-end or correlation id, vendor name or reason words
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class CasePage:
    total: int
    cases: list[Case]


class CaseStore:
    def __init__(self, url: URL | str) -> None:
        self.writer: Engine = connect(url, writer=True)
        self.reader: Engine = connect(url, writer=False) if self.writer.dialect.name == "sqlite" else self.writer

    @classmethod
    def open(cls, url: URL | str) -> CaseStore:
        store = cls(url)
        migrate(store.writer)
        return store

    def close(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()

    # -- the engine's side ------------------------------------------------------------------------------
    def project(
        self,
        source: str,
        records: Iterable[tuple[int, ReconException]],
        ledgers: Mapping[str, int] | None = None,
    ) -> Projected:
        """Apply exception records of one source, in order, each with its position; all or nothing.
        `ledgers`: in Kafka mode, the input partition each exception id came from."""
        records = list(records)
        with self.writer.begin() as db:
            chain = _Chain.locked(db)
            done = db.scalar(select(projection_offsets.c.position).where(projection_offsets.c.source == source))
            fresh = [(position, record) for position, record in records if done is None or position > done]
            if not fresh:
                return Projected(0, len(records), 0)
            known = _load(db, sorted({record.exception_id for _, record in fresh}))
            existing = set(known)
            changed: dict[str, Case] = {}
            actions = 0
            for _, record in fresh:
                change = decide.project(known.get(record.exception_id), record, record.resolved_at or record.first_seen)
                if change is None:
                    continue
                known[record.exception_id] = changed[record.exception_id] = change.case
                for action in change.actions:
                    chain.append(db, action)
                    actions += 1
            _save(db, changed, existing)
            for exception_id, partition in sorted((ledgers or {}).items()):
                if exception_id in known:
                    db.execute(
                        update(cases).where(cases.c.exception_id == exception_id).values(ledger_partition=partition)
                    )
            chain.commit(db)
            position = max(position for position, _ in fresh)
            if done is None:
                db.execute(insert(projection_offsets).values(source=source, position=position))
            else:
                db.execute(
                    update(projection_offsets).where(projection_offsets.c.source == source).values(position=position)
                )
            return Projected(len(fresh), len(records) - len(fresh), actions)

    def position(self, source: str) -> int | None:
        with self.reader.connect() as db:
            return db.scalar(select(projection_offsets.c.position).where(projection_offsets.c.source == source))

    # -- a person's side --------------------------------------------------------------------------------
    def act(
        self, exception_id: str, command: CaseCommand, actor: Actor, at: datetime
    ) -> decide.Change | decide.Refusal:
        with self.writer.begin() as db:
            chain = _Chain.locked(db)
            case = _load(db, [exception_id]).get(exception_id)
            if case is None:
                return decide.Refusal("not_found", "exception_id", f"no case {exception_id!r}")
            outcome = decide.act(case, command, actor, at)
            if isinstance(outcome, decide.Refusal):
                return outcome
            _save(db, {exception_id: outcome.case}, {exception_id})
            for action in outcome.actions:
                chain.append(db, action)
            for event in outcome.events:
                db.execute(
                    insert(engine_events).values(
                        action_seq=chain.seq,
                        event_id=event["event_id"],
                        stream=_STREAM_OF[event["event_type"]],
                        exception_id=exception_id,
                        body=orjson.dumps(event).decode(),
                    )
                )
            chain.commit(db)
            return outcome

    # -- what people's actions send on ------------------------------------------------------------------
    def engine_events_after(self, seq: int, limit: int = 1000) -> list[tuple[int, str, bytes]]:
        """(seq, stream, event line) of the engine's input events made after timeline seq `seq`, in order."""
        with self.reader.connect() as db:
            rows = db.execute(
                select(engine_events)
                .where(engine_events.c.action_seq > seq)
                .order_by(engine_events.c.action_seq)
                .limit(limit)
            )
            return [(row.action_seq, row.stream, row.body.encode()) for row in rows]

    def events_to_send(self, seq: int, limit: int = 1000) -> list[EventToSend]:
        """Like `engine_events_after`, with where each event's case came from (Kafka mode)."""
        with self.reader.connect() as db:
            rows = db.execute(
                select(engine_events, cases.c.ledger_partition, cases.c.company_code)
                .join(cases, cases.c.exception_id == engine_events.c.exception_id)
                .where(engine_events.c.action_seq > seq)
                .order_by(engine_events.c.action_seq)
                .limit(limit)
            )
            return [
                EventToSend(
                    row.action_seq, row.event_id, row.stream, row.body.encode(), row.ledger_partition, row.company_code
                )
                for row in rows
            ]

    def mark(self, source: str, position: int) -> None:
        """Record how far a source has been handled (e.g. events sent on to Kafka), outside any projection."""
        with self.writer.begin() as db:
            done = db.scalar(select(projection_offsets.c.position).where(projection_offsets.c.source == source))
            if done is None:
                db.execute(insert(projection_offsets).values(source=source, position=position))
            elif position > done:
                db.execute(
                    update(projection_offsets).where(projection_offsets.c.source == source).values(position=position)
                )

    def people_actions_after(self, seq: int, limit: int = 1000) -> list[tuple[int, CaseAction, str]]:
        """(seq, action, hash) of what people did after timeline seq `seq`: what a run's audit log takes in."""
        with self.reader.connect() as db:
            rows = db.execute(
                select(case_actions)
                .where(case_actions.c.seq > seq, case_actions.c.actor != ENGINE)
                .order_by(case_actions.c.seq)
                .limit(limit)
            )
            return [(row.seq, _action_of(row), row.hash) for row in rows]

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, exception_id: str) -> Case | None:
        with self.reader.connect() as db:
            return _load(db, [exception_id]).get(exception_id)

    def timeline(self, exception_id: str) -> list[tuple[int, CaseAction]]:
        """Every action on a case, oldest first, with its seq in the chain."""
        with self.reader.connect() as db:
            rows = db.execute(
                select(case_actions).where(case_actions.c.exception_id == exception_id).order_by(case_actions.c.seq)
            )
            return [(row.seq, _action_of(row)) for row in rows]

    def latest_actions(self, limit: int) -> list[tuple[int, CaseAction]]:
        """The newest timeline entries of all cases, newest first."""
        with self.reader.connect() as db:
            rows = db.execute(select(case_actions).order_by(case_actions.c.seq.desc()).limit(limit))
            return [(row.seq, _action_of(row)) for row in rows]

    def ready(self) -> str | None:
        """None when the store answers and its schema is the newest; else what is wrong."""
        try:
            with self.reader.connect() as db:
                db.execute(select(audit_head.c.seq)).one()
        except SQLAlchemyError as exc:  # reported by its type only: a driver's message may name the host and user
            return f"case store not reachable or not migrated ({type(exc).__name__})"
        return None

    def find(self, query: CaseQuery) -> CasePage:
        where = _where(query)
        with self.reader.connect() as db:
            total = db.scalar(select(func.count()).select_from(cases).where(where)) or 0
            rows = db.execute(
                select(cases)
                .where(where)
                .order_by(cases.c.first_seen_us, cases.c.exception_id)
                .limit(query.limit)
                .offset(query.offset)
            )
            return CasePage(total, [_case_of(row) for row in rows])

    def queue_stats(self, now: datetime) -> dict[str, tuple[int, int, datetime | None]]:
        """Per owner queue: open cases, those overdue, and the oldest one's first_seen; snoozed ones left out."""
        at = to_micros(now)
        awake = and_(cases.c.status == "open", or_(cases.c.snoozed_until_us.is_(None), cases.c.snoozed_until_us <= at))
        query = (
            select(
                cases.c.owner_queue,
                func.count(),
                func.sum(sql_case((cases.c.due_at_us < at, 1), else_=0)),
                func.min(cases.c.first_seen_us),
            )
            .where(awake)
            .group_by(cases.c.owner_queue)
        )
        with self.reader.connect() as db:
            return {
                owner: (count, int(late or 0), from_micros(oldest) if oldest is not None else None)
                for owner, count, late, oldest in db.execute(query)
            }

    def verify(self) -> tuple[int, str | None]:
        """(entries checked, None) when the timeline's hash chain holds, else where it breaks."""
        head = _GENESIS
        checked = 0
        with self.reader.connect() as db:
            for row in db.execute(select(case_actions).order_by(case_actions.c.seq)).yield_per(1000):
                checked += 1
                if row.seq != checked:
                    return checked, f"seq {row.seq} where {checked} was expected"
                if row.prev != head:
                    return checked, f"seq {row.seq}: prev does not match the hash of the entry before"
                if chain_hash(head, _entry(row.seq, _action_of(row), head)) != row.hash:
                    return checked, f"seq {row.seq}: hash does not match the entry's content"
                head = row.hash
            kept = db.execute(select(audit_head)).one()
            if (kept.seq, kept.hash) != (checked, head):
                return checked, f"the head says seq {kept.seq}, the chain ends at {checked}"
        return checked, None


_GENESIS = "0" * 64


class _Chain:
    """The head of the timeline's hash chain inside one write transaction."""

    def __init__(self, seq: int, head: str) -> None:
        self.seq, self.head = seq, head

    @classmethod
    def locked(cls, db: Connection) -> _Chain:
        row = db.execute(select(audit_head).where(audit_head.c.id == 1).with_for_update()).one()
        return cls(row.seq, row.hash)

    def append(self, db: Connection, action: CaseAction) -> None:
        self.seq += 1
        entry = _entry(self.seq, action, self.head)
        digest = chain_hash(self.head, entry)
        db.execute(
            insert(case_actions).values(
                seq=self.seq,
                exception_id=action.exception_id,
                kind=action.kind.value,
                actor=action.actor,
                at_us=to_micros(action.at),
                note=action.note,
                before=orjson.dumps(action.before, option=orjson.OPT_SORT_KEYS).decode(),
                after=orjson.dumps(action.after, option=orjson.OPT_SORT_KEYS).decode(),
                prev=self.head,
                hash=digest,
            )
        )
        self.head = digest

    def commit(self, db: Connection) -> None:
        db.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=self.seq, hash=self.head))


def _entry(seq: int, action: CaseAction, prev: str) -> dict[str, Any]:
    """What an action's hash covers: the same shape as a record of the run's audit log."""
    return {
        "seq": seq,
        "exception_id": action.exception_id,
        "kind": action.kind.value,
        "actor": action.actor,
        "at": iso(action.at),
        "note": action.note,
        "before": action.before,
        "after": action.after,
        "prev": prev,
    }


def _load(db: Connection, exception_ids: Sequence[str]) -> dict[str, Case]:
    found: dict[str, Case] = {}
    for start in range(0, len(exception_ids), _CHUNK):
        chunk = exception_ids[start : start + _CHUNK]
        for row in db.execute(select(cases).where(cases.c.exception_id.in_(chunk))):
            found[row.exception_id] = _case_of(row)
    return found


def _save(db: Connection, changed: dict[str, Case], existing: set[str]) -> None:
    """Write changed cases: `existing` are the ids the database held when the transaction read them."""
    ids = sorted(changed)
    new = [_row(changed[i]) for i in ids if i not in existing]
    if new:
        db.execute(insert(cases), new)
    for exception_id in ids:
        if exception_id in existing:
            db.execute(update(cases).where(cases.c.exception_id == exception_id).values(**_row(changed[exception_id])))
    for exception_id in ids:
        _save_refs(db, changed[exception_id], exception_id in existing)


def _save_refs(db: Connection, case: Case, existed: bool) -> None:
    if existed:
        db.execute(delete(case_refs).where(case_refs.c.exception_id == case.exception_id))
    refs = sorted(set(case.refs))
    if refs:
        db.execute(insert(case_refs), [{"ref": ref[:200], "exception_id": case.exception_id} for ref in refs])


def _row(case: Case) -> dict[str, Any]:
    return {
        "exception_id": case.exception_id,
        "category": case.category.value,
        "owner_queue": case.owner_queue.value,
        "severity": case.severity.value,
        "status": case.status.value,
        "engine_status": case.engine_status.value,
        "cause": case.cause,
        "refs": orjson.dumps(list(case.refs)).decode(),
        "reason": case.reason,
        "amount": str(case.amount) if case.amount is not None else None,
        "currency": case.currency,
        "correlation_id": case.correlation_id,
        "company_code": case.company_code,
        "vendor_id": case.vendor_id,
        "vendor_name": case.vendor_name,
        "first_seen_us": to_micros(case.first_seen),
        "due_at_us": to_micros(case.due_at),
        "assignee": case.assignee,
        "snoozed_until_us": _micros(case.snoozed_until),
        "resolution_code": case.resolution_code.value if case.resolution_code else None,
        "resolution_note": case.resolution_note,
        "resolved_by": case.resolved_by,
        "resolved_at_us": _micros(case.resolved_at),
        "version": case.version,
        "updated_at_us": to_micros(case.updated_at),
    }


def _case_of(row: Any) -> Case:
    return Case(
        exception_id=row.exception_id,
        category=row.category,
        owner_queue=row.owner_queue,
        severity=row.severity,
        status=row.status,
        engine_status=row.engine_status,
        cause=row.cause,
        refs=tuple(orjson.loads(row.refs)),
        reason=row.reason,
        amount=row.amount,
        currency=row.currency,
        correlation_id=row.correlation_id,
        company_code=row.company_code,
        vendor_id=row.vendor_id,
        vendor_name=row.vendor_name,
        first_seen=from_micros(row.first_seen_us),
        due_at=from_micros(row.due_at_us),
        assignee=row.assignee,
        snoozed_until=_time(row.snoozed_until_us),
        resolution_code=row.resolution_code,
        resolution_note=row.resolution_note,
        resolved_by=row.resolved_by,
        resolved_at=_time(row.resolved_at_us),
        version=row.version,
        updated_at=from_micros(row.updated_at_us),
    )


def _action_of(row: Any) -> CaseAction:
    return CaseAction(
        exception_id=row.exception_id,
        kind=row.kind,
        actor=row.actor,
        at=from_micros(row.at_us),
        note=row.note,
        before=orjson.loads(row.before),
        after=orjson.loads(row.after),
    )


def _micros(value: datetime | None) -> int | None:
    return to_micros(value) if value is not None else None


def _time(value: int | None) -> datetime | None:
    return from_micros(value) if value is not None else None


def _where(query: CaseQuery) -> Any:
    conditions: list[Any] = []
    if query.queues is not None:
        conditions.append(cases.c.owner_queue.in_(sorted(query.queues)))
    for name in ("owner", "category", "severity", "status", "assignee", "company_code"):
        value = getattr(query, name)
        if value is not None:
            column = cases.c.owner_queue if name == "owner" else cases.c[name]
            conditions.append(column == value)
    if query.vendor:
        vendor = query.vendor.strip()
        named = func.lower(cases.c.vendor_name).contains(vendor.lower(), autoescape=True)
        conditions.append(or_(cases.c.vendor_id == vendor, named))
    if query.first_seen_before is not None:
        conditions.append(cases.c.first_seen_us < to_micros(query.first_seen_before))
    if query.overdue_at is not None:
        conditions.append(and_(cases.c.status == "open", cases.c.due_at_us < to_micros(query.overdue_at)))
    if query.not_snoozed_at is not None:
        at = to_micros(query.not_snoozed_at)
        conditions.append(or_(cases.c.snoozed_until_us.is_(None), cases.c.snoozed_until_us <= at))
    if query.search:
        text = query.search.strip()
        by_ref = select(case_refs.c.exception_id).where(case_refs.c.ref == text)
        conditions.append(
            or_(
                cases.c.exception_id == text,
                cases.c.correlation_id == text,
                cases.c.exception_id.in_(by_ref),
                cases.c.vendor_id == text,
                func.lower(cases.c.vendor_name).contains(text.lower(), autoescape=True),
                func.lower(cases.c.reason).contains(text.lower(), autoescape=True),
            )
        )
    return and_(*conditions) if conditions else and_(True)
