"""The common part of the ERP simulators: a real HTTP server on loopback, the documents it created (its own
records, which tests count), credentials it checks, and faults injected from flags.

Each ERP's module (sim_sap.py, sim_oracle.py ...) subclasses `Simulator` with the routes of that ERP's API
and its error bodies. The faults are the ones that hurt a posting service: throttling with Retry-After,
5xx, answers slower than the client waits (after a commit, or stalled without one), connections dropped after
the document was committed (the hard case for idempotency), a concurrency cap answered with 429, an outage.
The simulator counts requests in flight, so a test can prove the posting service kept under its limit.

Whether a write request draws a fault is decided by the request itself, not by when it arrives: a digest of
the seed, the fault, what the request writes and how many times that was asked (`fault_drawn`). So a seed
gives every posting the same faults however the posting service's workers interleave, and a test that
passes once passes every time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass
class Faults:
    """What goes wrong, by rate per write request (drawn from the seed and the request, so a run repeats)."""

    throttle_rate: float = 0.0  # 429 with Retry-After, before anything is committed
    retry_after_seconds: float = 1.0
    server_error_rate: float = 0.0  # 500, before anything is committed
    slow_rate: float = 0.0  # committed, then answered after slow_seconds (past a client's timeout)
    slow_seconds: float = 0.0
    drop_after_commit_rate: float = 0.0  # committed, then the connection closed without an answer
    stall_rate: float = 0.0  # nothing committed, answered 504 only after slow_seconds (past a client's timeout)
    concurrency_limit: int | None = None  # requests in flight beyond it are answered 429
    down: bool = False  # every API request answered 503, as an ERP in maintenance
    stalled_suppliers: frozenset[str] = frozenset()  # every document of these stalls (a lock held in the ERP)
    stalled_documents: frozenset[tuple[str, str]] = frozenset()  # (supplier, invoice reference) that stall
    seed: int = 0

    def update(self, changes: Mapping[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"{name}: no such fault (known: {', '.join(sorted(known))})")
            if name == "stalled_suppliers":
                value = frozenset(value)
            elif name == "stalled_documents":
                value = frozenset((str(supplier), str(reference)) for supplier, reference in value)
            setattr(self, name, value)

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "stalled_suppliers": sorted(self.stalled_suppliers),
            "stalled_documents": sorted(self.stalled_documents),
        }


@dataclass(frozen=True)
class Rules:
    """How the simulated ERP judges a document, beyond the shape of its API: suppliers blocked for posting,
    a closed period (documents dated before `closed_before`), and single documents refused with a given
    validation error (a tax code, a cost center: what no rule of the simulator knows)."""

    blocked_suppliers: frozenset[str] = frozenset()
    closed_before: date | None = None
    # (supplier, invoice reference) -> the validation error the ERP answers for that document, as flags inject
    refused_documents: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(status, orjson.dumps(document), {"Content-Type": "application/json", **(headers or {})})


class DocumentStalled(Exception):
    """Raised by `create` for a stalled supplier: nothing is committed and the answer comes late."""


class DocumentRefused(Exception):
    """Raised by `create` for a document the rules refuse by name: nothing is committed, the ERP answers 400."""


class _Drop:
    """The answer that is no answer: the connection is closed after the handler committed."""


DROP = _Drop()
Handler = Callable[[Request, "re.Match[str]"], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    writes: bool = False  # the faults that hit after a commit apply to it


@dataclass
class SimDocument:
    """One document the simulated ERP created: the fields every test checks, and the body as received."""

    document_number: str
    fiscal_year: int
    supplier: str
    invoice_reference: str
    company_code: str
    gross_amount: str
    currency: str
    external_id: str | None
    created_at: str
    body: Any = None


class Simulator:
    kind: ClassVar[str]

    def __init__(
        self,
        faults: Faults | None = None,
        rules: Rules | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self.rules = rules or Rules()
        self.credentials = dict(credentials or {})
        self.lock = threading.RLock()
        self.documents: list[SimDocument] = []
        self.tokens: dict[str, float] = {}  # bearer token -> expiry (epoch seconds)
        self.stats: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.write_attempts: Counter[str] = Counter()  # a write's subject -> how many times it was asked
        self._numbers: Counter[int] = Counter()  # per fiscal year
        self.routes: list[Route] = self.api_routes()

    # -- what each ERP's module provides -------------------------------------------------------------------
    def api_routes(self) -> list[Route]:
        raise NotImplementedError

    def error_reply(self, status: int, message: str, code: str = "") -> Reply:
        """An error in this ERP's own body shape."""
        return Reply.json(status, {"error": {"code": code, "message": message}})

    def document_number(self, fiscal_year: int, sequence: int) -> str:
        return f"{sequence:010d}"

    # -- the common part ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply | _Drop:
        if request.path.startswith("/_sim/"):
            return self._control(request)
        for route in self.routes:
            match = route.pattern.fullmatch(request.path)
            if match is not None and route.method == request.method:
                return self._with_faults(route, request, match)
        return self.error_reply(404, f"no resource {request.method} {request.path}", "NOT_FOUND")

    def _with_faults(self, route: Route, request: Request, match: re.Match[str]) -> Reply | _Drop:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.stats["requests"] += 1
            over_limit = self.faults.concurrency_limit is not None and self.in_flight > self.faults.concurrency_limit
        try:
            faults = self.faults
            drawn = self._draws(request) if route.writes else _never
            if faults.down:
                self.stats["down"] += 1
                return self.error_reply(503, "the service is unavailable", "SERVICE_UNAVAILABLE")
            if over_limit:
                self.stats["over_concurrency_limit"] += 1
                return self.throttled_reply()
            if drawn("throttle", faults.throttle_rate):
                self.stats["throttled"] += 1
                return self.throttled_reply()
            if drawn("server_error", faults.server_error_rate):
                self.stats["server_error"] += 1
                return self.error_reply(500, "internal server error", "INTERNAL_ERROR")
            if drawn("stall", faults.stall_rate):
                self.stats["stalled"] += 1
                time.sleep(faults.slow_seconds)
                return self.error_reply(504, "the request took too long and was rolled back", "GATEWAY_TIMEOUT")
            try:
                reply = route.handler(request, match)
            except DocumentStalled:
                self.stats["stalled"] += 1
                time.sleep(faults.slow_seconds)
                return self.error_reply(504, "the request took too long and was rolled back", "GATEWAY_TIMEOUT")
            except DocumentRefused as refused:
                self.stats["rejected"] += 1
                return self.error_reply(400, str(refused), "VALIDATION_ERROR")
            if route.writes and 200 <= reply.status < 300:
                if drawn("drop_after_commit", faults.drop_after_commit_rate):
                    self.stats["dropped_after_commit"] += 1
                    return DROP
                if drawn("slow", faults.slow_rate):
                    self.stats["slow"] += 1
                    time.sleep(faults.slow_seconds)
            return reply
        finally:
            with self.lock:
                self.in_flight -= 1

    def throttled_reply(self) -> Reply:
        reply = self.error_reply(429, "too many requests", "TOO_MANY_REQUESTS")
        retry_after = f"{self.faults.retry_after_seconds:g}"
        return Reply(reply.status, reply.body, {**reply.headers, "Retry-After": retry_after})

    def _draws(self, request: Request) -> Callable[[str, float], bool]:
        """The fault draws of one write request: its subject and which attempt at that subject it is."""
        subject = write_subject(request)
        with self.lock:
            self.write_attempts[subject] += 1
            attempt = self.write_attempts[subject]
        seed = self.faults.seed
        return lambda fault, rate: fault_drawn(seed, fault, subject, attempt, rate)

    def _control(self, request: Request) -> Reply:
        if request.path == "/_sim/records" and request.method == "GET":
            return Reply.json(200, self.records())
        if request.path == "/_sim/faults" and request.method == "POST":
            try:
                with self.lock:
                    self.faults.update(request.json())
            except ValueError as exc:
                return Reply.json(400, {"error": str(exc)})
            return Reply.json(200, self.faults.as_json())
        if request.path == "/_sim/health":
            return Reply.json(200, {"kind": self.kind, "ok": True})
        return Reply.json(404, {"error": f"no control resource {request.path}"})

    def records(self) -> dict[str, Any]:
        with self.lock:
            return {
                "kind": self.kind,
                "documents": [asdict(document) for document in self.documents],
                "stats": {**self.stats, "max_in_flight": self.max_in_flight},
                "write_attempts": dict(self.write_attempts),
            }

    # -- helpers for the ERP modules ----------------------------------------------------------------------
    def create(
        self,
        *,
        supplier: str,
        invoice_reference: str,
        company_code: str,
        document_date: date,
        gross_amount: Decimal | str,
        currency: str,
        external_id: str | None = None,
        body: Any = None,
    ) -> SimDocument:
        """Commit a new document with the next number of its fiscal year (the calendar year of its date)."""
        if supplier in self.faults.stalled_suppliers or (supplier, invoice_reference) in self.faults.stalled_documents:
            raise DocumentStalled(supplier)
        refused = self.rules.refused_documents.get((supplier, invoice_reference))
        if refused is not None:
            raise DocumentRefused(refused)
        with self.lock:
            fiscal_year = document_date.year
            self._numbers[fiscal_year] += 1
            document = SimDocument(
                document_number=self.document_number(fiscal_year, self._numbers[fiscal_year]),
                fiscal_year=fiscal_year,
                supplier=supplier,
                invoice_reference=invoice_reference,
                company_code=company_code,
                gross_amount=str(gross_amount),
                currency=currency,
                external_id=external_id,
                created_at=datetime.now(UTC).isoformat(),
                body=body,
            )
            self.documents.append(document)
            self.stats["created"] += 1
            return document

    def find(self, predicate: Callable[[SimDocument], bool]) -> list[SimDocument]:
        with self.lock:
            return [document for document in self.documents if predicate(document)]

    def refusal(self, supplier: str, document_date: date) -> str | None:
        """Why the rules refuse a document of this supplier and date, in plain words; None when they do not.
        Each module words it as its ERP would and puts it in its error body."""
        if supplier in self.rules.blocked_suppliers:
            return f"supplier {supplier} is blocked for posting"
        if self.rules.closed_before is not None and document_date < self.rules.closed_before:
            return f"posting period of {document_date.isoformat()} is closed"
        return None

    def basic_auth_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user, self.credentials.get("username", "")) and hmac.compare_digest(
            password, self.credentials.get("password", "")
        )

    def issue_token(self, lifetime_seconds: int = 3600) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = time.time() + lifetime_seconds
            self.stats["tokens_issued"] += 1
        return token

    def bearer_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        with self.lock:
            expiry = self.tokens.get(header[7:])
        return expiry is not None and expiry > time.time()


