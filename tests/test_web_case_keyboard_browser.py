"""Acceptance: the whole case flow with the keyboard alone, in a real headless Chromium
(Debian's package, Playwright), on the same running hub as the mouse test
(tests/case_flow_hub.py). A member signs in, goes from the inbox to the alert and its
case with Tab and Enter, takes the case up, records two contact attempts (by phone, not
reached, on a date typed in; a home visit, reached) with kind, reached yes/no, date and
part of day, and closes it with "Vervolghulp en/of verwijzing financieel". Only
``keyboard.press`` and ``keyboard.type`` act; the page is only read. Every control the
focus reaches shows a focus ring; after each form the focus is on the page's notice
(``role="status"``), and the live state of the case is in polite live regions."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pytest

from hub.web.texts import nl_date
from tests.case_flow_hub import PASSWORD, RESULT, USER, RunningHub, check_closed_case
from tests.test_web_browser_inbox import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]


class Keyboard:
    """Moves through a page with Tab, checking that the focus is visible."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def active(self, script: str) -> Any:
        return self.page.evaluate(f"(() => {{ const e = document.activeElement; "
                                  f"return {script}; }})()")

    def focus_ring(self) -> float:
        """The focused element's outline width in px (0 when none shows)."""
        return float(self.active("getComputedStyle(e).outlineStyle === 'none' ? 0 :"
                                 " parseFloat(getComputedStyle(e).outlineWidth)"))

    def tab_to(self, selector: str, limit: int = 60) -> None:
        """Tab until ``selector`` has the focus; every stop on the way shows it."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            where = self.active("e.outerHTML.slice(0, 120)")
            assert self.focus_ring() >= 2, f"no visible focus on {where}"
            if self.active(f"e.matches({selector!r})"):
                return
        raise AssertionError(f"{selector} is not reachable with Tab")

    def choose(self, text: str, limit: int = 40) -> None:
        """In the focused select, go with the arrow keys to the option ``text``."""
        assert self.active("e.tagName") == "SELECT"
        self.page.keyboard.press("Home")
        for _ in range(limit):
            if self.active("e.options[e.selectedIndex].text") == text:
                return
            self.page.keyboard.press("ArrowDown")
        raise AssertionError(f"no option {text!r}")

    def type_date(self, day: date) -> None:
        """Type ``day`` into the focused date field (on its first part). The order of its
        parts is the browser's (day-month-year in Dutch, month-day-year in Chromium's
        default): typed once to find it, then back with Shift+Tab and typed in it."""
        assert self.active("e.type") == "date"
        self.page.keyboard.type("01022000")
        order = {"2000-02-01": "%d%m%Y", "2000-01-02": "%m%d%Y"}.get(self.active("e.value"))
        assert order, f"a date field of unknown order: {self.active('e.value')}"
        self.page.keyboard.press("Shift+Tab")
        self.page.keyboard.press("Shift+Tab")
        self.page.keyboard.type(day.strftime(order))
        assert self.active("e.value") == day.isoformat()

    def notice_has_focus(self, text: str) -> None:
        """After a form: the page answers with ``text`` in a status message that has the
        focus, visibly."""
        self.page.wait_for_load_state("load")
        deadline = time.monotonic() + 10
        while self.active("e && e.id") != "case-done":  # (no eval: the CSP forbids it)
            assert time.monotonic() < deadline, (
                "the focus is not on the notice", self.active("e && e.outerHTML.slice(0, 80)"))
            time.sleep(0.1)
        assert self.active("e.textContent.trim()") == text
        assert self.active("e.getAttribute('role')") == "status"  # aria-live polite
        assert self.focus_ring() >= 2, "the notice shows no focus"


def test_the_case_flow_with_the_keyboard_alone(case_hub: RunningHub) -> None:
    from playwright.sync_api import expect, sync_playwright

    hub = case_hub
    ARTIFACTS.mkdir(exist_ok=True)
    event_id, alert_id = hub.send_debt_signal(seed=21)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900},
                                          locale="nl-NL")
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            keys = Keyboard(page)

            # signing in: the username field has the focus; Tab to the password, Enter
            page.goto(f"{hub.web_url}/inbox")
            assert keys.active("e.id") == "username"
            page.keyboard.type(USER)
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            expect(page).to_have_url(f"{hub.web_url}/inbox")
            page.get_by_text("Automatisch bijwerken: aan").wait_for()

            # the inbox → the alert → its case, with Tab and Enter
            keys.tab_to(f'tr[data-id="{alert_id}"] a')
            with page.expect_navigation():
                page.keyboard.press("Enter")
            keys.tab_to("#case-link")
            assert keys.active("e.textContent.trim()") == "Naar de zaak"
            with page.expect_navigation():
                page.keyboard.press("Enter")
            expect(page.get_by_role("heading", level=1)).to_have_text("Vroegsignaalzaak")
            assert page.get_attribute("#live-news", "aria-live") == "polite"
            assert page.get_attribute("#live-status", "role") == "status"
            expect(page.locator("#live-status")).to_have_text("Automatisch bijwerken: aan")
            signal = page.locator(f'#case-signals tr[data-id="{alert_id}"] .signal-status')
            expect(signal).to_have_text("Nog niet opgepakt")

            # take it up
            keys.tab_to("#take-up")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            keys.notice_has_focus("Je hebt de zaak opgepakt.")
            expect(signal).to_have_text("Opgepakt")
            expect(page.locator("#case-state")).to_contain_text("Opgepakt op")

            # two contact attempts: by phone, not reached, in the morning, on a date
            # typed in (yesterday); then a home visit, reached, in the afternoon, on the
            # date the form proposes (today)
            today = date.fromisoformat(page.eval_on_selector("input[name=on]", "e => e.max"))
            yesterday = today - timedelta(days=1)
            for kind, reached, part, typed in (("Telefoon", False, "Ochtend", True),
                                               ("Huisbezoek", True, "Middag", False)):
                keys.tab_to("select[name=kind]")
                keys.choose(kind)
                keys.tab_to("input[name=reached]")  # the group's first radio: Ja
                if reached:
                    page.keyboard.press("Space")
                else:
                    page.keyboard.press("ArrowDown")  # moves to and checks Nee
                assert keys.active("e.checked && e.value") == ("ja" if reached else "nee")
                keys.tab_to("input[name=on]")
                if typed:
                    keys.type_date(yesterday)
                keys.tab_to("select[name=part_of_day]")
                keys.choose(part)
                keys.tab_to("#add-attempt")
                with page.expect_navigation():
                    page.keyboard.press("Enter")
                keys.notice_has_focus("De contactpoging is vastgelegd.")
            rows = page.locator("#attempts tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(0)).to_contain_text("Telefoon")
            expect(rows.nth(0)).to_contain_text("Ochtend")
            expect(rows.nth(0)).to_contain_text("nee")
            expect(rows.nth(0)).to_contain_text(nl_date(yesterday))
            expect(rows.nth(1)).to_contain_text(nl_date(today))
            expect(rows.nth(1)).to_contain_text("Huisbezoek")
            expect(rows.nth(1)).to_contain_text("Middag")
            expect(rows.nth(1)).to_contain_text("ja")

            # close with the result
            keys.tab_to("select[name=result]")
            keys.choose(RESULT)
            keys.tab_to("#close-case")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            keys.notice_has_focus("De zaak is afgesloten. De melder heeft de uitkomst"
                                  " gekregen.")
            expect(page.locator("#case-state")).to_have_text(f"Afgesloten: {RESULT}")
            expect(page.locator("#close-case")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "case-closed-keyboard.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
    check_closed_case(hub, event_id, alert_id, seed=21)
