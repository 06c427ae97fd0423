"""The web app speaks Dutch: every page (each role, the error pages) is ``lang="nl"``
with no English UI words left; dates, times and amounts in Dutch form; the error page
says in Dutch what the (English) error detail means, while the JSON API keeps English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub.ddas.codes import Contactsoort
from hub.inbox import CaseStore, CloseOutcome
from hub.web.texts import error_text, field_value, nl_amount, nl_date, nl_datetime
from tests.test_web_inbox import WebServer, client, csrf, make_alert, sign_in, start_web

#: English words and phrases of the old pages that must not show up (case-sensitive)
ENGLISH_WORDS = (
    "Inbox", "Team inbox", "Claim", "Claimed", "claimed", "Close", "Closed", "closed",
    "Sign in", "Sign out", "Username", "Password", "Notes", "Note", "Add note", "Due",
    "Created", "Urgency", "Event type", "URGENT", "NORMAL", "Picked up", "PICKED_UP",
    "NOT_PICKED_UP", "Not found", "No access", "Back to", "Live updates", "Dead letters",
    "dead letter", "Replay", "replayed", "messages", "Updated", "Operator", "Consumer lag",
    "Refusals", "Forwarded", "Last errors", "Earlier signals", "Legal basis", "Person",
    "Something is wrong", "Too many", "Reload", "wrong password", "All", "Reset", "since",
    "failed at", "not replayable", "Event flow", "ENERGY", "Users", "Add user", "Disable",
    "Enable", "disabled", "active", "member", "operator", "admin", "Teams saved",
)
_WORDS = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ENGLISH_WORDS)
                    + r")(?![\w-])")


def english_words_in(text: str) -> list[str]:
    return sorted(set(_WORDS.findall(text)))


def page_text(markup: str) -> str:
    """What a reader gets from a page: text, title, and the accessible-name attributes."""
    attributes = re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', markup)
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", markup)
    return html.unescape(" ".join([text, *attributes]))


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path)
    try:
        yield server
    finally:
        stop()


def test_dutch_dates_amounts_and_field_values() -> None:
    assert nl_date(date(2026, 12, 1)) == "1 december 2026"
    assert nl_date("2027-04-27") == "27 april 2027"
    assert nl_datetime(datetime(2026, 12, 1, 13, 5, tzinfo=UTC)) == "1 december 2026, 14:05"
    assert nl_datetime(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "1 juli 2026, 14:00"
    assert nl_amount(1234.56) == "€\u00a01.234,56" and nl_amount(5) == "€\u00a05,00"
    assert field_value("123456", "arrears_amount_cents") == "€\u00a01.234,56"
    assert field_value("ENERGY", "creditor_type") == "Energie"
    assert field_value("true", "crisis") == "ja"
    assert field_value("2026-03-01", "arrears_since") == "1 maart 2026"


def test_the_error_page_says_in_dutch_what_an_english_detail_means() -> None:
    assert error_text("No such alert.", 404) == "Deze melding bestaat niet (meer)."
    assert error_text("alert x1 is claimed by someone else", 409).startswith("Een collega")
    assert error_text("something nobody wrote down", 409).startswith("De melding is")
    assert error_text("", 500).startswith("Er ging iets mis")


def test_every_page_is_dutch_for_every_role(web: WebServer) -> None:
    mine, other = make_alert("team-a", urgent=True), make_alert("team-b")
    done = make_alert("team-a", minutes=10)
    web.inbox.add_many([mine, other, done])
    web.inbox.add_note(done.alert_id, "alice", "Gebeld")
    web.inbox.close_alert(done.alert_id, CloseOutcome.PICKED_UP, by="alice")
    anonymous = client(web)
    pages = {"anonymous /login": anonymous.get("/login"),
             "anonymous 404": anonymous.get("/nergens")}
    failed = anonymous.post("/login", data={"username": "x", "password": "y",
                                            "csrf_token": "not-it"})
    pages["anonymous bad form"] = failed
    cases = CaseStore(web.inbox.database)
    case = cases.case_of(mine.alert_id).case_id
    their_case = cases.case_of(other.alert_id).case_id
    cases.take_up(case, "alice")
    cases.add_attempt(case, "alice", kind=Contactsoort.TELEFOON, reached=False)
    alice = sign_in(web, "alice")
    for path in (f"/inbox/cases/{case}?done=attempt", f"/inbox/cases/{their_case}",
                 "/inbox/cases/onbekend"):
        pages[f"alice {path}"] = alice.get(path)
    for path in ("/inbox", f"/inbox/alerts/{mine.alert_id}",
                 f"/inbox/alerts/{done.alert_id}?done=published",
                 f"/inbox/alerts/{other.alert_id}", "/inbox/alerts/onbekend", "/operator"):
        pages[f"alice {path}"] = alice.get(path)
    ada = sign_in(web, "ada")
    for path in ("/beheer/accounts", "/beheer/accounts/nieuw", "/beheer/accounts/alice",
                 "/beheer/accounts/olga", "/beheer/accounts/ada", "/beheer/accounts/niemand",
                 "/beheer/export"):
        pages[f"ada {path}"] = ada.get(path)
    for path in ("/beheer/accounts", "/beheer/accounts/alice"):
        pages[f"alice {path}"] = alice.get(path)
    token = csrf(pages["ada /beheer/accounts/nieuw"].text)
    pages["ada added"] = ada.post("/beheer/accounts/nieuw", data={
        "csrf_token": token, "username": "carla", "role": "member", "teams": "team-a"})
    pages["ada refused"] = ada.post("/beheer/accounts/nieuw", data={
        "csrf_token": token, "username": "carla", "role": "member"})
    pages["ada done"] = ada.get("/beheer/accounts/carla?done=disabled")
    pages["ada export refused"] = ada.post("/beheer/export", data={
        "csrf_token": token, "municipality": "GM9999", "period_start": "2026-06-30",
        "period_end": "2026-04-01", "supplier_code": "X"})
    olga = sign_in(web, "olga")
    for path in ("/operator", "/operator/deadletters", "/inbox", "/", "/beheer/accounts",
                 "/beheer/export"):
        pages[f"olga {path}"] = olga.get(path, follow_redirects=True)
    statuses = {name: r.status_code for name, r in pages.items()}
    assert statuses["alice /operator"] == statuses["olga /inbox"] == 403
    assert statuses["olga /beheer/accounts"] == 403
    assert statuses["alice /beheer/accounts"] == statuses["alice /beheer/accounts/alice"] == 403
    assert statuses["ada added"] == 200 and statuses["ada refused"] == 422
    assert statuses["ada export refused"] == 422 and statuses["olga /beheer/export"] == 403
    assert statuses["ada /beheer/accounts/niemand"] == 404
    assert statuses["anonymous 404"] == 404 and statuses["anonymous bad form"] == 403
    problems = {}
    for name, r in pages.items():
        assert r.headers["content-type"].startswith("text/html"), name
        text = page_text(r.text)
        found = english_words_in(text)
        if '<html lang="nl">' not in r.text or found:
            problems[name] = found
    assert problems == {}
    detail = page_text(pages[f"alice /inbox/alerts/{mine.alert_id}"].text)
    assert nl_date(mine.due_date) in detail and nl_datetime(mine.created_at) in detail
    assert "Spoed" in detail and "Energie" in detail
    assert "Geen toegang" in page_text(pages[f"alice /inbox/alerts/{other.alert_id}"].text)
    assert "Het formulier is verlopen" in page_text(failed.text)
    # the JSON API keeps its English details for integrators
    assert alice.get(f"/api/alerts/{other.alert_id}").json()["detail"].startswith("This alert")
