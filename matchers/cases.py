"""Decisions about cases: what an exception from the engine does to its case, and whether a person's action
is allowed and what it changes. Pure: a case and an input in, the new case and its timeline entries out.

The rule the finance team relies on: a human resolution stands while the engine says the same thing again
(a re-run, a replay); only a changed cause (another amount, other evidence) reopens the case, and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from reconstream.models.base import iso
from reconstream.models.cases import (
    ENGINE,
    ActionKind,
    Actor,
    Case,
    CaseAction,
    CaseCommand,
    CaseStatus,
    ResolutionCode,
    may_act,
)
from reconstream.models.exceptions import Category, ExceptionStatus, ReconException
from reconstream.models.ids import stable_id


@dataclass(frozen=True, slots=True)
class Change:
    case: Case
    actions: tuple[CaseAction, ...]
    # Input events for the engine the change makes (a manual match), stored with it and applied by the next run.
    events: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an action was not taken: `code` is forbidden, conflict or invalid; `field` names what is wrong."""

    code: str
    field: str
    message: str


FORBIDDEN, CONFLICT, INVALID = "forbidden", "conflict", "invalid"
MANUAL_MATCH = "settlement.matched_manually"
CASE_STORE = "reconstream-cases"  # the source_system of the events people's actions make

# What the engine says about an exception's cause; the rest (status, severity from the amount) follows.
_CAUSE_FIELDS = ("category", "refs", "reason", "amount", "currency")
_PARTY_FIELDS = ("company_code", "vendor_id", "vendor_name")  # who it concerns: kept up to date, not a cause


def cause_of(exception: ReconException) -> str:
    parts = [str(getattr(exception, name)) for name in _CAUSE_FIELDS]
    return stable_id("cause", *parts)


# -- the engine's side ----------------------------------------------------------------------------------
def project(case: Case | None, exception: ReconException, at: datetime) -> Change | None:
    """The case after the engine emitted `exception` (raised, raised again or resolved); None if unchanged."""
    if case is None:
        return _opened(exception, at)
    if exception.status is ExceptionStatus.RESOLVED:
        return _engine_resolved(case, exception, at)
    cause = cause_of(exception)
    if cause != case.cause:
        return _cause_changed(case, exception, cause, at)
    if case.status is CaseStatus.RESOLVED and case.resolved_by == ENGINE:
        # A raise from before the engine's resolution is history told again (a re-run, a replay); one from
        # after it is new, and the case follows the engine.
        if case.resolved_at is not None and exception.first_seen <= case.resolved_at:
            return None
        return _reopened_by_engine(case, exception, at)
    if case.engine_status is not ExceptionStatus.OPEN:
        return _changed(case, {"engine_status": ExceptionStatus.OPEN}, ActionKind.RAISED, ENGINE, at, exception.reason)
    return None  # the same cause again: an open case stays as it is, a person's resolution stands


def _opened(exception: ReconException, at: datetime) -> Change:
    case = Case(
        exception_id=exception.exception_id,
        category=exception.category,
        owner_queue=exception.owner_queue,
        severity=exception.severity,
        status=CaseStatus.OPEN,
        engine_status=ExceptionStatus.OPEN,
        cause=cause_of(exception),
        refs=exception.refs,
        reason=exception.reason,
        amount=exception.amount,
        currency=exception.currency,
        correlation_id=exception.correlation_id,
        company_code=exception.company_code,
        vendor_id=exception.vendor_id,
        vendor_name=exception.vendor_name,
        first_seen=exception.first_seen,
        due_at=exception.due_at,
        updated_at=at,
    )
    raised = _action(case, ActionKind.RAISED, ENGINE, at, exception.reason, {}, {"status": CaseStatus.OPEN.value})
    if exception.status is ExceptionStatus.RESOLVED:
        resolved = _engine_resolved(case, exception, at)
        if resolved is not None:  # always, as a new case's engine status is open
            return Change(resolved.case, (raised, *resolved.actions))
    return Change(case, (raised,))


def _engine_resolved(case: Case, exception: ReconException, at: datetime) -> Change | None:
    if case.engine_status is ExceptionStatus.RESOLVED:
        return None
    if case.status is CaseStatus.RESOLVED:  # a person closed it first: their resolution stays
        update: dict[str, Any] = {"engine_status": ExceptionStatus.RESOLVED}
    else:
        update = {
            "engine_status": ExceptionStatus.RESOLVED,
            "status": CaseStatus.RESOLVED,
            "resolution_code": ResolutionCode.RESOLVED_BY_ENGINE,
            "resolution_note": exception.resolution,
            "resolved_by": ENGINE,
            "resolved_at": exception.resolved_at or at,
            "snoozed_until": None,
        }
    return _changed(case, update, ActionKind.ENGINE_RESOLVED, ENGINE, at, exception.resolution)


