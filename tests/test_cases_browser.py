"""Working cases in a real browser (headless Chromium driven by Playwright) against a real `recon serve`
over a real run's case store: an AP clerk logs in, filters, assigns, comments and resolves, and reads the
timeline; a treasury analyst matches an unmatched bank line by hand and, after the engine's next run, sees
the invoice paid and the cash in flight drop; an auditor sees every queue and can act on none."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from factories import HOUSE_IBAN
from playwright.sync_api import Browser, Page, sync_playwright
from reconstream.shells.auth import key_digest
from reconstream.synthetic import generate
from servers import free_port, wait_until_healthy
from test_manual_match_runs import recon_run, scenario, write_inputs

RECON = [sys.executable, "-m", "reconstream.shells.cli"]
KEYS = {
    "ap_clerk": "browser-test-key-ap-clerk-0001",
    "auditor": "browser-test-key-auditor-0001",
    "treasury_analyst": "browser-test-key-treasury-0001",
}


def key_file(path: Path) -> Path:
    path.write_text(
        "".join(
            f'[[keys]]\nname = "{role}-person"\nrole = "{role}"\nsha256 = "{key_digest(key)}"\n\n'
            for role, key in KEYS.items()
        )
    )
    return path


@contextmanager
def serving(config: Path, out: Path, inputs: Path) -> Iterator[str]:
    port = free_port()
    command = [*RECON, "serve", "--config", str(config), "--out", str(out), "--input", str(inputs)]
    server = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(base, server)
    try:
        yield base
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    generate(root / "in", invoices=400, seed=5)
    config = root / "recon.toml"
    config.write_text(f'[auth]\napi_keys_file = "{key_file(root / "keys.toml")}"\n')
    subprocess.run(
        [*RECON, "run", "--config", str(config), "--input", str(root / "in"), "--out", str(root / "out"), "--quiet"],
        check=True,
    )
    with serving(config, root / "out", root / "in") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed (make test installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def logged_in(browser: Browser, base: str, role: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{base}/cases")
    assert page.url.endswith("/login")
    page.fill("#token", KEYS[role])
    page.click("#login")
    page.wait_for_url(f"{base}/cases")
    assert page.inner_text("#who") == f"{role}-person"
    return page


def submit(page: Page, form: str, fields: dict[str, str]) -> None:
    """Fill a case page's action form, send it, and wait for the case page it returns to."""
    case_url = page.url
    for name, value in fields.items():
        page.fill(f"{form} input[name={name}]", value)
    page.click(f"{form} button")
    page.wait_for_url(case_url)


def test_an_ap_clerk_filters_assigns_comments_and_resolves(service: str, browser: Browser) -> None:
    page = logged_in(browser, service, "ap_clerk")
    owners = {cell.split(" ")[0] for cell in page.locator("#cases tbody tr td:nth-child(3)").all_inner_texts()}
    assert owners <= {"duplicate_invoice", "amount_mismatch", "po_missing", "gr_missing"}  # the AP queue only
    page.select_option("select[name=category]", "duplicate_invoice")
    page.click("#apply-filters")
    page.wait_for_load_state()
    assert "category=duplicate_invoice" in page.url
    categories = set(page.locator("#cases tbody tr td:nth-child(3)").all_inner_texts())
    assert categories == {"duplicate_invoice"}
    page.locator("#cases tbody tr").first.locator("a").first.click()
    page.wait_for_selector("#timeline")
    submit(page, "#assign", {"assignee": "ana"})
    assert page.inner_text("#assignee") == "ana"
    submit(page, "#comment", {"note": "same supplier, same amount: the copy came by e-mail"})
    page.select_option("#resolve select[name=resolution_code]", "duplicate_confirmed_blocked")
    submit(page, "#resolve", {"note": "blocked in the ERP"})
    assert page.inner_text("#status") == "resolved"
    assert "duplicate_confirmed_blocked by ap_clerk-person" in page.inner_text("#resolution")
    kinds = page.locator("#timeline tbody tr td:nth-child(4)").all_inner_texts()
    actors = page.locator("#timeline tbody tr td:nth-child(3)").all_inner_texts()
    assert kinds == ["raised", "assigned", "commented", "resolved"]
    assert actors == ["engine", "ap_clerk-person", "ap_clerk-person", "ap_clerk-person"]
    assert "the copy came by e-mail" in page.inner_text("#timeline")
    page.goto(f"{service}/cases?category=duplicate_invoice&status=resolved")
    assert page.locator("#cases tbody tr").count() == 1


