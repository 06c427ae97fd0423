"""Acceptance: a debt signal from ingest to a closed case, in a real headless Chromium
(Debian's package, driven by Playwright). The source posts the signal to the HTTP ingest
API; the router and the inbox sink run on the embedded bus; a member of the debt team
opens the alert, goes to its case, takes it up, records two contact attempts (not
reached, then reached) and closes it with "Vervolghulp en/of verwijzing financieel". The
source reads PICKED_UP from its outcome feed (``GET /v1/outcomes``), and the processing
records on ``audit.v1`` show each step."""

from __future__ import annotations

import pytest

from tests.case_flow_hub import PASSWORD, RESULT, USER, RunningHub, check_closed_case
from tests.test_web_browser_inbox import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_debt_signal_from_ingest_to_a_closed_case(case_hub: RunningHub) -> None:
    from playwright.sync_api import expect, sync_playwright

    hub = case_hub
    ARTIFACTS.mkdir(exist_ok=True)
    event_id, alert_id = hub.send_debt_signal()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="nl-NL")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{hub.web_url}/inbox")
            page.get_by_label("Gebruikersnaam").fill(USER)
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Inloggen").click()
            expect(page).to_have_url(f"{hub.web_url}/inbox")
            page.locator(f'tr[data-id="{alert_id}"] a').click()
            page.get_by_role("link", name="Naar de zaak").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Vroegsignaalzaak")
            signal = page.locator(f'#case-signals tr[data-id="{alert_id}"] .signal-status')
            expect(signal).to_have_text("Nog niet opgepakt")
            expect(page.locator("#live-status")).to_have_text("Automatisch bijwerken: aan")

            with page.expect_navigation():
                page.get_by_role("button", name="Oppakken").click()
            assert "done=take-up" in page.url, (page.url, page.content()[:3000])
            expect(page.locator("p.notice")).to_have_text("Je hebt de zaak opgepakt.")
            expect(signal).to_have_text("Opgepakt")
            expect(page.locator("#case-state")).to_contain_text("Opgepakt op")

            for kind, reached, part in (("Telefoon", "Nee, niet bereikt", "Ochtend"),
                                        ("Huisbezoek", "Ja, bereikt", "Middag")):
                page.get_by_label("Contactsoort").select_option(kind)
                page.get_by_label(reached).check()
                page.get_by_label("Dagdeel").select_option(part)
                page.get_by_role("button", name="Contactpoging vastleggen").click()
                expect(page.locator("p.notice")).to_have_text(
                    "De contactpoging is vastgelegd.")
            rows = page.locator("#attempts tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(0)).to_contain_text("Telefoon")
            expect(rows.nth(0)).to_contain_text("nee")
            expect(rows.nth(1)).to_contain_text("Huisbezoek")
            expect(rows.nth(1)).to_contain_text("ja")

            page.get_by_label("Eindresultaat").select_option(RESULT)
            page.get_by_role("button", name="Zaak afsluiten").click()
            expect(page.locator("#case-state")).to_have_text(f"Afgesloten: {RESULT}")
            expect(signal).to_have_text("Opgepakt")
            expect(page.get_by_role("button", name="Zaak afsluiten")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "case-closed.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()

    check_closed_case(hub, event_id, alert_id)