# What differs between two attempts of one posting, or between two runs of one test: multipart boundaries and
# message ids (UUIDs, 32 hex digits), the moment a message was created, and the address the ERP was reached at (a
# loopback port is new at each start; D365's $batch names it). Blanked, the attempts of a posting are one subject.
_VOLATILE = re.compile(
    rb"https?://[^/\s\"']+"
    rb"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    rb"|(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])"
    rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"
)


def write_subject(request: Request) -> str:
    """What a write request asks for, the same for every attempt of one posting and in every run: its method,
    path and body with what an attempt or a start makes anew blanked, as a digest."""
    blanked = _VOLATILE.sub(b"*", request.body)
    return hashlib.blake2b(f"{request.method} {request.path} ".encode() + blanked, digest_size=16).hexdigest()


def fault_drawn(seed: int, fault: str, subject: str, attempt: int, rate: float) -> bool:
    """Whether this attempt at this subject draws this fault: uniform over the seed, repeatable, and
    independent of any other request."""
    if rate <= 0:
        return False
    material = f"{seed}|{fault}|{subject}|{attempt}".encode()
    draw = int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big")
    return draw < rate * 2**64


def _never(fault: str, rate: float) -> bool:
    """A read draws no fault: the faults apply to writes."""
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: Simulator


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave as two writes: Nagle would hold the body 40 ms
    server: _Server

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            self.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {name.lower(): value for name, value in self.headers.items()},
            body,
        )
        try:
            reply = self.server.simulator.handle(request)
        except Exception as exc:  # a simulator bug answers 500, as a real server would
            reply = Reply.json(500, {"error": f"simulator failed: {type(exc).__name__}: {exc}"})
        if isinstance(reply, _Drop):
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may have gone already
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped waiting (its timeout): what a real server shrugs off

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request line can carry a token in its query, and nothing here logs a credential."""


@dataclass
class RunningSimulator:
    simulator: Simulator
    server: _Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = cast(tuple[str, int], self.server.server_address[:2])  # a TCP server's address
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> _Server:
    server = _Server((host, port), _RequestHandler)
    server.simulator = simulator
    return server


def start(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> RunningSimulator:
    """The simulator on a thread of this process (tests, the demo); `recon erp-sim` runs it in its own."""
    server = serve(simulator, host, port)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"erp-sim-{simulator.kind}", daemon=True)
    thread.start()
    return RunningSimulator(simulator, server, thread)
