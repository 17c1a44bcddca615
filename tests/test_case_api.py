"""The case API behind authentication: every endpoint refuses without a token and with the wrong role,
IBANs are masked for roles without the right to them, forged and expired JWTs are refused (against a
real JWKS endpoint on loopback), actions, bulk actions and CSV export work within the caller's queues."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from factories import OTHER_IBAN, VENDOR_IBAN
from fastapi.testclient import TestClient
from reconstream.models.cases import Role
from reconstream.models.exceptions import Category, raise_exception
from reconstream.shells.auth import ApiKeys, Authenticator, OidcSettings, OidcVerifier, key_digest
from reconstream.shells.cases.store import CaseQuery, CaseStore
from reconstream.shells.web import RunFolder, create_app

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
ISSUER, AUDIENCE = "https://login.example.test/realms/finance", "reconstream"
KEYS = {role: f"key-{role.value}-0123456789abcdef" for role in Role}

CASES = [
    (Category.DUPLICATE_INVOICE, "INV-100", f"invoice INV-100 pays to {VENDOR_IBAN} like INV-99", "1190.00"),
    (Category.AMOUNT_MISMATCH, "INV-101", "invoice 2 % over its PO", "2500000.00"),
    (Category.VENDOR_BANK_MISMATCH, "INV-102", f"paid to {OTHER_IBAN}, master data has {VENDOR_IBAN}", "640.00"),
    (Category.UNMATCHED_SETTLEMENT, "ENTRY-7", f"credit from {OTHER_IBAN} matches nothing", "75.10"),
    (Category.MISSING_ACK, "E2E-55", "no pain.002 within 24h", "12000.00"),
    (Category.SCHEMA_VIOLATION, "ev-9", "payload.currency: unknown ISO 4217 currency 'EUX'", None),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    opened = CaseStore.open(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    records = [
        (n, raise_exception(category, (ref,), reason, AT + timedelta(minutes=n), correlation_id=f"corr-{ref}",
                            amount=Decimal(amount) if amount else None, currency="EUR" if amount else None))
        for n, (category, ref, reason, amount) in enumerate(CASES, start=1)
    ]  # fmt: skip
    opened.project("test", records)
    yield opened
    opened.close()


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-keys.toml"
    path.write_text(
        "".join(
            f'[[keys]]\nname = "{role.value}-person"\nrole = "{role.value}"\nsha256 = "{key_digest(key)}"\n\n'
            for role, key in KEYS.items()
        )
    )
    return path


class Issuer:
    """An identity provider's JWKS endpoint on loopback, and tokens signed by its key (or another)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        body = orjson.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if self.path == "/jwks.json" else b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def token(self, role: str, expires_in: int = 600, key: rsa.RSAPrivateKey | None = None, **claims: object) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "preferred_username": "olga", "roles": [role],
                   "iat": now, "exp": now + expires_in, **claims}  # fmt: skip
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    started = Issuer()
    yield started
    started.server.shutdown()


@pytest.fixture
def client(store: CaseStore, keys_file: Path, issuer: Issuer, tmp_path: Path) -> TestClient:
    oidc = OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=issuer.jwks_url))
    authenticator = Authenticator(ApiKeys.load(keys_file), oidc)
    (tmp_path / "out").mkdir()
    return TestClient(create_app(RunFolder(tmp_path / "out"), case_store=store, authenticator=authenticator))


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def api_routes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    found = []
    for path, operations in schema["paths"].items():
        for method in operations:
            found.append((method.upper(), path.replace("{exception_id}", "exc-x").replace("{invoice_id}", "INV-1")))
    return found


def test_every_api_endpoint_refuses_without_a_token_and_with_a_bad_one(client: TestClient) -> None:
    routes = api_routes(client)
    assert len(routes) >= 10
    for method, path in routes:
        if path in ("/healthz", "/readyz"):
            continue
        for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic dXNlcjpwdw=="}):
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.status_code)
            assert "not-a-key" not in response.text


@pytest.mark.parametrize(
    ("path", "admitted"),
    [
        ("/api/cash-positions", {Role.TREASURY_ANALYST, Role.AUDITOR, Role.ADMIN}),
        ("/api/payments/in-flight", {Role.TREASURY_ANALYST, Role.AUDITOR, Role.ADMIN}),
        ("/metrics", {Role.INTEGRATION_ENGINEER, Role.TREASURY_ANALYST, Role.AUDITOR, Role.ADMIN}),
        ("/api/audit/cases", {Role.AUDITOR, Role.ADMIN}),
    ],
)
def test_endpoints_admit_their_roles_only(client: TestClient, path: str, admitted: set[Role]) -> None:
    for role in Role:
        status = client.get(path, headers=bearer(role)).status_code
        assert (status == 200) == (role in admitted), (path, role, status)
        assert status in (200, 403)


