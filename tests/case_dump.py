"""The case store's content as plain rows, to compare two stores (a killed run's and an uninterrupted one's)."""

from __future__ import annotations

from typing import Any

from reconstream.shells.cases.schema import case_actions, cases
from reconstream.shells.cases.store import CaseStore
from sqlalchemy import select
from sqlalchemy.engine import URL


def dump(url: URL | str) -> dict[str, list[dict[str, Any]]]:
    store = CaseStore(url)
    try:
        with store.reader.connect() as db:
            return {
                "cases": [dict(row._mapping) for row in db.execute(select(cases).order_by(cases.c.exception_id))],
                "actions": [
                    dict(row._mapping) for row in db.execute(select(case_actions).order_by(case_actions.c.seq))
                ],
            }
    finally:
        store.close()
