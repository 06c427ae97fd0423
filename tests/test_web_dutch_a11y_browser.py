"""Every page of the web app in a real headless Chromium (Debian's package, Playwright),
signed in as each role, in Dutch and in English (the browser's language, so its
``Accept-Language``): axe-core (the PyPI package axe-playwright-python) finds no
violation of WCAG 2.0/2.1/2.2 A and AA; every page is in the browser's language
(``lang="nl"`` with no English UI words left, or ``lang="en"`` with no Dutch ones but
the DDAS model's terms), has one h1, landmarks and a skip link; the close flow works
with the keyboard alone, with a visible focus."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.ddas.codes import Contactsoort, Dagdeel
from hub.inbox import CaseStore, CloseOutcome
from hub.settings import WebSettings
from tests.test_metrics import route_signals
from tests.test_web_dutch_pages import ENGLISH_WORDS, english_words_in
from tests.test_web_i18n import dutch_words_in
from tests.test_web_inbox import PASSWORD, SUBJECT_B, WebServer, make_alert, start_web

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: the axe-core rule tags of WCAG 2.0, 2.1 and 2.2 at levels A and AA
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: per language: the browser's locale, the login form's labels, the live list's state
#: when connected, and the words that must not show up
LANGUAGES: dict[str, dict[str, Any]] = {
    "nl": {"locale": "nl-NL", "username": "Gebruikersnaam", "password": "Wachtwoord",
           "sign_in": "Inloggen", "live_on": "Automatisch bijwerken: aan",
           "wrong_words": english_words_in,
           "export": ("Gemeente", "Eerste dag van de periode", "Laatste dag van de periode",
                      "Code gegevensleverancier", "Levering downloaden")},
    "en": {"locale": "en-GB", "username": "Username", "password": "Password",
           "sign_in": "Sign in", "live_on": "Live updates: on",
           "wrong_words": dutch_words_in,
           "export": ("Municipality", "First day of the period", "Last day of the period",
                      "Data supplier code", "Download the delivery")},
}


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    server, stop = start_web(tmp_path, WebSettings())
    router = None
    try:
        router, _ = route_signals(server.conn, tmp_path / "router", n=2, outside=2)
        yield server
    finally:
        if router is not None:
            router.close()
        stop()


def _alerts(web: WebServer) -> dict[str, str]:
    """Alerts in each state the pages show: new (urgent, overdue), claimed with a note,
    closed; and one of another team."""
    # the simple flow (claim and close on the alert's page): an eviction alert
    new = make_alert("team-a", urgent=True, event_type="eviction-risk")
    late = make_alert("team-a", urgent=True)
    # ten days back: late by working days (weekends and holidays are not), on any day
    late = late.model_copy(update={"due_date": date.today() - timedelta(days=10)})
    claimed, closed = make_alert("team-a", minutes=20), make_alert("team-a", minutes=40)
    theirs = make_alert("team-b", subject=SUBJECT_B)
    web.inbox.add_many([new, late, claimed, closed, theirs])
    web.inbox.claim(claimed.alert_id, "alice")
    web.inbox.add_note(claimed.alert_id, "alice", "Gebeld, geen gehoor")
    web.inbox.close_alert(closed.alert_id, CloseOutcome.NOT_PICKED_UP, by="alice",
                          note="Verhuisd")
    # a case taken up with a contact attempt and an earlier signal of its person (the
    # case of the alerts above stays as it came: not taken up)
    person = "ps1-" + "c3" * 20
    worked = make_alert("team-a", subject=person)
    early = make_alert("team-a", subject=person, minutes=60 * 24 * 20,
                       event_type="eviction-risk")
    web.inbox.add_many([worked, early])
    cases = CaseStore(web.inbox.database)
    case, their_case = (cases.case_of(worked.alert_id).case_id,
                        cases.case_of(theirs.alert_id).case_id)
    cases.take_up(case, "alice")
    cases.add_attempt(case, "alice", kind=Contactsoort.TELEFOON, reached=False,
                      part_of_day=Dagdeel.OCHTEND)
    return {"new": new.alert_id, "late": late.alert_id, "claimed": claimed.alert_id,
            "closed": closed.alert_id, "theirs": theirs.alert_id, "case": case,
            "their_case": their_case, "fresh_case": cases.case_of(late.alert_id).case_id}


def _pages(ids: dict[str, str], language: dict[str, Any]) -> dict[str | None, list[str]]:
    """The paths to check per user (None: not signed in)."""
    alert = "/inbox/alerts/"
    return {
        None: ["/login", "/nergens"],
        "alice": ["/inbox", "/inbox?status=new&urgency=URGENT", f"{alert}{ids['new']}",
                  f"{alert}{ids['late']}", f"{alert}{ids['claimed']}?done=noted",
                  f"{alert}{ids['closed']}?done=published", f"{alert}{ids['theirs']}",
                  f"{alert}onbekend", "/operator", "/beheer/accounts",
                  f"/inbox/cases/{ids['case']}?done=attempt",
                  f"/inbox/cases/{ids['fresh_case']}", f"/inbox/cases/{ids['their_case']}"],
        "olga": ["/operator", "/operator/deadletters",
                 "/operator/deadletters?replayed_offset=1",
                 "/operator/deadletters?replayed=2&skipped=1&missing=9", "/inbox",
                 "/beheer/accounts"],
        "ada": ["/inbox", "/operator", "/operator/deadletters", "/beheer/accounts",
                "/beheer/accounts/nieuw", "/beheer/accounts/alice?done=disabled",
                "/beheer/accounts/olga", "/beheer/accounts/ada", "/beheer/accounts/niemand",
                "/beheer/export"],
    }


def _sign_in(page: Any, url: str, username: str,
             language: dict[str, Any] = LANGUAGES["nl"]) -> None:  # noqa: B006 - read only
    page.goto(f"{url}/login")
    page.get_by_label(language["username"]).fill(username)
    page.get_by_label(language["password"]).fill(PASSWORD)
    page.get_by_role("button", name=language["sign_in"]).click()
    page.wait_for_url(re.compile(r".*/(inbox|operator)$"))


def _axe_violations(axe: Any, page: Any) -> list[str]:
    results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            for v in results.response["violations"]]


def _visible_words(page: Any) -> str:
    """What a user reads or hears: the body text, the title and the accessible names
    and descriptions given by attributes."""
    return str(page.evaluate("""() => [document.title, document.body.innerText,
        ...[...document.querySelectorAll("[aria-label], [title], [placeholder], [alt]")]
          .map(e => [e.getAttribute("aria-label"), e.getAttribute("title"),
                     e.getAttribute("placeholder"), e.getAttribute("alt")].join(" "))
      ].join("\\n")"""))


def _structure(page: Any, lang: str = "nl") -> list[str]:
    """Problems with the page's structure that axe leaves to the tester."""
    problems = []
    if page.evaluate("document.documentElement.lang") != lang:
        problems.append(f'not <html lang="{lang}">')
    other = page.locator(f".lang-switch a[lang='{'en' if lang == 'nl' else 'nl'}']")
    if other.count() != 1:
        problems.append("no link to the other language")
    if page.locator("h1").count() != 1:
        problems.append(f"{page.locator('h1').count()} h1 elements")
    if page.locator("main").count() != 1 or page.locator("header").count() < 1:
        problems.append("no header and main landmarks")
    skip = page.locator("a.skip")
    if skip.count() != 1 or skip.get_attribute("href") != "#inhoud":
        problems.append("no skip link to the content")
    if page.locator("th:not([scope])").count():
        problems.append("a table header without scope")
    return problems


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_page_for_every_role_in_each_language_has_no_axe_violations(
        web: WebServer, lang: str) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    language = LANGUAGES[lang]
    ids = _alerts(web)
    axe = Axe()
    found: dict[str, list[str]] = {}
    checked = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for username, paths in _pages(ids, language).items():
                context = browser.new_context(viewport={"width": 1280, "height": 900},
                                              locale=language["locale"])
                page = context.new_page()
                if username is not None:
                    _sign_in(page, web.url, username, language)
                else:  # the login page with its error message, too
                    page.goto(f"{web.url}/login")
                    page.get_by_label(language["username"]).fill("niemand")
                    page.get_by_label(language["password"]).fill("fout-wachtwoord")
                    page.get_by_role("button", name=language["sign_in"]).click()
                    page.get_by_role("alert").wait_for()
                    for field in ("#username", "#password"):  # the error names its fields
                        assert page.get_attribute(field, "aria-describedby") == "login-error"
                        assert page.get_attribute(field, "aria-invalid") == "true"
                    found["login with an error"] = (_axe_violations(axe, page)
                                                    + _structure(page, lang))
                for path in paths:
                    page.goto(f"{web.url}{path}")
                    page.wait_for_load_state("networkidle" if "/inbox" not in path
                                             else "load")
                    if path.startswith("/inbox") and "alerts" not in path and \
                            ids["their_case"] not in path and \
                            username != "olga":  # the live list or case has connected
                        page.get_by_text(language["live_on"]).wait_for()
                    problems = _axe_violations(axe, page) + _structure(page, lang)
                    words = language["wrong_words"](_visible_words(page))
                    if words:
                        problems.append(f"words of the other language: {words}")
                    found[f"{username or 'anonymous'} {path}"] = problems
                    checked += 1
                if username == "ada":  # the CBS export with errors at its fields
                    town, first, last, supplier, download = language["export"]
                    page.goto(f"{web.url}/beheer/export")
                    page.get_by_label(town).select_option("GM9999")
                    page.get_by_label(first).fill("2026-06-30")
                    page.get_by_label(last).fill("2026-04-01")
                    page.get_by_label(supplier).fill("SH-TEST")
                    page.get_by_role("button", name=download).click()
                    page.get_by_role("alert").wait_for()
                    assert page.get_attribute("#period_end", "aria-invalid") == "true"
                    assert page.get_attribute("#period_end", "aria-describedby") == \
                        "period_end-error"
                    found["ada /beheer/export with an error"] = (_axe_violations(axe, page)
                                                                 + _structure(page, lang))
                if username == "alice":  # a contact attempt with errors at its fields
                    page.goto(f"{web.url}/inbox/cases/{ids['case']}")
                    # past the browser's own checks: no kind, no answer, a date ahead
                    page.evaluate("""() => {
                        const form = document.getElementById("attempt-form");
                        form.noValidate = true;
                        form.querySelector("[name=on]").value = "2999-01-01"; }""")
                    page.locator("#add-attempt").click()
                    page.get_by_role("alert").wait_for()
                    page.wait_for_function("document.activeElement.id === 'case-errors'")
                    for field in ("#attempt-kind", "#attempt-on"):
                        assert page.get_attribute(field, "aria-invalid") == "true"
                        assert page.get_attribute(field, "aria-describedby") == \
                            f"{field[1:]}-error"
                    problems = _axe_violations(axe, page) + _structure(page, lang)
                    words = language["wrong_words"](_visible_words(page))
                    if words:
                        problems.append(f"words of the other language: {words}")
                    found["alice a case's contact attempt with errors"] = problems
                context.close()
        finally:
            browser.close()
    assert checked >= 29 and len(ENGLISH_WORDS) > 20
    bad = {k: v for k, v in found.items() if v}
    assert bad == {}, "\n".join(f"{k}: {p}" for k, v in bad.items() for p in v)