def test_each_role_sees_its_own_queues(client: TestClient) -> None:
    seen = {
        role: {item["owner_queue"] for item in client.get("/api/cases", headers=bearer(role)).json()["items"]}
        for role in Role
    }
    assert seen[Role.AP_CLERK] == {"ap"}
    assert seen[Role.VENDOR_MASTER] == {"vendor_master"}
    assert seen[Role.TREASURY_ANALYST] == {"treasury"}
    assert seen[Role.INTEGRATION_ENGINEER] == {"integration"}
    assert seen[Role.AUDITOR] == seen[Role.ADMIN] == {"ap", "vendor_master", "treasury", "integration"}
    treasury_case = client.get("/api/cases", headers=bearer(Role.TREASURY_ANALYST)).json()["items"][0]
    assert client.get(f"/api/cases/{treasury_case['exception_id']}", headers=bearer(Role.AP_CLERK)).status_code == 403


def test_ibans_are_masked_for_roles_without_the_right(client: TestClient) -> None:
    masked = VENDOR_IBAN[:4] + "…" + VENDOR_IBAN[-4:]
    ap = client.get("/api/cases", headers=bearer(Role.AP_CLERK)).json()["items"]
    duplicate = next(item for item in ap if item["category"] == "duplicate_invoice")
    assert VENDOR_IBAN not in duplicate["reason"] and masked in duplicate["reason"]
    vendor_master = client.get("/api/cases", headers=bearer(Role.VENDOR_MASTER)).json()["items"]
    assert VENDOR_IBAN in vendor_master[0]["reason"]
    auditor = client.get("/api/cases?category=unmatched_settlement", headers=bearer(Role.AUDITOR)).json()["items"]
    assert OTHER_IBAN not in orjson.dumps(auditor).decode()
    export = client.get("/api/cases/export.csv", headers=bearer(Role.AP_CLERK)).text
    assert VENDOR_IBAN not in export and masked in export


def test_jwts_from_the_issuer_are_verified(client: TestClient, issuer: Issuer) -> None:
    good = issuer.token("treasury_analyst")
    response = client.get("/api/cases", headers={"Authorization": f"Bearer {good}"})
    assert response.status_code == 200
    assert {item["owner_queue"] for item in response.json()["items"]} == {"treasury"}
    refused = {
        "forged": issuer.token("admin", key=issuer.other),
        "expired": issuer.token("admin", expires_in=-120),
        "other audience": issuer.token("admin", aud="another-app"),
        "other issuer": issuer.token("admin", iss="https://evil.example.test"),
        "no role": issuer.token("cfo"),
        "unsigned": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "roles": ["admin"],
                                "sub": "x"}, key="", algorithm="none"),
    }  # fmt: skip
    for why, token in refused.items():
        response = client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, why
        assert token not in response.text


def test_actions_change_the_case_and_its_timeline(client: TestClient) -> None:
    headers = bearer(Role.AP_CLERK)
    case = client.get("/api/cases?category=duplicate_invoice", headers=headers).json()["items"][0]
    url = f"/api/cases/{case['exception_id']}/actions"
    assigned = client.post(url, headers=headers, json={"kind": "assigned", "assignee": "ana", "expected_version": 1})
    assert assigned.status_code == 200 and assigned.json()["case"]["assignee"] == "ana"
    stale = client.post(url, headers=headers, json={"kind": "commented", "note": "x", "expected_version": 1})
    assert stale.status_code == 409
    assert client.post(url, headers=headers, json={"kind": "resolved"}).status_code == 422
    assert client.post(url, headers=headers, json={"kind": "raised"}).status_code == 422
    resolved = client.post(
        url, headers=headers, json={"kind": "resolved", "resolution_code": "duplicate_confirmed_blocked", "note": "ok"}
    )
    assert resolved.status_code == 200
    detail = resolved.json()
    assert detail["case"]["status"] == "resolved" and detail["case"]["resolved_by"] == "ap_clerk-person"
    assert [entry["kind"] for entry in detail["timeline"]] == ["raised", "assigned", "resolved"]
    auditor = client.post(url, headers=bearer(Role.AUDITOR), json={"kind": "reopened"})
    assert auditor.status_code == 403
    assert client.get("/api/audit/cases", headers=bearer(Role.AUDITOR)).json()["verified"] is True


