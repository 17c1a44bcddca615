"""What every handler works with: settings, the state tables, and an outbox of emitted records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple

from reconstream.matchers.bank_codes import CodeRule
from reconstream.matchers.duplicates import DuplicatePolicy
from reconstream.matchers.findings import Finding
from reconstream.matchers.payment_matching import MatchPolicy
from reconstream.matchers.policy import policy_version
from reconstream.matchers.three_way import AmountTolerance
from reconstream.models.base import Record
from reconstream.models.exceptions import (
    Category,
    ExceptionStatus,
    ReconException,
    SeverityPolicy,
    exception_id,
    raise_exception,
)
from reconstream.models.ids import stable_id
from reconstream.models.invoices import Invoice
from reconstream.models.outputs import ApStatus, OutputStream, PostingRequest, StatusUpdate, posting_id
from reconstream.tables.state import EngineState

from .open_items import OpenItems
from .parties import parties_of


@dataclass(frozen=True)
class Settings:
    """Windows are in event time; tolerances in the document currency. All explicit, all documented.

    The shells build it from the config file (shells/config.py); the defaults are the file's defaults.
    """

    amount_tolerance: AmountTolerance = field(default_factory=AmountTolerance)
    ack_window: timedelta = timedelta(hours=24)
    settlement_window: timedelta = timedelta(days=5)
    posting_sla: timedelta = timedelta(days=3)
    posting_hold: timedelta = timedelta(days=10)  # a line paying an invoice not yet posted waits this long
    clock_skew: timedelta = timedelta(days=1)  # an event dated further than this after its ingest time is refused
    match_policy: MatchPolicy = field(default_factory=MatchPolicy)  # thresholds and tolerances of bank matching
    duplicate_policy: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    severity: SeverityPolicy = field(default_factory=SeverityPolicy)
    account_companies: Mapping[str, str] = field(default_factory=dict)  # account key -> company code
    code_rules: tuple[CodeRule, ...] = ()  # the deployment's bank codes, before the published defaults
    # How long an applied id is remembered, so that the same event or bank line again changes nothing:
    # state stays bounded, and a replay older than this is applied again (docs/operations.md).
    event_id_window: timedelta | None = timedelta(days=90)
    bank_entry_window: timedelta | None = timedelta(days=400)  # statements are re-sent, corrected, re-imported
    paid_invoice_retention: timedelta | None = timedelta(days=400)  # a copy of it is still caught a year on

    @cached_property
    def policy_version(self) -> str:
        """Which decision policy made a match or raised an exception: a digest of everything that decides."""
        return policy_version(
            self.match_policy,
            self.duplicate_policy,
            self.amount_tolerance,
            self.posting_hold,
            self.settlement_window,
            self.code_rules,
        )


class Output(NamedTuple):
    """One emitted record and the output stream it belongs to."""

    stream: OutputStream
    record: Record


class Context:
    def __init__(self, state: EngineState, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.outbox: list[Output] = []
        self.open_items = OpenItems()  # derived from the state, rebuilt whenever it is missing or stale

    def emit(self, stream: OutputStream, record: Record) -> None:
        self.outbox.append(Output(stream, record))

    def drain(self) -> list[Output]:
        out, self.outbox = self.outbox, []
        return out

    def raise_finding(self, finding: Finding, at: datetime, correlation_id: str | None) -> ReconException | None:
        exception = raise_exception(
            finding.category,
            finding.refs,
            finding.reason,
            at,
            correlation_id,
            finding.amount,
            finding.currency,
            self.settings.severity,
            self.settings.policy_version,
        )
        if exception.exception_id in self.state.exceptions:
            return None  # the same cause seen again: never a second exception
        parties = parties_of(finding.refs, self)
        if any(parties):
            exception = exception.model_copy(update=parties._asdict())
        self.state.exceptions[exception.exception_id] = exception
        self.emit(OutputStream.EXCEPTIONS, exception)
        return exception

    def resolve(self, category: Category, primary_ref: str, at: datetime, resolution: str) -> None:
        key = exception_id(category, primary_ref)
        exception = self.state.exceptions.get(key)
        if exception is None or exception.status is ExceptionStatus.RESOLVED:
            return
        resolved = exception.model_copy(
            update={"status": ExceptionStatus.RESOLVED, "resolved_at": at, "resolution": resolution}
        )
        self.state.exceptions[key] = resolved
        self.emit(OutputStream.EXCEPTIONS, resolved)

    def request_posting(self, invoice: Invoice, correlation_id: str | None, at: datetime) -> None:
        request = PostingRequest(
            posting_id=posting_id(invoice.invoice_id),
            invoice_id=invoice.invoice_id,
            correlation_id=correlation_id,
            company_code=invoice.company_code,
            approved_at=at,
            due_date=invoice.due_date,
            invoice=invoice,
        )
        self.emit(OutputStream.POSTING_REQUESTS, request)

    def status_update(
        self, invoice_id: str, correlation_id: str | None, status: ApStatus, at: datetime, **fields: Any
    ) -> None:
        discriminator = str(fields.get("end_to_end_id") or "")
        update = StatusUpdate(
            update_id=stable_id("upd", invoice_id, status.value, discriminator),
            invoice_id=invoice_id,
            correlation_id=correlation_id,
            status=status,
            at=at,
            **fields,
        )
        self.emit(OutputStream.STATUS_UPDATES, update)
