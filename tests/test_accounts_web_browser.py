"""The account pages in a real headless Chromium, as an admin, with the keyboard alone:
adding an account with a made password shows it once; a refused form says why in
Dutch, next to the field; both answers (and the account page after disabling) have no
axe-core violation at WCAG A/AA and no English UI words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.settings import WebSettings
from tests.test_web_dutch_a11y_browser import (
    ARGS,
    CHROMIUM,
    _axe_violations,
    _sign_in,
    _structure,
    _visible_words,
)
from tests.test_web_dutch_pages import english_words_in
from tests.test_web_inbox import WebServer, start_web

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    server, stop = start_web(tmp_path, WebSettings())
    try:
        yield server
    finally:
        stop()


def test_an_admin_adds_and_disables_an_account_with_the_keyboard(web: WebServer) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright

    axe = Axe()
    found: dict[str, list[str]] = {}

    def check(name: str, page: object) -> None:
        words = english_words_in(_visible_words(page))
        found[name] = (_axe_violations(axe, page) + _structure(page)
                       + ([f"English words: {words}"] if words else []))

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="nl-NL")
            _sign_in(page, web.url, "ada")
            page.goto(f"{web.url}/beheer/accounts/nieuw")
            page.get_by_label("Gebruikersnaam").focus()
            page.keyboard.type("alice")  # taken: refused
            page.keyboard.press("Enter")
            expect(page.get_by_role("alert")).to_contain_text("bestaat al")
            assert page.get_attribute("#username", "aria-describedby") == "account-error"
            check("refused", page)
            page.get_by_label("Gebruikersnaam").fill("")
            page.get_by_label("Gebruikersnaam").focus()
            page.keyboard.type("carla")
            page.keyboard.press("Tab")  # the role: teamlid
            page.keyboard.press("Tab")  # the first team
            page.keyboard.press("Space")
            page.get_by_role("button", name="Account toevoegen").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_role("status")).to_contain_text("is toegevoegd")
            shown = page.locator("#shown-password").inner_text()
            assert len(shown) >= 16
            check("added", page)
            page.goto(f"{web.url}/beheer/accounts/carla")
            page.get_by_role("button", name="Account uitschakelen").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_role("status")).to_contain_text("uitgeschakeld")
            assert shown not in page.content()
            check("disabled", page)
        finally:
            browser.close()
    carla = web.users.get("carla")
    assert carla is not None and carla.disabled and carla.teams == frozenset({"team-a"})
    assert {k: v for k, v in found.items() if v} == {}
