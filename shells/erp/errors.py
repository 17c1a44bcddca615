"""What an ERP call can end in besides a document: a refusal of the document itself, which no retry
changes, or the ERP being unreachable, slow, throttled or failing, which a later attempt may get past."""

from __future__ import annotations

from enum import StrEnum

from reconstream.models.errors import ReconError


class Cause(StrEnum):
    """Why an attempt did not get an answer about the document: the label of retry metrics."""

    THROTTLED = "throttled"  # 429, or the ERP's own "too many requests"
    SERVER_ERROR = "server_error"  # 5xx
    TIMEOUT = "timeout"  # no answer within the timeout: the ERP may have committed
    CONNECTION = "connection"  # refused, reset or dropped: the ERP may have committed
    AUTH = "auth"  # credentials refused or the token could not be had: nothing the document can fix


class ErpError(ReconError):
    """The root of every outcome of an ERP call that is not a posted document."""


class ErpRejected(ErpError):
    """The ERP refused the document (validation, closed period, blocked supplier): `message` is the ERP's own
    words, as its error body gave them, which the posting failure carries to AP."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class ErpUnavailable(ErpError):
    """The attempt got no verdict on the document. `maybe_committed` says the ERP may have created it anyway
    (a timeout, a connection dropped after the request was sent): before trying again, look it up."""

    def __init__(
        self, cause: Cause, detail: str, retry_after: float | None = None, maybe_committed: bool = False
    ) -> None:
        super().__init__(f"{cause.value}: {detail}")
        self.cause = cause
        self.detail = detail
        self.retry_after = retry_after
        self.maybe_committed = maybe_committed