def test_an_auditor_sees_every_queue_and_cannot_act(service: str, browser: Browser) -> None:
    page = logged_in(browser, service, "auditor")
    page.goto(f"{service}/cases?owner=treasury")
    assert page.locator("#cases tbody tr").count() > 0
    page.locator("#cases tbody tr").first.locator("a").first.click()
    page.wait_for_selector("#timeline")
    assert page.locator("form#assign, form#comment, form#resolve, form#bulk").count() == 0
    exception_id = page.url.rsplit("/", 1)[1]
    # A hand-made post with the auditor's own session is refused all the same.
    csrf = page.evaluate("() => document.cookie")  # HttpOnly: the page's script cannot read the session
    assert "recon_session" not in csrf
    refused = page.request.post(
        f"{service}/cases/{exception_id}/act", form={"kind": "commented", "note": "x", "csrf": "forged"}
    )
    assert refused.status == 403


def in_flight_of_house_account(page: Page, base: str) -> str:
    page.goto(f"{base}/treasury")
    row = page.locator("#cash-positions tbody tr", has_text=HOUSE_IBAN)
    return row.locator("td:nth-child(8)").inner_text()


def test_a_treasury_analyst_matches_a_bank_line_by_hand(browser: Browser, tmp_path: Path) -> None:
    inputs, out, state = tmp_path / "in", tmp_path / "out", tmp_path / "state"
    write_inputs(inputs, scenario())
    config = tmp_path / "recon.toml"
    config.write_text(f'[auth]\napi_keys_file = "{key_file(tmp_path / "keys.toml")}"\n')
    recon_run(inputs, out, state, "--config", str(config))
    with serving(config, out, inputs) as base:
        page = logged_in(browser, base, "treasury_analyst")
        assert in_flight_of_house_account(page, base) == "238.00"  # E1 and E2 sent, neither line matched
        page.goto(f"{base}/cases")
        page.fill("#f-company", "1000")
        page.fill("#search", "S-CHG")
        page.click("#apply-filters")
        page.wait_for_load_state()
        assert "company_code=1000" in page.url and page.locator("#cases tbody tr").count() == 1
        page.locator("#cases tbody tr").first.locator("a").first.click()
        page.wait_for_selector("#manual-match")
        case_url = page.url
        submit(page, "#manual-match", {"invoice_ids": "I1", "note": "the bank took 4.50 in charges"})
        assert page.inner_text("#status") == "resolved"
        assert "manually_matched by treasury_analyst-person" in page.inner_text("#resolution")
        assert page.locator("#timeline tbody tr td:nth-child(4)").all_inner_texts() == ["raised", "manually_matched"]

        recon_run(inputs, out, state, "--config", str(config))  # the engine's next run applies the match

        page.goto(f"{base}/invoices/I1")
        assert "Status: paid" in page.inner_text("p.meta")
        assert "settlement matched (manual, 100/100)" in page.inner_text("#timeline")
        assert in_flight_of_house_account(page, base) == "119.00"  # only E2 is still in flight
        page.goto(case_url)
        kinds = page.locator("#timeline tbody tr td:nth-child(4)").all_inner_texts()
        assert kinds == ["raised", "manually_matched", "engine_resolved"]  # the engine agreed
