"""What an engine record does to a case, and which actions people may take (matchers/cases.py), table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from reconstream.matchers import cases as decide
from reconstream.models.cases import ENGINE, ActionKind, Actor, Case, CaseCommand, CaseStatus, ResolutionCode, Role
from reconstream.models.exceptions import Category, ExceptionStatus, ReconException, raise_exception

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(hours=5)
CLERK = Actor(name="ana.ap", role=Role.AP_CLERK)


def raised(
    amount: str = "1190.00", reason: str = "invoice INV-7 looks like INV-7A of the same supplier"
) -> ReconException:
    return raise_exception(
        Category.DUPLICATE_INVOICE, ("I7", "I7A"), reason, AT, amount=Decimal(amount), currency="EUR"
    )


def resolved_by_engine(exception: ReconException) -> ReconException:
    return exception.model_copy(
        update={"status": ExceptionStatus.RESOLVED, "resolved_at": LATER, "resolution": "posting confirmed"}
    )


def opened() -> Case:
    change = decide.project(None, raised(), AT)
    assert change is not None
    return change.case


def resolved_by_clerk() -> Case:
    outcome = decide.act(
        opened(),
        CaseCommand(kind=ActionKind.RESOLVED, resolution_code=ResolutionCode.DUPLICATE_CONFIRMED_BLOCKED),
        CLERK,
        LATER,
    )
    assert isinstance(outcome, decide.Change)
    return outcome.case


def test_a_new_exception_opens_a_case_with_one_raised_entry() -> None:
    change = decide.project(None, raised(), AT)
    assert change is not None
    assert change.case.status is CaseStatus.OPEN and change.case.version == 1
    assert [a.kind for a in change.actions] == [ActionKind.RAISED]
    assert change.actions[0].actor == ENGINE


def test_an_exception_first_seen_already_resolved_opens_and_closes_its_case() -> None:
    change = decide.project(None, resolved_by_engine(raised()), LATER)
    assert change is not None
    assert [a.kind for a in change.actions] == [ActionKind.RAISED, ActionKind.ENGINE_RESOLVED]
    assert change.case.status is CaseStatus.RESOLVED
    assert change.case.resolution_code is ResolutionCode.RESOLVED_BY_ENGINE


@pytest.mark.parametrize(
    ("case", "record", "expected"),
    [
        # (the case before, what the engine emits, (status after, timeline entry) or None for no change)
        pytest.param(opened, raised, None, id="same cause on an open case: nothing"),
        pytest.param(resolved_by_clerk, raised, None, id="same cause on a person's resolution: it stands"),
        pytest.param(
            resolved_by_clerk,
            lambda: raised(amount="1290.00"),
            (CaseStatus.OPEN, ActionKind.CAUSE_CHANGED),
            id="new amount reopens a person's resolution",
        ),
        pytest.param(
            resolved_by_clerk,
            lambda: raised(reason="now also the same IBAN"),
            (CaseStatus.OPEN, ActionKind.CAUSE_CHANGED),
            id="new evidence reopens",
        ),
        pytest.param(
            opened,
            lambda: resolved_by_engine(raised()),
            (CaseStatus.RESOLVED, ActionKind.ENGINE_RESOLVED),
            id="the engine resolves an open case",
        ),
        pytest.param(
            resolved_by_clerk,
            lambda: resolved_by_engine(raised()),
            (CaseStatus.RESOLVED, ActionKind.ENGINE_RESOLVED),
            id="the engine resolving a person's case keeps the person's resolution",
        ),
        pytest.param(
            lambda: decide.project(opened(), resolved_by_engine(raised()), LATER).case,  # type: ignore[union-attr]
            raised,
            None,
            id="a replayed raise from before the engine's resolution: nothing",
        ),
        pytest.param(
            lambda: decide.project(opened(), resolved_by_engine(raised()), LATER).case,  # type: ignore[union-attr]
            lambda: raised().model_copy(update={"first_seen": LATER + timedelta(days=1)}),
            (CaseStatus.OPEN, ActionKind.REOPENED),
            id="a raise after the engine's resolution reopens",
        ),
    ],
)
def test_engine_records(case, record, expected) -> None:  # type: ignore[no-untyped-def]
    before = case()
    change = decide.project(before, record(), LATER)
    if expected is None:
        assert change is None
        return
    assert change is not None
    status, kind = expected
    assert change.case.status is status
    assert [a.kind for a in change.actions] == [kind]
    assert change.case.version == before.version + 1


def test_a_changed_cause_says_what_changed_and_clears_the_resolution() -> None:
    change = decide.project(resolved_by_clerk(), raised(amount="1290.00"), LATER)
    assert change is not None
    assert change.actions[0].note == "cause changed: amount 1190.00 EUR -> 1290.00 EUR"
    assert change.case.resolution_code is None and change.case.resolved_by is None
    assert change.actions[0].before["status"] == "resolved" and change.actions[0].after["status"] == "open"


def test_a_persons_resolution_is_kept_when_the_engine_resolves_too() -> None:
    change = decide.project(resolved_by_clerk(), resolved_by_engine(raised()), LATER)
    assert change is not None
    assert change.case.resolution_code is ResolutionCode.DUPLICATE_CONFIRMED_BLOCKED
    assert change.case.resolved_by == "ana.ap" and change.case.engine_status is ExceptionStatus.RESOLVED


@pytest.mark.parametrize(
    ("actor", "command", "code", "field"),
    [
        (
            Actor(name="tom", role=Role.TREASURY_ANALYST),
            CaseCommand(kind=ActionKind.COMMENTED, note="x"),
            "forbidden",
            "role",
        ),
        (Actor(name="ada", role=Role.AUDITOR), CaseCommand(kind=ActionKind.COMMENTED, note="x"), "forbidden", "role"),
        (CLERK, CaseCommand(kind=ActionKind.COMMENTED, note="x", expected_version=7), "conflict", "expected_version"),
        (CLERK, CaseCommand(kind=ActionKind.RAISED), "invalid", "kind"),
        (CLERK, CaseCommand(kind=ActionKind.ASSIGNED), "invalid", "assignee"),
        (CLERK, CaseCommand(kind=ActionKind.COMMENTED), "invalid", "note"),
        (CLERK, CaseCommand(kind=ActionKind.RESOLVED), "invalid", "resolution_code"),
        (CLERK, CaseCommand(kind=ActionKind.REOPENED), "invalid", "status"),
        (CLERK, CaseCommand(kind=ActionKind.SNOOZED, snoozed_until=AT), "invalid", "snoozed_until"),
        (CLERK, CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=("I1",)), "invalid", "kind"),
        (CLERK, CaseCommand(kind=ActionKind.MANUALLY_MATCHED), "invalid", "invoice_ids"),
        (
            CLERK,
            CaseCommand(kind=ActionKind.RESOLVED, resolution_code=ResolutionCode.RESOLVED_BY_ENGINE),
            "invalid",
            "resolution_code",
        ),
    ],
)
def test_refused_actions_name_the_field(actor: Actor, command: CaseCommand, code: str, field: str) -> None:
    outcome = decide.act(opened(), command, actor, LATER)
    assert isinstance(outcome, decide.Refusal)
    assert (outcome.code, outcome.field) == (code, field)


@pytest.mark.parametrize(
    ("command", "changed"),
    [
        (CaseCommand(kind=ActionKind.ASSIGNED, assignee="team:ap-dach"), {"assignee": "team:ap-dach"}),
        (CaseCommand(kind=ActionKind.COMMENTED, note="called the supplier"), {}),
        (
            CaseCommand(kind=ActionKind.SNOOZED, snoozed_until=LATER + timedelta(days=2)),
            {"snoozed_until": "2026-11-05T14:00:00Z"},
        ),
        (
            CaseCommand(kind=ActionKind.RESOLVED, resolution_code=ResolutionCode.WRITTEN_OFF, note="below threshold"),
            {
                "status": "resolved",
                "resolution_code": "written_off",
                "resolution_note": "below threshold",
                "resolved_by": "ana.ap",
                "resolved_at": "2026-11-03T14:00:00Z",
            },
        ),
    ],
)
def test_actions_record_before_and_after(command: CaseCommand, changed: dict[str, str]) -> None:
    outcome = decide.act(opened(), command, CLERK, LATER)
    assert isinstance(outcome, decide.Change)
    (entry,) = outcome.actions
    assert entry.kind is command.kind and entry.actor == "ana.ap" and entry.at == LATER
    assert entry.after == changed
    assert outcome.case.version == 2


def test_reopening_a_resolved_case_clears_its_resolution() -> None:
    outcome = decide.act(
        resolved_by_clerk(), CaseCommand(kind=ActionKind.REOPENED, note="supplier disputes"), CLERK, LATER
    )
    assert isinstance(outcome, decide.Change)
    assert outcome.case.status is CaseStatus.OPEN and outcome.case.resolution_code is None
    assert outcome.actions[0].before["resolution_code"] == "duplicate_confirmed_blocked"


TREASURY = Actor(name="tina", role=Role.TREASURY_ANALYST)


def unmatched_line() -> Case:
    exception = raise_exception(
        Category.UNMATCHED_SETTLEMENT, ("S-9",), "114.50 EUR booked 2026-11-05: no open payment or invoice fits",
        AT, amount=Decimal("114.50"), currency="EUR",
    )  # fmt: skip
    change = decide.project(None, exception, AT)
    assert change is not None
    return change.case


def test_a_manual_match_resolves_the_case_and_makes_one_engine_event() -> None:
    case = unmatched_line()
    command = CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=("I1", "I2"), note="charges taken")
    outcome = decide.act(case, command, TREASURY, LATER)
    assert isinstance(outcome, decide.Change)
    assert (outcome.case.status, outcome.case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.MANUALLY_MATCHED)
    (entry,) = outcome.actions
    assert entry.kind is ActionKind.MANUALLY_MATCHED and entry.after["invoice_ids"] == ["I1", "I2"]
    (event,) = outcome.events
    assert event["event_type"] == "settlement.matched_manually" and event["schema_version"] == 3
    assert event["payload"] == {"entry_id": "S-9", "invoice_ids": ["I1", "I2"], "matched_by": "tina",
                                "case_id": case.exception_id}  # fmt: skip
    again = decide.act(case, command, TREASURY, LATER + timedelta(minutes=1))
    assert isinstance(again, decide.Change) and again.events[0]["event_id"] == event["event_id"]  # same version seen
    closed = decide.act(outcome.case, command, TREASURY, LATER)
    assert isinstance(closed, decide.Refusal) and closed.field == "status"  # a resolved line is not matched twice


def test_only_treasury_matches_a_bank_line() -> None:
    refused = decide.act(
        unmatched_line(), CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=("I1",)), CLERK, LATER
    )
    assert isinstance(refused, decide.Refusal) and refused.code == "forbidden"
