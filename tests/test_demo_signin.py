"""Acceptance: `signalhub demo` (what `make run` starts) prints each role's page and
credentials; signing in with them in a real headless Chromium (Debian's package, driven
by Playwright) lands each role on its home page, never on a 403 page, also when the
operator follows the inbox link."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.demo_run import start_demo
from tests.test_web_browser_inbox import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOME_HEADINGS = {"/inbox": "Meldingen van je team", "/operator": "Verwerking van berichten"}


def test_each_role_signs_in_with_the_printed_credentials_and_lands_home(
        tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    demo = start_demo(tmp_path)
    try:
        demo.read_banner(timeout=90)
        accounts = demo.accounts()
        assert set(accounts) == {"member", "operator", "admin"}, demo.lines
        homes = {role: re.sub(r"^https?://[^/]+", "", url)
                 for role, (url, _, _) in accounts.items()}
        assert homes == {"member": "/inbox", "operator": "/operator", "admin": "/inbox"}
        assert any(re.search(r"\bmetrics\s+http://\S+/metrics$", line) for line in demo.lines)
        member_url = accounts["member"][0]
        visits = [(role, url, url, username, password)
                  for role, (url, username, password) in accounts.items()]
        operator_url, operator, operator_password = accounts["operator"]
        visits.append(("operator-via-inbox", member_url, operator_url, operator,
                       operator_password))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                for name, start, home, username, password in visits:
                    context = browser.new_context(locale="nl-NL")  # no cookie of the previous role
                    page = context.new_page()
                    page.goto(start)
                    expect(page).to_have_url(re.compile(r"/login\?next="))
                    page.get_by_label("Gebruikersnaam").fill(username)
                    page.get_by_label("Wachtwoord").fill(password)
                    with page.expect_navigation() as landed:
                        page.get_by_role("button", name="Inloggen").click()
                    response = landed.value
                    assert response is not None and response.status == 200, name
                    expect(page).to_have_url(home)
                    heading = HOME_HEADINGS[urlsplit(home).path]
                    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
                    expect(page.get_by_role("heading", name="Geen toegang")).to_have_count(0)
                    page.screenshot(path=str(ARTIFACTS / f"demo-signin-{name}.png"))
                    context.close()
            finally:
                browser.close()
    finally:
        printed = demo.stop(timeout=60)
    assert demo.proc.returncode == 0, (printed, demo.errors)
    assert printed[-1].startswith("stopped after "), printed[-3:]
