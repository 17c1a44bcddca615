"""Cases: an exception as a finance team works it. Who holds it, what was said, how it was closed.

The engine raises and resolves exceptions; people assign, comment, snooze, resolve and reopen the case
that carries each one. Roles say which owner queues a person sees and acts on (design.md's owners).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from .base import Record, UtcDatetime
from .exceptions import Category, ExceptionStatus, OwnerQueue, Severity
from .money import CurrencyCode, SignedAmount

ENGINE = "engine"  # the actor of what the engine decided


class Role(StrEnum):
    AP_CLERK = "ap_clerk"
    VENDOR_MASTER = "vendor_master"
    TREASURY_ANALYST = "treasury_analyst"
    INTEGRATION_ENGINEER = "integration_engineer"
    AUDITOR = "auditor"  # reads everything, the audit included; acts on nothing
    ADMIN = "admin"


ROLE_QUEUES: dict[Role, frozenset[OwnerQueue]] = {
    Role.AP_CLERK: frozenset({OwnerQueue.AP}),
    Role.VENDOR_MASTER: frozenset({OwnerQueue.VENDOR_MASTER}),
    Role.TREASURY_ANALYST: frozenset({OwnerQueue.TREASURY}),
    Role.INTEGRATION_ENGINEER: frozenset({OwnerQueue.INTEGRATION}),
    Role.AUDITOR: frozenset(OwnerQueue),
    Role.ADMIN: frozenset(OwnerQueue),
}
ACTING_ROLES = frozenset(Role) - {Role.AUDITOR}
# Who needs a whole account number: vendor master checks bank details, treasury pays; others see it masked.
FULL_ACCOUNT_ROLES = frozenset({Role.VENDOR_MASTER, Role.TREASURY_ANALYST, Role.ADMIN})


class CaseStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ResolutionCode(StrEnum):
    CORRECTED_AT_SOURCE = "corrected_at_source"
    WRITTEN_OFF = "written_off"
    MANUALLY_MATCHED = "manually_matched"
    DUPLICATE_CONFIRMED_BLOCKED = "duplicate_confirmed_blocked"
    VENDOR_CONTACTED = "vendor_contacted"
    NOT_AN_ERROR = "not_an_error"
    RESOLVED_BY_ENGINE = "resolved_by_engine"  # the engine saw the cause go away (an ack came, a line paid it)


class ActionKind(StrEnum):
    RAISED = "raised"
    ENGINE_RESOLVED = "engine_resolved"
    CAUSE_CHANGED = "cause_changed"  # the engine raised it again with another amount or other evidence
    ASSIGNED = "assigned"
    COMMENTED = "commented"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    MANUALLY_MATCHED = "manually_matched"  # a bank line matched by hand: resolves the case, goes to the engine


class Case(Record):
    exception_id: str
    category: Category
    owner_queue: OwnerQueue
    severity: Severity
    status: CaseStatus
    engine_status: ExceptionStatus
    cause: str = Field(description="digest of what the engine said caused it: a change reopens a resolved case")
    refs: tuple[str, ...]
    reason: str
    amount: SignedAmount | None = None
    currency: CurrencyCode | None = None
    correlation_id: str | None = None
    company_code: str | None = None
    vendor_id: str | None = None
    vendor_name: str | None = None
    first_seen: UtcDatetime
    due_at: UtcDatetime
    assignee: str | None = Field(default=None, description="a person, or a team as 'team:<name>'")
    snoozed_until: UtcDatetime | None = None
    resolution_code: ResolutionCode | None = None
    resolution_note: str | None = None
    resolved_by: str | None = None
    resolved_at: UtcDatetime | None = None
    version: int = Field(default=1, ge=1, description="bumped by every change: an action names the version it saw")
    updated_at: UtcDatetime


class CaseAction(Record):
    """One entry of a case's timeline: who did what when, and the fields it changed (before, after)."""

    exception_id: str
    kind: ActionKind
    actor: str
    at: UtcDatetime
    note: str | None = None
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)


class CaseCommand(Record):
    """What a person asks to do to a case. `expected_version` refuses an action on a case changed meanwhile."""

    kind: ActionKind
    note: str | None = Field(default=None, max_length=4000)
    assignee: str | None = Field(default=None, min_length=1, max_length=200)
    snoozed_until: UtcDatetime | None = None
    resolution_code: ResolutionCode | None = None
    invoice_ids: tuple[str, ...] | None = Field(
        default=None, min_length=1, max_length=20, description="what an unmatched bank line pays, for a manual match"
    )
    expected_version: int | None = None


class Actor(Record):
    name: str = Field(min_length=1, max_length=200)
    role: Role


def may_see(role: Role, queue: OwnerQueue) -> bool:
    return queue in ROLE_QUEUES[role]


def may_act(role: Role, queue: OwnerQueue) -> bool:
    return role in ACTING_ROLES and may_see(role, queue)


def is_snoozed(case: Case, now: datetime) -> bool:
    return case.status is CaseStatus.OPEN and case.snoozed_until is not None and case.snoozed_until > now
