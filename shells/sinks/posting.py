"""ERP posting as a sink: each posting request the engine emits is put in the posting queue at the
checkpoint, routed to the ERP of its company code. The queue is keyed by the posting id, so a resumed run
enqueues nothing twice. Posting itself runs apart (shells/erp/service.py), beside the run and after it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from reconstream.models.errors import InvariantBroken
from reconstream.models.outputs import OutputStream, PostingRequest
from reconstream.streams import Output

from ..erp.queue import NewPosting, PostingQueue
from ..outputs import record_json
from .base import Sink


def new_posting(request: PostingRequest, body: bytes, routes: Mapping[str, str]) -> NewPosting:
    return NewPosting(
        posting_id=request.posting_id,
        erp=routes.get(request.company_code),
        invoice_id=request.invoice_id,
        company_code=request.company_code,
        due_date=request.due_date.isoformat() if request.due_date else None,
        approved_at=request.approved_at.isoformat(),
        request=body,
    )


class PostingSink(Sink):
    name = "erp_posting"

    def __init__(
        self,
        queue: PostingQueue,
        routes: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        on_request: Callable[[NewPosting], None] | None = None,
    ) -> None:
        self.queue = queue
        self.routes = routes  # company code -> ERP name; a code without one waits in the queue as unrouted
        self.clock = clock
        self.on_request = on_request  # who waits for the verdicts (shells/erp/running.py)
        self._pending: list[NewPosting] = []

    def add(self, output: Output, position: int) -> None:
        if output.stream != OutputStream.POSTING_REQUESTS:
            return
        request = output.record
        if not isinstance(request, PostingRequest):
            raise InvariantBroken(f"a {type(request).__name__} on the posting_requests stream")
        posting = new_posting(request, record_json(output), self.routes)
        self._pending.append(posting)
        if self.on_request is not None:
            self.on_request(posting)

    def flush(self) -> dict[str, Any] | None:
        if self._pending:
            self.queue.enqueue(self._pending, self.clock())
            self._pending = []
        return None
