"""The web inbox in a real headless Chromium counts working days overdue on live rows: a
late alert that arrives while the page is open says "te laat: 2 werkdagen" (the server's
count, Christmas not counted), and the marker goes when a colleague closes it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from hub.inbox import CloseOutcome
from hub.settings import WebSettings
from tests.test_due_dates_holidays import alert_due, at
from tests.test_web_inbox import PASSWORD, WebServer, start_web

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path, WebSettings(), clock=lambda: at(date(2026, 12, 29)))
    try:
        yield server
    finally:
        stop()


def test_a_live_row_shows_the_working_days_overdue(web: WebServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(locale="nl-NL")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{web.url}/inbox")
            page.get_by_label("Gebruikersnaam").fill("alice")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Inloggen").click()
            expect(page).to_have_url(f"{web.url}/inbox")
            expect(page.locator("#live-status")).to_have_text("Automatisch bijwerken: aan")

            late = alert_due("team-a", date(2026, 12, 24))  # 28 and 29 December since
            web.inbox.add(late)
            cell = page.locator(f'tr[data-id="{late.alert_id}"] td').nth(1)
            expect(cell).to_have_text("24 december 2026 te laat: 2 werkdagen", timeout=10_000)
            expect(cell.locator("strong.overdue")).to_have_count(1)

            web.inbox.close_alert(late.alert_id, CloseOutcome.PICKED_UP, by="ada")
            expect(cell).to_have_text("24 december 2026", timeout=10_000)
            expect(page.locator(f'tr[data-id="{late.alert_id}"]')).to_contain_text(
                re.compile("Afgesloten"))
            assert errors == []
        finally:
            browser.close()