def _cause_changed(case: Case, exception: ReconException, cause: str, at: datetime) -> Change | None:
    update: dict[str, Any] = {
        "cause": cause,
        "refs": exception.refs,
        "reason": exception.reason,
        "amount": exception.amount,
        "currency": exception.currency,
        "severity": exception.severity,
        "engine_status": ExceptionStatus.OPEN,
        **{name: getattr(exception, name) for name in _PARTY_FIELDS if getattr(exception, name) is not None},
        **_reopening(),
    }
    return _changed(case, update, ActionKind.CAUSE_CHANGED, ENGINE, at, _what_changed(case, exception))


def _reopened_by_engine(case: Case, exception: ReconException, at: datetime) -> Change | None:
    update = {"engine_status": ExceptionStatus.OPEN, **_reopening()}
    return _changed(case, update, ActionKind.REOPENED, ENGINE, at, f"raised again: {exception.reason}")


def _reopening() -> dict[str, Any]:
    return {
        "status": CaseStatus.OPEN,
        "resolution_code": None,
        "resolution_note": None,
        "resolved_by": None,
        "resolved_at": None,
    }


def _what_changed(case: Case, exception: ReconException) -> str:
    said = []
    if (case.amount, case.currency) != (exception.amount, exception.currency):
        said.append(f"amount {case.amount} {case.currency} -> {exception.amount} {exception.currency}")
    if case.refs != exception.refs:
        said.append(f"refs {', '.join(case.refs)} -> {', '.join(exception.refs)}")
    if case.reason != exception.reason:
        said.append(f"reason {case.reason!r} -> {exception.reason!r}")
    return "cause changed: " + "; ".join(said or ["category"])


# -- a person's side ------------------------------------------------------------------------------------
Check = Callable[[Case, CaseCommand, Actor, datetime], Refusal | None]


