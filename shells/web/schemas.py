"""Response shapes of the JSON API: the canonical records of `reconstream.models`, so the OpenAPI document
describes exactly what the engine writes (money as decimal strings, times in UTC)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from reconstream.models.exceptions import ReconException
from reconstream.models.outputs import ApStatus, CashPosition, Match, StatusUpdate


class CashPositions(BaseModel):
    as_of: datetime | None = Field(description="the run's event time when the positions were written")
    positions: list[CashPosition]


class ExceptionList(BaseModel):
    as_of: datetime | None = Field(description="the run's event time; an exception's age is measured against it")
    total: int
    items: list[ReconException] = Field(description="latest record per exception id, oldest first_seen first")


class StatusEntry(BaseModel):
    kind: Literal["status_update"]
    at: datetime
    record: StatusUpdate


class ExceptionEntry(BaseModel):
    kind: Literal["exception_raised", "exception_resolved"]
    at: datetime
    record: ReconException


class MatchEntry(BaseModel):
    kind: Literal["match"]
    at: datetime
    record: Match


TimelineEntry = Annotated[StatusEntry | ExceptionEntry | MatchEntry, Field(discriminator="kind")]


class InvoiceTimeline(BaseModel):
    invoice_id: str
    correlation_ids: list[str]
    status: ApStatus | None = Field(description="the latest status the AP platform was told")
    timeline: list[TimelineEntry] = Field(
        description="its status updates, exceptions and matches, and everything "
        "sharing its correlation id, in event-time order"
    )


class InFlightPayment(BaseModel):
    """A payment as the engine's status updates tell it: sent, and neither paid nor rejected since, with the
    instruction's amount, creditor and batch as the engine applied it (its amount counts in
    `in_flight_outgoing` of its account's cash position). Nothing is read from the run's input."""

    end_to_end_id: str
    invoice_ids: list[str]
    sent_at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    creditor_name: str | None = None
    batch_id: str | None = None
    debtor_account: str | None = None
