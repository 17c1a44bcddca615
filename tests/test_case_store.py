"""The case store on SQLite and on a real PostgreSQL server (tests/postgres_server.py): migrations,
idempotent projection, people's actions with optimistic versions, the hash-chained timeline, queries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from postgres_server import PostgresServer
from reconstream.matchers import cases as decide
from reconstream.models.cases import ActionKind, Actor, CaseCommand, CaseStatus, ResolutionCode, Role
from reconstream.models.exceptions import Category, ExceptionStatus, ReconException, raise_exception
from reconstream.shells.cases import DatabaseConfigError
from reconstream.shells.cases.database import database_url
from reconstream.shells.cases.schema import case_actions
from reconstream.shells.cases.store import CaseQuery, CaseStore
from sqlalchemy import update

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
CLERK = Actor(name="ana.ap", role=Role.AP_CLERK)


def exception(n: int, category: Category = Category.DUPLICATE_INVOICE, amount: str = "100.00") -> ReconException:
    return raise_exception(
        category,
        (f"INV-{n}", f"E2E-{n}"),
        f"case {n} of Nordwind Logistik",
        AT + timedelta(minutes=n),
        correlation_id=f"corr-{n}",
        amount=Decimal(amount),
        currency="EUR",
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaseStore]:
    if request.param == "sqlite":
        url = database_url(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("RECON_TEST_DB_PASSWORD", server.password)
        url = database_url(server.url(server.create_database()), password_env="RECON_TEST_DB_PASSWORD")
    opened = CaseStore.open(url)
    try:
        yield opened
    finally:
        opened.close()


def test_migrations_are_idempotent_and_match_the_schema(store: CaseStore) -> None:
    from reconstream.shells.cases.database import migrate
    from reconstream.shells.cases.schema import metadata
    from sqlalchemy import inspect

    migrate(store.writer)  # a second time: nothing to do
    inspector = inspect(store.writer)
    for table in metadata.sorted_tables:
        migrated = {column["name"] for column in inspector.get_columns(table.name)}
        assert migrated == {column.name for column in table.columns}, table.name


def test_projection_is_exactly_once_per_source_position(store: CaseStore) -> None:
    records = [(1, exception(1)), (2, exception(2)), (3, exception(3, Category.MISSING_ACK))]
    first = store.project("run:a", records)
    assert (first.applied, first.skipped, first.actions) == (3, 0, 3)
    again = store.project("run:a", [*records, (4, exception(4))])  # a resume re-emits 1-3, then goes on
    assert (again.applied, again.skipped, again.actions) == (1, 3, 1)
    assert store.position("run:a") == 4
    assert store.find(CaseQuery()).total == 4
    assert store.verify() == (4, None)


def test_a_persons_resolution_survives_a_rerun_and_a_changed_cause_reopens(store: CaseStore) -> None:
    store.project("run:a", [(1, exception(1))])
    resolved = store.act(
        exception(1).exception_id,
        CaseCommand(kind=ActionKind.RESOLVED, resolution_code=ResolutionCode.DUPLICATE_CONFIRMED_BLOCKED),
        CLERK,
        AT + timedelta(hours=1),
    )
    assert isinstance(resolved, decide.Change)
    store.project("run:b", [(1, exception(1))])  # the next run raises the same cause
    case = store.get(exception(1).exception_id)
    assert case is not None and case.status is CaseStatus.RESOLVED and case.resolved_by == "ana.ap"
    store.project("run:c", [(1, exception(1, amount="150.00"))])
    case = store.get(exception(1).exception_id)
    assert case is not None and case.status is CaseStatus.OPEN
    kinds = [action.kind for _, action in store.timeline(case.exception_id)]
    assert kinds == [ActionKind.RAISED, ActionKind.RESOLVED, ActionKind.CAUSE_CHANGED]
    assert store.verify() == (3, None)


def test_an_engine_resolution_closes_the_case(store: CaseStore) -> None:
    raised = exception(5, Category.MISSING_ACK)
    store.project("run:a", [(1, raised)])
    resolved = raised.model_copy(
        update={"status": ExceptionStatus.RESOLVED, "resolved_at": AT + timedelta(days=1), "resolution": "ack came"}
    )
    store.project("run:a", [(2, resolved)])
    case = store.get(raised.exception_id)
    assert case is not None and case.status is CaseStatus.RESOLVED
    assert case.resolution_code is ResolutionCode.RESOLVED_BY_ENGINE and case.resolution_note == "ack came"


def test_an_action_on_a_changed_case_is_refused_and_changes_nothing(store: CaseStore) -> None:
    store.project("run:a", [(1, exception(1))])
    case_id = exception(1).exception_id
    assigned = store.act(case_id, CaseCommand(kind=ActionKind.ASSIGNED, assignee="ben", expected_version=1), CLERK, AT)
    assert isinstance(assigned, decide.Change)
    stale = store.act(case_id, CaseCommand(kind=ActionKind.ASSIGNED, assignee="cy", expected_version=1), CLERK, AT)
    assert isinstance(stale, decide.Refusal) and stale.code == "conflict"
    auditor = store.act(
        case_id, CaseCommand(kind=ActionKind.COMMENTED, note="x"), Actor(name="au", role=Role.AUDITOR), AT
    )
    assert isinstance(auditor, decide.Refusal) and auditor.code == "forbidden"
    missing = store.act("exc-none", CaseCommand(kind=ActionKind.COMMENTED, note="x"), CLERK, AT)
    assert isinstance(missing, decide.Refusal) and missing.code == "not_found"
    case = store.get(case_id)
    assert case is not None and case.assignee == "ben" and case.version == 2
    assert len(store.timeline(case_id)) == 2


def test_concurrent_actions_keep_one_unbroken_chain(store: CaseStore) -> None:
    store.project("run:a", [(n, exception(n)) for n in range(1, 11)])
    errors: list[BaseException] = []

    def comment(n: int) -> None:
        try:
            for i in range(5):
                outcome = store.act(
                    exception(n).exception_id, CaseCommand(kind=ActionKind.COMMENTED, note=f"note {i}"), CLERK, AT
                )
                assert isinstance(outcome, decide.Change)
        except BaseException as exc:  # collected: an assertion in a thread would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=comment, args=(n,)) for n in range(1, 11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.verify() == (60, None)


def test_a_rewritten_timeline_entry_breaks_the_chain(store: CaseStore) -> None:
    store.project("run:a", [(1, exception(1)), (2, exception(2))])
    store.act(exception(1).exception_id, CaseCommand(kind=ActionKind.COMMENTED, note="ok"), CLERK, AT)
    with store.writer.begin() as db:
        db.execute(update(case_actions).where(case_actions.c.seq == 3).values(note="rewritten"))
    checked, problem = store.verify()
    assert checked == 3 and problem is not None and "hash does not match" in problem


def test_queries_filter_search_and_page_within_the_roles_queues(store: CaseStore) -> None:
    store.project(
        "run:a",
        [(n, exception(n, Category.DUPLICATE_INVOICE if n % 2 else Category.MISSING_ACK)) for n in range(1, 21)],
    )
    ap = frozenset({"ap"})
    assert store.find(CaseQuery(queues=ap)).total == 10
    assert store.find(CaseQuery(queues=frozenset({"treasury"}), category="missing_ack")).total == 10
    assert store.find(CaseQuery(queues=ap, category="missing_ack")).total == 0
    page = store.find(CaseQuery(queues=ap, limit=4, offset=4))
    assert page.total == 10 and [c.refs[0] for c in page.cases] == ["INV-9", "INV-11", "INV-13", "INV-15"]
    assert [c.refs[0] for c in store.find(CaseQuery(search="E2E-7")).cases] == ["INV-7"]
    assert [c.refs[0] for c in store.find(CaseQuery(search="corr-8")).cases] == ["INV-8"]
    assert store.find(CaseQuery(search="nordwind")).total == 20
    assert store.find(CaseQuery(search="100%")).total == 0  # a LIKE wildcard is text, not a pattern
    assert store.find(CaseQuery(first_seen_before=AT + timedelta(minutes=3))).total == 2
    assert store.find(CaseQuery(overdue_at=AT + timedelta(days=30))).total == 20
    store.act(exception(3).exception_id, CaseCommand(kind=ActionKind.ASSIGNED, assignee="ben"), CLERK, AT)
    assert [c.refs[0] for c in store.find(CaseQuery(assignee="ben")).cases] == ["INV-3"]


def test_company_code_and_vendor_filter_and_search(store: CaseStore) -> None:
    parties = [("1000", "V1", "Nordwind Logistik GmbH"), ("2000", "V2", "Aubépine Holzbau"), (None, None, None)]
    records = [
        (n, exception(n).model_copy(update={"company_code": c, "vendor_id": v, "vendor_name": name}))
        for n, (c, v, name) in enumerate(parties, start=1)
    ]
    store.project("run:a", records)

    def found(**query: str) -> list[str | None]:
        return [case.vendor_id for case in store.find(CaseQuery(**query)).cases]  # type: ignore[arg-type]

    assert found(company_code="2000") == ["V2"]
    assert found(vendor="V1") == ["V1"]
    assert found(vendor="holzbau") == ["V2"]  # words of the name, any case, accents kept
    assert found(search="nordwind logistik gmbh") == ["V1"]
    assert store.get(records[0][1].exception_id).company_code == "1000"  # type: ignore[union-attr]


def test_money_and_times_come_back_exact(store: CaseStore) -> None:
    store.project("run:a", [(1, exception(1, amount="12345678901234567.89"))])
    case = store.get(exception(1).exception_id)
    assert case is not None
    assert case.amount == Decimal("12345678901234567.89") and str(case.amount) == "12345678901234567.89"
    assert case.first_seen == AT + timedelta(minutes=1)


def test_a_password_in_the_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(DatabaseConfigError) as refused:
        database_url("postgresql+psycopg://recon:s3cret-pw@db.example:5432/cases")
    assert "s3cret-pw" not in str(refused.value) and "password_env" in str(refused.value)


def test_a_missing_password_source_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RECON_NO_SUCH_PASSWORD", raising=False)
    with pytest.raises(DatabaseConfigError, match=r"\$RECON_NO_SUCH_PASSWORD is not set"):
        database_url("postgresql+psycopg://recon@db/cases", password_env="RECON_NO_SUCH_PASSWORD")
    with pytest.raises(DatabaseConfigError, match="cannot read"):
        database_url("postgresql+psycopg://recon@db/cases", password_file=tmp_path / "absent")
    (tmp_path / "pw").write_text("from-a-file\n")
    url = database_url("postgresql+psycopg://recon@db/cases", password_file=tmp_path / "pw")
    assert url.password == "from-a-file"
    assert "from-a-file" not in str(url)  # SQLAlchemy renders it masked


def test_a_manual_match_keeps_its_engine_event_in_the_actions_transaction(store: CaseStore) -> None:
    line = raise_exception(
        Category.UNMATCHED_SETTLEMENT, ("S-1",), "114.50 EUR booked: nothing fits", AT,
        amount=Decimal("114.50"), currency="EUR",
    )  # fmt: skip
    store.project("kafka:exceptions:0", [(1, line)], ledgers={line.exception_id: 3})
    treasury = Actor(name="tina", role=Role.TREASURY_ANALYST)
    store.act(line.exception_id, CaseCommand(kind=ActionKind.COMMENTED, note="looking"), treasury, AT)
    command = CaseCommand(kind=ActionKind.MANUALLY_MATCHED, invoice_ids=("I1",), expected_version=2)
    matched = store.act(line.exception_id, command, treasury, AT + timedelta(minutes=1))
    assert isinstance(matched, decide.Change)
    [(seq, stream, body)] = store.engine_events_after(0)
    assert stream == "manual_matches" and b'"invoice_ids":["I1"]' in body
    assert store.engine_events_after(seq) == []
    [sending] = store.events_to_send(0)
    assert (sending.seq, sending.ledger_partition, sending.event_id) == (seq, 3, matched.events[0]["event_id"])
    people = store.people_actions_after(0)
    assert [(action.kind, action.actor) for _, action, _ in people] == [
        (ActionKind.COMMENTED, "tina"), (ActionKind.MANUALLY_MATCHED, "tina")
    ]  # fmt: skip
    assert people[-1][0] == seq  # the event is keyed by its action's place in the chain
    store.mark("sent:t", seq)
    assert store.position("sent:t") == seq
