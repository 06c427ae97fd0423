"""The team inbox in a real headless Chromium (Debian's package, driven by Playwright):
sign in, watch a new alert arrive and a colleague's claim show without a reload, claim
and close it; another team's
alert is a 403 page. Screenshots go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.inbox import CloseOutcome, InboxStatus
from hub.settings import WebSettings
from hub.web.texts import nl_date
from tests.test_web_inbox import PASSWORD, SUBJECT_B, WebServer, make_alert, start_web

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    # the default settings: Chromium takes the Secure __Host- cookie over http://127.0.0.1
    server, stop = start_web(tmp_path, WebSettings())
    try:
        yield server
    finally:
        stop()


def test_sign_in_see_a_new_alert_live_claim_and_close_it(web: WebServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    existing = make_alert("team-a", minutes=30)
    theirs = make_alert("team-b", subject=SUBJECT_B)
    web.inbox.add_many([existing, theirs])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="nl-NL")
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(f"{web.url}/inbox")
            expect(page).to_have_url(re.compile(r"/login\?next=/inbox$"))
            page.get_by_label("Gebruikersnaam").fill("alice")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Inloggen").click()
            expect(page).to_have_url(f"{web.url}/inbox")
            expect(page.locator(f'tr[data-id="{existing.alert_id}"]')).to_be_visible()
            expect(page.locator(f'tr[data-id="{theirs.alert_id}"]')).to_have_count(0)
            expect(page.locator("#live-status")).to_have_text("Automatisch bijwerken: aan")

            # a new urgent alert arrives while the page is open: a row, no reload
            marker = page.evaluate("() => (window.__loaded = performance.timeOrigin)")
            # an eviction alert: the simple flow (a debt alert is closed with its case)
            fresh = make_alert("team-a", urgent=True, event_type="eviction-risk")
            web.inbox.add(fresh)
            row = page.locator(f'tr[data-id="{fresh.alert_id}"]')
            expect(row).to_be_visible(timeout=10_000)
            expect(row).to_contain_text("Spoed")
            expect(row).to_contain_text(nl_date(fresh.due_date))
            assert page.evaluate("() => window.__loaded") == marker  # the same page
            # ... and said in the polite live region for screen readers
            expect(page.locator("#live-news")).to_have_text(
                "Nieuwe melding: Dreigende huisuitzetting, spoed.")
            first = page.locator("#alerts tbody tr").first
            expect(first).to_have_attribute("data-id", fresh.alert_id)  # urgent on top
            page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)

            # a colleague claims a listed alert (here or on another instance): the row
            # shows it, no reload
            web.inbox.claim(existing.alert_id, "ada")
            listed = page.locator(f'tr[data-id="{existing.alert_id}"]')
            expect(listed.locator(".status-claimed")).to_have_text("In behandeling", timeout=10_000)
            expect(listed).to_contain_text("ada")
            expect(page.locator("#live-news")).to_contain_text("Melding bijgewerkt")
            assert page.evaluate("() => window.__loaded") == marker

            # open, claim and close it
            row.get_by_role("link").click()
            expect(page).to_have_url(f"{web.url}/inbox/alerts/{fresh.alert_id}")
            expect(page.locator("dl.facts")).to_contain_text("Energie")
            page.get_by_role("button", name="In behandeling nemen").click()
            expect(page.get_by_role("status")).to_have_text("Je behandelt deze melding nu.")
            expect(page.locator("#status")).to_contain_text("In behandeling bij alice")
            page.screenshot(path=str(ARTIFACTS / "inbox-detail.png"), full_page=True)
            page.get_by_label("Opgepakt (de melder krijgt dit te horen)", exact=True).check()
            page.get_by_label("Notitie (blijft bij de melding").fill("Appointment on Monday")
            page.get_by_role("button", name="Melding afsluiten").click()
            expect(page.get_by_role("status")).to_contain_text("De melder heeft de uitkomst")
            expect(page.locator("#status")).to_contain_text("Opgepakt")
            expect(page.locator(".note")).to_contain_text("Appointment on Monday")
            page.screenshot(path=str(ARTIFACTS / "inbox-closed.png"), full_page=True)
            item = web.inbox.get(fresh.alert_id)
            assert item.status is InboxStatus.CLOSED
            assert item.outcome is CloseOutcome.PICKED_UP

            # another team's alert by URL: a 403 page without its contents
            response = page.goto(f"{web.url}/inbox/alerts/{theirs.alert_id}")
            assert response is not None and response.status == 403
            expect(page.get_by_role("heading", name="Geen toegang")).to_be_visible()
            assert SUBJECT_B not in page.content()
            page.screenshot(path=str(ARTIFACTS / "inbox-403.png"))

            # signing out ends the session
            page.goto(f"{web.url}/inbox")
            page.get_by_role("button", name="Uitloggen").click()
            expect(page).to_have_url(f"{web.url}/login")
            page.goto(f"{web.url}/inbox")
            expect(page).to_have_url(re.compile(r"/login\?next=/inbox$"))
            # no CSP violation, no script error (only the expected 403 page load)
            errors = [e for e in errors if "status of 403" not in e]
            assert errors == [], errors
        finally:
            browser.close()
