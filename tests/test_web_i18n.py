"""English as the web app's second language: the browser's ``Accept-Language`` (q-values
honoured) or the language switch's cookie chooses, Dutch stays the default; every page
of every role in English (``lang="en"``, no Dutch UI words left, the switch back to
Dutch); the English catalog is complete and up to date with the templates and the code;
the DDAS model's Dutch terms stay as they are in English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from hub.ddas.codes import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.inbox import CaseStore, CloseOutcome
from hub.web import texts
from hub.web.i18n import COOKIE, LOCALE_DIR, choose_locale, using_locale
from tests.test_web_dutch_pages import english_words_in, page_text
from tests.test_web_inbox import PASSWORD, WebServer, csrf, make_alert, start_web

ROOT = Path(__file__).resolve().parents[1]
CATALOG = LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po"
#: Dutch words of the pages that must not show up on an English page (case-sensitive;
#: the DDAS model's terms are allowed: they stay Dutch)
DUTCH_WORDS = (
    "Inloggen", "Uitloggen", "Ingelogd als", "Gebruikersnaam", "Wachtwoord", "Meldingen",
    "Meldingen van je team", "Zoeken", "Alles tonen", "Notities", "Notitie", "Binnengekomen",
    "Urgentie", "Spoed", "Normaal", "te laat", "werkdag", "werkdagen", "Behandelaar",
    "Uiterlijk op", "Wat wil je doen", "Naar de inhoud", "Geen toegang", "Niet gevonden",
    "teamlid", "beheerder", "Automatisch bijwerken", "Zaak afsluiten", "Contactpogingen",
    "Eerdere signalen", "Terug naar de startpagina", "Onbestelbare berichten", "berichten",
    "Verwerking", "Achterstand", "achterstand", "Schuldeiser", "Stand van de zaak",
    "Geopend", "Afgesloten door", "Oppakken", "Accounts beheer", "Account toevoegen",
    "uitgeschakeld", "actief", "Rol", "Gegevens", "foutcode", "Hoofdmenu", "Energie",
    "januari", "februari", "maart", "mei", "juni", "juli", "augustus", "oktober",
    "In behandeling", "Nieuw", "Controleer", "Kies", "Opgepakt op", "ja", "nee",
)
_DUTCH = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in DUTCH_WORDS)
                    + r")(?![\w-])")
#: the DDAS model's terms, shown as they are in both languages
DDAS_TERMS = [*(c.value for c in Contactsoort), *(d.value for d in Dagdeel),
              *(r.value for r in Eindresultaat), *(s.value for s in Signaalstatus)]


def dutch_words_in(text: str) -> list[str]:
    """The Dutch UI words in ``text``, after taking out the DDAS terms."""
    for term in sorted(DDAS_TERMS, key=len, reverse=True):
        text = text.replace(term, " ")
    return sorted(set(_DUTCH.findall(text)))


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path)
    try:
        yield server
    finally:
        stop()


def browser(web: WebServer, accept_language: str | None = None) -> httpx.Client:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    c = httpx.Client(base_url=web.url, follow_redirects=False, timeout=10.0, headers=headers)
    web.clients.append(c)
    return c


def signed_in(web: WebServer, username: str, accept_language: str = "en") -> httpx.Client:
    c = browser(web, accept_language)
    token = csrf(c.get("/login").text)
    r = c.post("/login", data={"username": username, "password": PASSWORD,
                               "csrf_token": token, "next": "/inbox"})
    assert r.status_code == 303, r.text
    return c


def lang_of(markup: str) -> str:
    found = re.search(r'<html lang="([^"]*)">', markup)
    assert found, "no <html lang>"
    return found.group(1)


# -- choosing the language ---------------------------------------------------------------


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, None, "nl"), (None, "", "nl"), (None, "en", "en"), (None, "en-GB,en;q=0.9", "en"),
    (None, "nl-NL,nl;q=0.9,en;q=0.8", "nl"), (None, "en;q=0.3, nl;q=0.8", "nl"),
    (None, "nl;q=0.5, en-US;q=0.9", "en"), (None, "de-DE,de;q=0.9,en;q=0.5", "en"),
    (None, "de, fr", "nl"), (None, "*", "nl"), (None, "en;q=0", "nl"),
    (None, "en;q=abc, nl", "nl"), ("en", "nl", "en"), ("nl", "en", "nl"),
    ("de", "en", "en"), ("de", None, "nl"),
])
def test_the_cookie_then_accept_language_then_dutch(cookie: str | None, header: str | None,
                                                     expected: str) -> None:
    assert choose_locale(cookie, header) == expected


def test_accept_language_english_gives_the_english_login_page(web: WebServer) -> None:
    english = browser(web, "en-GB,en;q=0.9,nl;q=0.5").get("/login")
    assert lang_of(english.text) == "en"
    text = page_text(english.text)
    assert "Sign in" in text and "Username" in text and "Password" in text
    assert dutch_words_in(text) == []
    # the switch back, in its own language
    assert re.search(r'<a href="/taal\?lang=nl&amp;next=/login" lang="nl" hreflang="nl">'
                     r"Nederlands</a>", english.text)
    dutch = browser(web).get("/login")
    assert lang_of(dutch.text) == "nl" and "Inloggen" in page_text(dutch.text)
    assert 'lang="en" hreflang="en">English</a>' in dutch.text
    unknown = browser(web, "fr-FR,fr;q=0.9").get("/login")
    assert lang_of(unknown.text) == "nl" and english_words_in(page_text(unknown.text)) == []


def test_the_switch_stores_the_choice_which_beats_the_header(web: WebServer) -> None:
    c = browser(web, "en")
    r = c.get("/taal", params={"lang": "nl", "next": "/login?next=/inbox"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/inbox"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=nl;") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert r.headers["X-Frame-Options"] == "DENY"  # the security headers stay
    assert "Content-Security-Policy" in r.headers
    page = c.get("/login")
    assert lang_of(page.text) == "nl" and "Inloggen" in page_text(page.text)
    # before sign-in, and signing in keeps it (the login form's CSRF token works)
    token = csrf(page.text)
    signed = c.post("/login", data={"username": "alice", "password": PASSWORD,
                                    "csrf_token": token, "next": "/inbox"})
    assert signed.status_code == 303
    assert lang_of(c.get("/inbox").text) == "nl"
    c.get("/taal", params={"lang": "en", "next": "/inbox"})
    inbox = c.get("/inbox")
    assert lang_of(inbox.text) == "en" and "Your team's alerts" in page_text(inbox.text)


def test_the_switch_refuses_unknown_languages_and_foreign_destinations(web: WebServer
                                                                         ) -> None:
    c = browser(web)
    r = c.get("/taal", params={"lang": "de", "next": "/login"})
    assert r.status_code == 303 and "set-cookie" not in r.headers
    assert lang_of(c.get("/login").text) == "nl"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        away = c.get("/taal", params={"lang": "en", "next": target})
        assert away.headers["location"] == "/"
    c.cookies.set(COOKIE, "xx")  # a cookie of no language: the header, else Dutch
    assert lang_of(c.get("/login").text) == "nl"


def test_english_sign_in_error_and_error_pages(web: WebServer) -> None:
    c = browser(web, "en")
    token = csrf(c.get("/login").text)
    failed = c.post("/login", data={"username": "alice", "password": "wrong!",
                                    "csrf_token": token})
    assert failed.status_code == 401
    assert "The username or the password is not correct." in page_text(failed.text)
    missing = c.get("/nergens")
    assert missing.status_code == 404 and lang_of(missing.text) == "en"
    assert "Not found" in page_text(missing.text)
    assert "error code 404" in page_text(missing.text)
    expired = c.post("/login", data={"username": "x", "password": "y", "csrf_token": "no"})
    assert expired.status_code == 403 and "The form has expired" in page_text(expired.text)
    # the JSON API keeps its English details whatever the language
    alice = signed_in(web, "alice", "nl")
    assert alice.get("/api/alerts/onbekend").json()["detail"] == "No such alert."


# -- every page in English ---------------------------------------------------------------


def test_every_page_for_every_role_is_english(web: WebServer) -> None:
    mine, other = make_alert("team-a", urgent=True), make_alert("team-b")
    done = make_alert("team-a", minutes=10)
    web.inbox.add_many([mine, other, done])
    web.inbox.add_note(done.alert_id, "alice", "Gebeld")
    web.inbox.close_alert(done.alert_id, CloseOutcome.PICKED_UP, by="alice")
    cases = CaseStore(web.inbox.database)
    case = cases.case_of(mine.alert_id).case_id
    cases.take_up(case, "alice")
    cases.add_attempt(case, "alice", kind=Contactsoort.TELEFOON, reached=False,
                      part_of_day=Dagdeel.OCHTEND)
    anonymous = browser(web, "en")
    pages = {"anonymous /login": anonymous.get("/login"),
             "anonymous 404": anonymous.get("/nergens")}
    alice = signed_in(web, "alice")
    for path in ("/inbox", f"/inbox/alerts/{mine.alert_id}?done=claimed",
                 f"/inbox/alerts/{done.alert_id}?done=published",
                 f"/inbox/alerts/{other.alert_id}", f"/inbox/cases/{case}?done=attempt",
                 f"/inbox/cases/{cases.case_of(other.alert_id).case_id}", "/operator",
                 "/beheer/accounts"):
        pages[f"alice {path}"] = alice.get(path)
    ada = signed_in(web, "ada")
    for path in ("/beheer/accounts", "/beheer/accounts/nieuw",
                 "/beheer/accounts/alice?done=teams", "/beheer/accounts/ada",
                 "/beheer/accounts/niemand", "/beheer/export"):
        pages[f"ada {path}"] = ada.get(path)
    token = csrf(pages["ada /beheer/accounts/nieuw"].text)
    pages["ada added"] = ada.post("/beheer/accounts/nieuw", data={
        "csrf_token": token, "username": "carla", "role": "member", "teams": "team-a"})
    pages["ada refused"] = ada.post("/beheer/accounts/nieuw", data={
        "csrf_token": token, "username": "carla", "role": "member"})
    pages["ada export refused"] = ada.post("/beheer/export", data={
        "csrf_token": token, "municipality": "GM0000", "period_start": "2026-06-30",
        "period_end": "x", "supplier_code": ""})
    olga = signed_in(web, "olga")
    for path in ("/operator", "/operator/deadletters", "/inbox"):
        pages[f"olga {path}"] = olga.get(path, follow_redirects=True)
    problems = {}
    for name, r in pages.items():
        text = page_text(r.text)
        found = dutch_words_in(text)
        switch = 'lang="nl" hreflang="nl">Nederlands</a>' in r.text
        if lang_of(r.text) != "en" or found or not switch:
            problems[name] = found
    assert problems == {}
    assert pages["ada refused"].status_code == 422
    assert "This username already exists." in page_text(pages["ada refused"].text)
    refused = page_text(pages["ada export refused"].text)
    assert pages["ada export refused"].status_code == 422
    assert "Choose a municipality from the list." in refused
    assert "Fill in a date at ‘Last day’ (dd-mm-yyyy)." in refused
    detail = page_text(pages[f"alice /inbox/alerts/{mine.alert_id}?done=claimed"].text)
    assert "You are now handling this alert." in detail  # a notice from the code
    assert "Urgent" in detail and "Energy" in detail and "Signed in as alice" in detail
    with using_locale("en"):
        assert texts.nl_date(mine.due_date) in detail
        assert texts.nl_datetime(mine.created_at) in detail
    assert "No access" in page_text(pages[f"alice /inbox/alerts/{other.alert_id}"].text)
    # the scripts get their texts from the page, in English
    inbox = pages["alice /inbox"].text
    assert '"live_on": "Live updates: on"' in inbox and '"December"' in inbox
    assert '"NORMAL": "Normal"' in inbox


def test_the_ddas_terms_stay_dutch_in_english(web: WebServer) -> None:
    alert = make_alert("team-a")
    web.inbox.add_many([alert])
    cases = CaseStore(web.inbox.database)
    case = cases.case_of(alert.alert_id).case_id
    alice = signed_in(web, "alice")
    fresh = page_text(alice.get(f"/inbox/cases/{case}").text)
    assert Signaalstatus.NOG_NIET_OPGEPAKT.value in fresh  # the state and the status
    assert "Vroegsignaalzaak" in fresh and "Take up" in fresh
    for value in (r.value for r in Eindresultaat):
        assert value in fresh, value
    cases.take_up(case, "alice")
    cases.add_attempt(case, "alice", kind=Contactsoort.HUISBEZOEK, reached=True,
                      part_of_day=Dagdeel.MIDDAG)
    taken = page_text(alice.get(f"/inbox/cases/{case}").text)
    for value in [*(c.value for c in Contactsoort), *(d.value for d in Dagdeel),
                  *(s.value for s in Signaalstatus)]:
        assert value in taken, value
    assert "Taken up on" in taken and "Record a contact attempt" in taken
    assert "Huisbezoek" in taken and "Middag" in taken and "yes" in taken
    cases.close(case, Eindresultaat.VERVOLGHULP_FINANCIEEL, "alice")
    closed = page_text(alice.get(f"/inbox/cases/{case}").text)
    assert "Closed: Vervolghulp en/of verwijzing financieel" in closed


# -- the catalog -------------------------------------------------------------------------


def _catalog() -> list[tuple[str | tuple[str, ...], object, set[str]]]:
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="en")
    assert not catalog.obsolete
    problems = [(m.id, errors) for m in catalog if m.id for errors in [list(m.check(catalog))]
                if errors]
    assert problems == [], problems  # placeholders kept (python-format)
    return [(m.id, m.string, set(m.flags)) for m in catalog if m.id]


def test_every_message_has_its_english() -> None:
    entries = _catalog()
    assert len(entries) > 250
    empty = [i for i, s, _ in entries if not s or (isinstance(s, tuple) and not all(s))]
    fuzzy = [i for i, _, flags in entries if "fuzzy" in flags]
    assert empty == [] and fuzzy == []


def test_the_catalog_is_up_to_date_with_the_templates_and_the_code() -> None:
    """Extract again as ``make translations`` does (babel.cfg) and compare the ids."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    extracted = {msgid for _, _, msgid, _, _ in extract_from_dir(
        str(ROOT / "hub" / "web"), method_map, options_map)}
    extracted = {m if isinstance(m, str) else tuple(m) for m in extracted}
    in_catalog = {i for i, _, _ in _catalog()}
    assert extracted - in_catalog == set(), "run `make translations` and translate"
    assert in_catalog - extracted == set(), "run `make translations`"


def test_the_ddas_terms_are_no_message_of_their_own() -> None:
    """The model's terms are shown as their values: none of them is translated by a
    message of the catalog other than the hub's own labels that spell the same."""
    ids = {i for i, _, _ in _catalog() if isinstance(i, str)}
    # the hub's own words that happen to spell a model term (its outcome label
    # "Opgepakt", the empty choice "Onbekend"): shown where the hub means its own
    assert {t for t in DDAS_TERMS if t in ids} <= {"Opgepakt", "Onbekend"}


def test_no_compiled_catalog_in_the_tree() -> None:
    assert not list(LOCALE_DIR.rglob("*.mo"))