def test_bulk_actions_touch_only_the_filtered_cases_of_the_callers_queues(client: TestClient) -> None:
    body = {"filter": {}, "command": {"kind": "assigned", "assignee": "team:treasury-emea"}}
    result = client.post("/api/cases/bulk", headers=bearer(Role.TREASURY_ANALYST), json=body).json()
    assert result["matched"] == result["applied"] == 2 and result["refused"] == []
    everyone = client.get("/api/cases", headers=bearer(Role.ADMIN)).json()["items"]
    assert {i["owner_queue"] for i in everyone if i["assignee"] == "team:treasury-emea"} == {"treasury"}
    body = {"filter": {"category": "missing_ack"}, "command": {"kind": "resolved", "resolution_code": "written_off"}}
    result = client.post("/api/cases/bulk", headers=bearer(Role.TREASURY_ANALYST), json=body).json()
    assert result["applied"] == 1


def test_filters_search_and_export(client: TestClient) -> None:
    headers = bearer(Role.ADMIN)
    assert client.get("/api/cases?search=E2E-55", headers=headers).json()["total"] == 1
    assert client.get("/api/cases?search=corr-INV-101", headers=headers).json()["total"] == 1
    assert client.get(f"/api/cases?search={OTHER_IBAN}", headers=headers).json()["total"] == 2
    assert client.get("/api/cases?severity=critical", headers=headers).json()["total"] == 1
    assert client.get("/api/cases?overdue=true", headers=headers).json()["total"] == 6  # due in Nov 2026
    page = client.get("/api/cases?limit=2&offset=2", headers=headers).json()
    assert page["total"] == 6 and len(page["items"]) == 2
    rows = list(csv.DictReader(io.StringIO(client.get("/api/cases/export.csv?owner=ap", headers=headers).text)))
    assert [row["category"] for row in rows] == ["duplicate_invoice", "amount_mismatch"]
    assert rows[1]["amount"] == "2500000.00"


def test_health_and_readiness_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["case_store"] == "ok"


def gauge(text: str, name: str, owner: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("owner") == owner:
                return sample.value
    raise AssertionError(f"{name}{{owner={owner}}} not exported")


def test_resolving_a_queue_clears_its_overdue_gauges(client: TestClient) -> None:
    scrape = client.get("/metrics", headers=bearer(Role.ADMIN)).text
    assert gauge(scrape, "recon_cases_open", "ap") == 2
    assert gauge(scrape, "recon_cases_overdue", "ap") == 2
    assert gauge(scrape, "recon_case_oldest_open_age_seconds", "ap") > 5 * 86400  # the alert's threshold
    body = {"filter": {"status": "open"}, "command": {"kind": "resolved", "resolution_code": "corrected_at_source"}}
    assert client.post("/api/cases/bulk", headers=bearer(Role.AP_CLERK), json=body).json()["applied"] == 2
    scrape = client.get("/metrics", headers=bearer(Role.ADMIN)).text
    assert gauge(scrape, "recon_cases_open", "ap") == 0
    assert gauge(scrape, "recon_case_oldest_open_age_seconds", "ap") == 0
    assert gauge(scrape, "recon_cases_open", "treasury") == 2  # another queue is untouched


def test_a_treasury_analyst_matches_a_line_by_hand_and_the_engine_event_is_kept(
    client: TestClient, store: CaseStore
) -> None:
    line = store.find(CaseQuery(category="unmatched_settlement")).cases[0]
    url = f"/api/cases/{line.exception_id}/actions"
    body = {"kind": "manually_matched", "invoice_ids": ["INV-100"], "expected_version": line.version}
    assert client.post(url, json=body, headers=bearer(Role.AP_CLERK)).status_code == 403  # not AP's queue
    done = client.post(url, json=body, headers=bearer(Role.TREASURY_ANALYST))
    assert done.status_code == 200, done.text
    assert done.json()["case"]["resolution_code"] == "manually_matched"
    [(_, stream, raw)] = store.engine_events_after(0)
    event = orjson.loads(raw)
    assert stream == "manual_matches" and event["payload"]["matched_by"] == "treasury_analyst-person"
    assert event["payload"]["entry_id"] == "ENTRY-7" and event["payload"]["invoice_ids"] == ["INV-100"]
    bulk = {"filter": {"category": "unmatched_settlement"}, "command": {"kind": "manually_matched",
                                                                          "invoice_ids": ["INV-100"]}}  # fmt: skip
    assert client.post("/api/cases/bulk", json=bulk, headers=bearer(Role.TREASURY_ANALYST)).status_code == 422
    other = store.find(CaseQuery(category="duplicate_invoice")).cases[0]
    wrong = client.post(f"/api/cases/{other.exception_id}/actions", json=body | {"expected_version": 1},
                        headers=bearer(Role.ADMIN))  # fmt: skip
    assert wrong.status_code == 422 and "unmatched bank line" in wrong.json()["detail"]