def test_closing_an_alert_with_the_keyboard_alone(web: WebServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    ids = _alerts(web)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="nl-NL")
            _sign_in(page, web.url, "alice")
            page.goto(f"{web.url}/inbox/alerts/{ids['new']}")

            def tab_to(selector: str, limit: int = 40) -> None:
                for _ in range(limit):
                    page.keyboard.press("Tab")
                    if page.evaluate(f"document.activeElement.matches({selector!r})"):
                        # the focus is visible: an outline of at least 2 px
                        width = page.evaluate("parseFloat(getComputedStyle("
                                              "document.activeElement).outlineWidth)")
                        assert width >= 2, f"no visible focus on {selector}"
                        return
                raise AssertionError(f"{selector} is not reachable with Tab")

            # the first Tab reaches the skip link; Enter moves to the content
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "inhoud"

            tab_to("#claim")
            page.keyboard.press("Enter")
            expect(page.get_by_role("status")).to_have_text("Je behandelt deze melding nu.")
            tab_to("input[name=outcome]")
            page.keyboard.press("Space")  # the first outcome: picked up
            tab_to("textarea[name=note]")
            page.keyboard.type("Afspraak gemaakt")
            tab_to("#close")
            page.keyboard.press("Enter")
            expect(page.get_by_role("status")).to_contain_text("De melder heeft de uitkomst")
            expect(page.locator("#status")).to_contain_text("Afgesloten: Opgepakt")
        finally:
            browser.close()
    assert web.inbox.get(ids["new"]).outcome is CloseOutcome.PICKED_UP