def _role_may_act(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    if may_act(actor.role, case.owner_queue):
        return None
    return Refusal(FORBIDDEN, "role", f"role {actor.role.value} may not act on the {case.owner_queue.value} queue")


def _same_version(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    if command.expected_version is None or command.expected_version == case.version:
        return None
    return Refusal(
        CONFLICT,
        "expected_version",
        f"the case changed meanwhile (version {case.version}, the action saw {command.expected_version}): reload it",
    )


def _a_person_action(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    if command.kind in _APPLY:
        return None
    allowed = ", ".join(kind.value for kind in _APPLY)
    return Refusal(INVALID, "kind", f"{command.kind.value} is the engine's to record; a person may: {allowed}")


def _fields_given(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    needed = _NEEDS.get(command.kind)
    if needed is None or getattr(command, needed) is not None:
        return None
    return Refusal(INVALID, needed, f"{command.kind.value} needs {needed}")


def _status_allows(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    if command.kind is ActionKind.REOPENED and case.status is not CaseStatus.RESOLVED:
        return Refusal(INVALID, "status", "only a resolved case can be reopened")
    closing = (ActionKind.RESOLVED, ActionKind.SNOOZED, ActionKind.MANUALLY_MATCHED)
    if command.kind in closing and case.status is not CaseStatus.OPEN:
        return Refusal(INVALID, "status", f"the case is {case.status.value}: reopen it first")
    return None


def _snooze_ahead(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    if command.kind is ActionKind.SNOOZED and command.snoozed_until is not None and command.snoozed_until <= at:
        return Refusal(INVALID, "snoozed_until", "must be in the future")
    return None


def _a_bank_line_to_match(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    if command.kind is ActionKind.MANUALLY_MATCHED and case.category is not Category.UNMATCHED_SETTLEMENT:
        return Refusal(INVALID, "kind", f"only an unmatched bank line is matched by hand, not {case.category.value}")
    return None


def _a_person_resolution(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Refusal | None:
    if command.resolution_code is ResolutionCode.RESOLVED_BY_ENGINE:
        return Refusal(INVALID, "resolution_code", "resolved_by_engine is recorded by the engine only")
    return None


# Every check in the order a refusal is reported: who may act, then whether the case is still as seen,
# then whether the action is well formed for the case's status.
CHECKS: tuple[Check, ...] = (
    _role_may_act,
    _same_version,
    _a_person_action,
    _fields_given,
    _status_allows,
    _snooze_ahead,
    _a_bank_line_to_match,
    _a_person_resolution,
)

_NEEDS = {
    ActionKind.ASSIGNED: "assignee",
    ActionKind.COMMENTED: "note",
    ActionKind.SNOOZED: "snoozed_until",
    ActionKind.RESOLVED: "resolution_code",
    ActionKind.MANUALLY_MATCHED: "invoice_ids",
}


def refusals(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> list[Refusal]:
    return [refusal for check in CHECKS if (refusal := check(case, command, actor, at)) is not None]


def act(case: Case, command: CaseCommand, actor: Actor, at: datetime) -> Change | Refusal:
    """A person's action on a case: the changed case and its timeline entry, or the first reason it is refused."""
    refused = refusals(case, command, actor, at)
    if refused:
        return refused[0]
    update = _APPLY[command.kind](command, at, actor)
    change = _recorded(case, update, command.kind, actor.name, at, command.note)  # a person's action, always
    if command.kind is not ActionKind.MANUALLY_MATCHED or command.invoice_ids is None:
        return change
    [action] = change.actions
    matched = action.model_copy(update={"after": {**action.after, "invoice_ids": list(command.invoice_ids)}})
    return Change(change.case, (matched,), (manual_match_event(case, command.invoice_ids, actor, at),))


def manual_match_event(case: Case, invoice_ids: tuple[str, ...], actor: Actor, at: datetime) -> dict[str, Any]:
    """The engine's input for a manual match (schema version 3). Its id is the case and the version the person
    saw: the same action sent twice is one event, and the engine applies it once."""
    return {
        "event_id": stable_id("manual-match", case.exception_id, str(case.version)),
        "event_type": MANUAL_MATCH,
        "schema_version": 3,
        "source_system": CASE_STORE,
        "event_time": iso(at),
        "correlation_id": case.correlation_id,
        "payload": {
            "entry_id": case.refs[0],  # an unmatched_settlement's first ref is the bank line's entry id
            "invoice_ids": list(invoice_ids),
            "matched_by": actor.name,
            "case_id": case.exception_id,
        },
    }


def _assign(command: CaseCommand, at: datetime, actor: Actor) -> dict[str, Any]:
    return {"assignee": command.assignee}


def _comment(command: CaseCommand, at: datetime, actor: Actor) -> dict[str, Any]:
    return {}


def _snooze(command: CaseCommand, at: datetime, actor: Actor) -> dict[str, Any]:
    return {"snoozed_until": command.snoozed_until}


def _resolve(command: CaseCommand, at: datetime, actor: Actor) -> dict[str, Any]:
    return {
        "status": CaseStatus.RESOLVED,
        "resolution_code": command.resolution_code,
        "resolution_note": command.note,
        "resolved_by": actor.name,
        "resolved_at": at,
        "snoozed_until": None,
    }


def _reopen(command: CaseCommand, at: datetime, actor: Actor) -> dict[str, Any]:
    return _reopening()


def _match_by_hand(command: CaseCommand, at: datetime, actor: Actor) -> dict[str, Any]:
    return {**_resolve(command, at, actor), "resolution_code": ResolutionCode.MANUALLY_MATCHED}


_APPLY: dict[ActionKind, Callable[[CaseCommand, datetime, Actor], dict[str, Any]]] = {
    ActionKind.ASSIGNED: _assign,
    ActionKind.COMMENTED: _comment,
    ActionKind.SNOOZED: _snooze,
    ActionKind.RESOLVED: _resolve,
    ActionKind.REOPENED: _reopen,
    ActionKind.MANUALLY_MATCHED: _match_by_hand,
}


# -- both ------------------------------------------------------------------------------------------------
def _changed(
    case: Case,
    update: dict[str, Any],
    kind: ActionKind,
    actor: str,
    at: datetime,
    note: str | None,
) -> Change | None:
    """The case after `update` and the timeline entry saying so; None when the update changes nothing."""
    if not any(getattr(case, name) != value for name, value in update.items()):
        return None
    return _recorded(case, update, kind, actor, at, note)


def _recorded(
    case: Case, update: dict[str, Any], kind: ActionKind, actor: str, at: datetime, note: str | None
) -> Change:
    """The case after `update` and its timeline entry, even when no field changes."""
    before = {name: _plain(getattr(case, name)) for name in update if getattr(case, name) != update[name]}
    after = {name: _plain(update[name]) for name in before}
    changed = case.model_copy(update={**update, "version": case.version + 1, "updated_at": at})
    return Change(changed, (_action(changed, kind, actor, at, note, before, after),))


def _action(
    case: Case,
    kind: ActionKind,
    actor: str,
    at: datetime,
    note: str | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> CaseAction:
    return CaseAction(
        exception_id=case.exception_id, kind=kind, actor=actor, at=at, note=note, before=before, after=after
    )


def _plain(value: Any) -> Any:
    """A field's value as the timeline keeps it (JSON: text for money, times and enums)."""
    if value is None:
        return None
    if isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return str(value)
