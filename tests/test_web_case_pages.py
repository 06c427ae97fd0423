"""The case pages of the web inbox over HTTP on each store backend (SQLite, and
PostgreSQL: marker postgres): a debt alert's page leads to its case; take up, contact
attempts, a signal's own status and the close with an Eindresultaat; the source gets
PICKED_UP; the team's own earlier signals of the person, never another team's; another
team's case is a 403; the live stream carries the case's changed statuses."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from hub.ddas.codes import Eindresultaat, Signaalstatus
from hub.inbox import CaseStore, InboxStatus
from hub.topics import OUTCOMES
from hub.web.i18n import COOKIE
from tests.test_web_inbox import (
    SUBJECT_B,
    WebServer,
    audit_of,
    csrf,
    make_alert,
    sign_in,
    start_web,
)


@pytest.fixture
def web(tmp_path: Path, database_url: str) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path, database=database_url)
    try:
        yield server
    finally:
        stop()


def case_url(web: WebServer, alert_id: str) -> str:
    return "/inbox/cases/" + CaseStore(web.inbox.database).case_of(alert_id).case_id


def post(c: httpx.Client, url: str, **data: str) -> httpx.Response:
    page = c.get(url.rsplit("/", 1)[0])
    return c.post(url, data={"csrf_token": csrf(page.text), **data})


def test_the_whole_case_flow_over_http(web: WebServer) -> None:
    first = make_alert("team-a", minutes=5)
    web.inbox.add_many([first])
    alice = sign_in(web, "alice")
    alert_page = alice.get(f"/inbox/alerts/{first.alert_id}")
    url = case_url(web, first.alert_id)
    assert alert_page.status_code == 200 and f'href="{url}"' in alert_page.text

    page = alice.get(url)
    assert page.status_code == 200 and "Nog niet opgepakt" in page.text
    assert 'id="take-up"' in page.text and 'id="add-attempt"' not in page.text
    early = post(alice, f"{url}/attempt", kind="Telefoon", reached="nee")
    assert early.status_code == 409 and "Pak de zaak eerst op" in early.text
    # the case page as it is, with why at the top; not the general error page
    assert 'id="take-up"' in early.text and 'id="case-errors"' in early.text
    assert "foutcode" not in early.text

    assert post(alice, f"{url}/take-up").status_code == 303
    page = alice.get(url + "?done=take-up")
    assert "Opgepakt op" in page.text and 'id="add-attempt"' in page.text
    assert "Je hebt de zaak opgepakt." in page.text
    assert web.inbox.get(first.alert_id).status is InboxStatus.CLAIMED
    bad = post(alice, f"{url}/attempt", kind="Duif", reached="nee")
    assert bad.status_code == 422 and "Kies de contactsoort" in bad.text
    today = datetime.now(UTC).date()
    assert post(alice, f"{url}/attempt", kind="Telefoon", reached="nee",
                on=today.isoformat(), part_of_day="Ochtend").status_code == 303
    assert post(alice, f"{url}/attempt", kind="Huisbezoek", reached="ja",
                on=today.isoformat(), part_of_day="Middag").status_code == 303
    page = alice.get(url)
    rows = re.findall(r"<tr><td>[^<]*</td><td>(\w+)</td><td>(\w+)</td><td>(ja|nee)</td>",
                      page.text)
    assert rows == [("Ochtend", "Telefoon", "nee"), ("Middag", "Huisbezoek", "ja")]

    # a second signal of the person joins the case; the team says it repeats the first
    second = make_alert("team-a")
    web.inbox.add(second)
    assert case_url(web, second.alert_id) == url
    assert post(alice, f"{url}/signal-status", alert_id=second.alert_id,
                status=Signaalstatus.NIET_OPGEPAKT_HERHAALDE_MELDING.value).status_code == 303
    assert post(alice, f"{url}/close", result="Iets").status_code == 422
    closed = post(alice, f"{url}/close", result=Eindresultaat.VERVOLGHULP_FINANCIEEL.value)
    assert closed.status_code == 303
    page = alice.get(url)
    assert "Afgesloten: Vervolghulp en/of verwijzing financieel" in page.text
    assert 'id="close-case"' not in page.text
    again = post(alice, f"{url}/close", result=Eindresultaat.INWONER_IS_OVERLEDEN.value)
    assert again.status_code == 409 and 'role="alert"' in again.text
    assert "al afgesloten met een ander eindresultaat" in again.text
    assert "Afgesloten: Vervolghulp en/of verwijzing financieel" in again.text
    told = {str(o["alert_id"]): o["outcome"] for o in web.read(OUTCOMES)}
    assert told == {first.alert_id: "PICKED_UP", second.alert_id: "NOT_PICKED_UP"}
    for reason in ("CASE_VIEWED", "CASE_TAKEN_UP", "CASE_CONTACT_ATTEMPT", "CASE_CLOSED",
                   "SIGNAL_STATUS_SET"):
        records = audit_of(web, reason)
        assert records and all("user=alice" in r["reason_detail"] for r in records), reason
    assert len({r["reason_detail"] for r in audit_of(web, "CASE_CONTACT_ATTEMPT")}) == 2


def test_earlier_signals_of_the_person_only_of_the_own_team(web: WebServer) -> None:
    old = make_alert("team-a", minutes=60 * 24 * 30, event_type="eviction-risk")
    too_old = make_alert("team-a", minutes=60 * 24 * 200, event_type="eviction-risk")
    theirs = make_alert("team-b", minutes=60 * 24 * 10, event_type="eviction-risk")
    someone_else = make_alert("team-a", subject=SUBJECT_B, minutes=60,
                              event_type="eviction-risk")
    now = make_alert("team-a")
    web.inbox.add_many([old, too_old, theirs, someone_else, now])
    alice = sign_in(web, "alice")
    url = case_url(web, now.alert_id)
    page = alice.get(url)
    earlier = re.search(r'<table class="alerts" id="earlier">.*?</table>', page.text, re.S)
    assert earlier is not None
    ids = re.findall(r'data-id="([^"]+)"', earlier.group(0))
    assert ids == [old.alert_id]
    assert [str(r["alert_id"]) for r in audit_of(web, "PERSON_HISTORY_VIEWED")] == [old.alert_id]

    # team isolation: bob (team-b) gets 403 on team-a's case, alice on team-b's
    bob = sign_in(web, "bob")
    assert bob.get(url).status_code == 403
    assert post(alice, url + "/take-up").status_code == 303
    bob_post = bob.post(url + "/close", data={
        "csrf_token": csrf(bob.get("/inbox").text),
        "result": Eindresultaat.DEFINITIEF_GEEN_CONTACT.value})
    assert bob_post.status_code == 403
    assert bob.get(url + "/events").status_code == 403
    their_case = case_url(web, make_alert_in(web, "team-b"))
    forbidden = alice.get(their_case)
    assert forbidden.status_code == 403 and "Geen toegang" in forbidden.text
    assert alice.get("/inbox/cases/onbekend").status_code == 404
    assert CaseStore(web.inbox.database).get(url.rsplit("/", 1)[1]).is_open


def _problems(page: httpx.Response) -> list[tuple[str, str]]:
    """The error summary's links: (the field's id, the message)."""
    summary = re.search(r'<div class="error" role="alert" id="case-errors".*?</div>',
                        page.text, re.S)
    assert summary is not None, "no error summary"
    return re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary.group(0))


def _field(page: httpx.Response, field_id: str) -> str:
    """The opening tag of the field with ``field_id``."""
    found = re.search(rf'<(?:select|input)[^>]*\bid="{field_id}"[^>]*>', page.text)
    assert found is not None, field_id
    return found.group(0)


def test_bad_input_shows_the_case_page_with_the_fields_problems(web: WebServer) -> None:
    alert = make_alert("team-a")
    web.inbox.add(alert)
    alice = sign_in(web, "alice")
    url = case_url(web, alert.alert_id)
    assert post(alice, f"{url}/take-up").status_code == 303
    ahead = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()

    page = post(alice, f"{url}/attempt", kind="Duif", reached="misschien", on=ahead,
                part_of_day="Middernacht")
    assert page.status_code == 422
    assert "Vroegsignaalzaak" in page.text and "Er ging iets mis" not in page.text
    assert _problems(page) == [
        ("attempt-kind", "Kies de contactsoort."),
        ("attempt-reached-ja", "Kies of de inwoner bereikt is."),
        ("attempt-on", "Kies een datum van vandaag of eerder."),
        ("attempt-part", "Kies een dagdeel uit de lijst.")]
    for field_id in ("attempt-kind", "attempt-on", "attempt-part"):
        tag = _field(page, field_id)
        assert f'aria-describedby="{field_id}-error"' in tag and 'aria-invalid="true"' in tag
        assert f'<p class="error" id="{field_id}-error">' in page.text
    assert 'aria-describedby="attempt-reached-error"' in page.text
    assert f'value="{ahead}"' in _field(page, "attempt-on")  # kept as typed
    assert 'id="case-done"' not in page.text
    assert not CaseStore(web.inbox.database).get(url.rsplit("/", 1)[1]).contact_attempts

    # one field wrong: the others keep what was chosen
    page = post(alice, f"{url}/attempt", kind="Huisbezoek", reached="ja", on="31-12-2025",
                part_of_day="Avond")
    assert page.status_code == 422
    assert _problems(page) == [("attempt-on", "Kies een datum van vandaag of eerder.")]
    assert '<option value="Huisbezoek" selected>' in page.text
    assert '<option value="Avond" selected>' in page.text
    assert re.search(r'value="ja" id="attempt-reached-ja" required checked>', page.text)
    assert 'aria-invalid' not in _field(page, "attempt-kind")

    page = post(alice, f"{url}/signal-status", alert_id=alert.alert_id, status="Vergeten")
    assert page.status_code == 422
    assert _problems(page) == [("status-1", "Kies een signaalstatus uit de lijst.")]
    assert 'aria-describedby="status-1-error"' in _field(page, "status-1")

    page = post(alice, f"{url}/close", result="Iets")
    assert page.status_code == 422
    assert _problems(page) == [("close-result", "Kies een eindresultaat uit de lijst.")]
    tag = _field(page, "close-result")
    assert 'aria-describedby="result-help close-result-error"' in tag
    assert CaseStore(web.inbox.database).get(url.rsplit("/", 1)[1]).is_open

    # the same page in English
    alice.cookies.set(COOKIE, "en")
    page = post(alice, f"{url}/close", result="Iets")
    assert page.status_code == 422
    assert _problems(page) == [("close-result", "Choose a result from the list.")]
    assert "The step has not been saved." in page.text


def make_alert_in(web: WebServer, team: str) -> str:
    alert = make_alert(team, subject=SUBJECT_B)
    web.inbox.add(alert)
    return alert.alert_id


def test_the_live_stream_carries_changed_statuses(web: WebServer) -> None:
    alert = make_alert("team-a", minutes=1)
    web.inbox.add(alert)
    alice = sign_in(web, "alice")
    url = case_url(web, alert.alert_id)
    case_id = url.rsplit("/", 1)[1]
    events: list[dict[str, object]] = []
    done = threading.Event()

    def listen() -> None:
        with alice.stream("GET", url + "/events", timeout=15) as stream:
            kind = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "case":
                    events.append(json.loads(line[6:]))
                    if events[-1]["signals"] == {alert.alert_id: "Opgepakt"}:
                        done.set()
                        return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while not done.is_set() and datetime.now(UTC) < deadline:
        CaseStore(web.inbox.database).take_up(case_id, "ada")  # a colleague, elsewhere
        done.wait(0.5)
    assert done.is_set(), events
    assert str(events[-1]["state"]).startswith("Opgepakt op") and "ada" in str(
        events[-1]["state"])
