"""The web inbox against a real uvicorn server (httpx): sign-in, sessions, CSRF, the login
rate limit, team isolation (pages and API), operators without alert contents, security
headers, live updates, the access log on audit.v1 and outcomes back to the source."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from hub.accounts import UserStore
from hub.cli import main
from hub.config import HubConfig, parse_config
from hub.connect import Connection, connect
from hub.events import AlertUrgency, TeamAlert
from hub.inbox import InboxStatus, InboxStore
from hub.router import alert_id_for
from hub.settings import Settings, WebSettings
from hub.topics import AUDIT, OUTCOMES, ensure_topics
from hub.web.app import create_web_app, serve_web, stop_web
from hub.web.auth import DEV_SESSION_COOKIE, load_or_create_secret
from hub.web.deps import WebDeps
from hub.web.texts import nl_date
from hub.workdays import dutch_date
from tests.bus_records import read_messages, read_records

SOURCE = "urn:nld:oin:00000009999999999000"
PASSWORD = "correct horse battery"
SUBJECT_A = "ps1-" + "a1" * 20
SUBJECT_B = "ps1-" + "b2" * 20


def make_alert(team: str, *, subject: str = SUBJECT_A, urgent: bool = False,
               minutes: int = 0, event_type: str = "debt-signal") -> TeamAlert:
    event_id = str(uuid.uuid4())
    return TeamAlert(
        alert_id=alert_id_for(event_id, team), event_id=event_id, event_type=event_type,
        team_id=team, municipality_code="GM9999", subject_ref=subject,
        urgency=AlertUrgency.URGENT if urgent else AlertUrgency.NORMAL,
        due_date=date.today() + timedelta(days=3) if urgent else None,
        fields={"creditor_type": "ENERGY", "arrears_band": "500-1000"},
        prior_signals_180d=1, legal_basis="GDPR 6(1)(e); Wgs art. 3",
        created_at=datetime.now(UTC) - timedelta(minutes=minutes),
        trace_id=uuid.uuid4().hex, source=SOURCE,
    )


def two_teams() -> HubConfig:
    team = {"municipality": "GM9999", "role": "debt",
            "event_types": ["debt-signal", "eviction-risk"], "deliveries": {"inbox": True}}
    return parse_config({
        "municipalities": [{"code": "GM9999", "name": "Voorbeeld", "areas": ["7511-7548"]}],
        "teams": [{"id": "team-a", "name": "Team A", "areas": ["7511-7520"], **team},
                  {"id": "team-b", "name": "Team B", "areas": ["7521-7548"], **team}],
        "policies": {},
    })


@dataclass
class WebServer:
    """A web app on a free port over an embedded bus, an inbox and users in ``tmp``."""

    url: str
    conn: Connection
    inbox: InboxStore
    users: UserStore
    deps: WebDeps
    #: the application database: a URL or a SQLite file
    database: str
    #: the bus URL of :attr:`conn` (for the commands run beside the web app)
    bus_url: str
    #: every client made by :func:`client`, closed when the server stops
    clients: list[httpx.Client] = field(default_factory=list)

    def read(self, topic: str) -> list[dict[str, Any]]:
        """Every record on ``topic``, decoded (a throw-away consumer group)."""
        return read_records(self.conn, topic)

    def raw(self, topic: str) -> bytes:
        """The values and keys of every message on ``topic``, run together."""
        return b"".join((m.value or b"") + (m.key or b"")
                        for m in read_messages(self.conn.bus, topic))


def start_web(tmp: Path, settings: WebSettings | None = None, database: str | None = None,
              clock: Callable[[], float] = time.time) -> tuple[WebServer, Any]:
    """Start a :class:`WebServer` with users alice (team-a), bob (team-b), olga (operator)
    and ada (admin, team-a); return it and a function that stops it. Over plain http,
    so cookies without ``Secure`` (httpx sends no Secure cookie over http) unless
    ``settings`` say otherwise. ``database``: the application database (default: the
    state folder's store.db, what `--state-dir` names); users there already are kept.
    ``clock``: the sessions' clock."""
    bus_url = f"embedded:{tmp / 'hub.db'}"
    conn = connect(Settings(bus=bus_url))
    target = database or str(tmp / "state" / "store.db")
    inbox, users = InboxStore(target), UserStore(target)
    if users.get("alice") is None:
        users.add("alice", PASSWORD, "member", ["team-a"])
        users.add("bob", PASSWORD, "member", ["team-b"])
        users.add("olga", PASSWORD, "operator")
        users.add("ada", PASSWORD, "admin", ["team-a"])
    deps = WebDeps(conn=conn, config=two_teams(), inbox=inbox, users=users,
                   secret_key=load_or_create_secret(tmp / "state"), state_dir=tmp / "state",
                   counts=lambda: {"forwarded:FORWARDED": 1},
                   web=settings or WebSettings(secure_cookies=False), clock=clock)
    app = create_web_app(deps)
    server, thread = serve_web(app, "127.0.0.1", 0)
    host, port = server.servers[0].sockets[0].getsockname()[:2]

    def stop() -> None:
        for c in web.clients:
            c.close()
        stop_web(app, server, thread)
        inbox.close()
        users.close()
        conn.close()

    web = WebServer(f"http://{host}:{port}", conn, inbox, users, deps, target, bus_url)
    return web, stop


@pytest.fixture
def web(tmp_path: Path, database_url: str) -> Iterator[WebServer]:
    """The web app over each store backend (SQLite, and PostgreSQL: marker postgres)."""
    server, stop = start_web(tmp_path, database=database_url)
    try:
        yield server
    finally:
        stop()


def client(web: WebServer) -> httpx.Client:
    c = httpx.Client(base_url=web.url, follow_redirects=False, timeout=10.0)
    web.clients.append(c)
    return c


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(web: WebServer, username: str, password: str = PASSWORD) -> httpx.Client:
    c = client(web)
    token = csrf(c.get("/login").text)
    r = c.post("/login", data={"username": username, "password": password,
                               "csrf_token": token, "next": "/inbox"})
    assert r.status_code == 303, r.text
    return c


def audit_of(web: WebServer, reason: str) -> list[dict[str, Any]]:
    return [r for r in web.read(AUDIT) if r["reason_code"] == reason]


# --- signing in --------------------------------------------------------------------------


def test_pages_need_a_session_and_the_api_answers_401(web: WebServer) -> None:
    c = client(web)
    r = c.get("/inbox?status=new")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/inbox%3Fstatus%3Dnew"
    assert c.get("/api/alerts").status_code == 401
    assert c.get("/").headers["location"] == "/login"


def test_sign_in_and_out_with_an_audit_record_for_each_attempt(web: WebServer) -> None:
    c = client(web)
    login = c.get("/login")
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    token = csrf(login.text)
    bad = c.post("/login", data={"username": "alice", "password": "wrong-password",
                                 "csrf_token": token})
    assert bad.status_code == 401 and "wachtwoord klopt niet" in bad.text
    good = c.post("/login", data={"username": "Alice", "password": PASSWORD,
                                  "csrf_token": token, "next": "/inbox"})
    assert good.status_code == 303 and good.headers["location"] == "/inbox"
    assert c.get("/api/me").json() == {"username": "alice", "role": "member",
                                       "teams": ["team-a"]}
    # a fresh session at sign-in: the anonymous login form's token no longer works
    assert c.post("/logout", data={"csrf_token": token}).status_code == 403
    page = c.get("/inbox")
    assert page.status_code == 200
    assert c.post("/logout", data={"csrf_token": csrf(page.text)}).status_code == 303
    assert c.get("/api/me").status_code == 401

    failed, signed_in = audit_of(web, "SIGN_IN_FAILED"), audit_of(web, "SIGNED_IN")
    assert [r["reason_detail"] for r in failed] == ["user=alice"]
    assert [r["reason_detail"] for r in signed_in] == ["user=alice"]
    assert failed[0]["status"] == "ERROR" and signed_in[0]["outcome"] == "RECORDED"
    raw = web.raw(AUDIT)
    assert b"wrong-password" not in raw and PASSWORD.encode() not in raw


def test_forms_without_the_sessions_csrf_token_are_refused(web: WebServer) -> None:
    alert = make_alert("team-a")
    web.inbox.add(alert)
    fresh = client(web)
    fresh.get("/login")
    assert fresh.post("/login", data={"username": "alice", "password": PASSWORD}
                      ).status_code == 403
    assert fresh.post("/login", data={"username": "alice", "password": PASSWORD,
                                      "csrf_token": "forged"}).status_code == 403
    c = sign_in(web, "alice")
    path = f"/inbox/alerts/{alert.alert_id}"
    for action, data in (("claim", {}), ("note", {"text": "hi"}),
                         ("close", {"outcome": "PICKED_UP"})):
        assert c.post(f"{path}/{action}", data=data).status_code == 403
        assert c.post(f"{path}/{action}", data={**data, "csrf_token": "x" * 43}
                      ).status_code == 403
    # another session's token is no good either
    other = csrf(sign_in(web, "ada").get(path).text)
    assert c.post(f"{path}/claim", data={"csrf_token": other}).status_code == 403
    item = web.inbox.get(alert.alert_id)
    assert item.status is InboxStatus.NEW and item.notes == ()


def test_login_rate_limit_per_username_and_client(web: WebServer) -> None:
    c = client(web)
    token = csrf(c.get("/login").text)
    for _ in range(5):
        r = c.post("/login", data={"username": "bob", "password": "nope-nope",
                                   "csrf_token": token})
        assert r.status_code == 401
    blocked = c.post("/login", data={"username": "bob", "password": PASSWORD,
                                     "csrf_token": token})
    assert blocked.status_code == 429 and "Te veel pogingen" in blocked.text
    assert audit_of(web, "SIGN_IN_RATE_LIMITED")
    # another username from the same client is not blocked
    sign_in(web, "alice")


def test_tampered_or_foreign_session_cookies_are_ignored(web: WebServer, tmp_path: Path
                                                         ) -> None:
    c = sign_in(web, "alice")
    value = c.cookies[DEV_SESSION_COOKIE]
    forged = client(web)
    forged.cookies.set(DEV_SESSION_COOKIE, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert forged.get("/api/me").status_code == 401
    web.users.disable("alice")
    assert c.get("/api/me").status_code == 401  # disabled: signed out at the next request
    r = client(web)
    token = csrf(r.get("/login").text)
    assert r.post("/login", data={"username": "alice", "password": PASSWORD,
                                  "csrf_token": token}).status_code == 401


# --- access to alerts --------------------------------------------------------------------


def test_a_member_sees_only_their_teams_alerts_by_page_and_by_api(web: WebServer) -> None:
    mine = make_alert("team-a", urgent=True, minutes=5)
    newer = make_alert("team-a", minutes=1)
    theirs = make_alert("team-b", subject=SUBJECT_B)
    web.inbox.add_many([mine, newer, theirs])
    alice = sign_in(web, "alice")

    listed = alice.get("/api/alerts").json()["alerts"]
    assert [a["alert_id"] for a in listed] == [mine.alert_id, newer.alert_id]  # urgent first
    assert listed[0]["due_date"] == mine.due_date.isoformat()  # type: ignore[union-attr]
    page = alice.get("/inbox")
    assert mine.alert_id in page.text and theirs.alert_id not in page.text
    assert nl_date(mine.due_date) in page.text

    for path in (f"/inbox/alerts/{theirs.alert_id}", f"/api/alerts/{theirs.alert_id}"):
        r = alice.get(path)
        assert r.status_code == 403, path
        assert SUBJECT_B not in r.text and "Energie" not in r.text
    assert "Geen toegang" in alice.get(f"/inbox/alerts/{theirs.alert_id}").text
    assert alice.get("/api/alerts?team=team-b").status_code == 403
    assert alice.get("/inbox?team=team-b").status_code == 403
    path = f"/inbox/alerts/{theirs.alert_id}/claim"
    token = csrf(page.text)
    assert alice.post(path, data={"csrf_token": token}).status_code == 403
    assert web.inbox.get(theirs.alert_id).status is InboxStatus.NEW
    assert alice.get(f"/api/alerts/{uuid.uuid4()}").status_code == 404

    bob = sign_in(web, "bob")
    assert [a["alert_id"] for a in bob.get("/api/alerts").json()["alerts"]] == [
        theirs.alert_id]
    assert bob.get(f"/api/alerts/{mine.alert_id}").status_code == 403


def _utc_instant(text: str) -> datetime:
    """An RFC 3339 text in UTC, read (anything else fails the test)."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)", text), text
    return datetime.fromisoformat(text)


def test_the_api_gives_times_as_utc_rfc3339_and_created_also_as_dutch_text(
        web: WebServer) -> None:
    # 10:05 in Amsterdam summer time is 08:05 UTC
    amsterdam = datetime(2026, 7, 1, 10, 5, tzinfo=timezone(timedelta(hours=2)))
    alert = make_alert("team-a").model_copy(update={"created_at": amsterdam})
    web.inbox.add_many([alert])
    alice = sign_in(web, "alice")

    (listed,) = alice.get("/api/alerts").json()["alerts"]
    assert listed["created_at"].startswith("2026-07-01T08:05:00")
    assert _utc_instant(listed["created_at"]) == amsterdam
    assert listed["created"] == "1 juli 2026, 10:05"

    path = f"/inbox/alerts/{alert.alert_id}"
    token = csrf(alice.get(path).text)
    alice.post(f"{path}/close", data={"csrf_token": token, "outcome": "CLOSED",
                                      "note": "Klaar"})
    detail = alice.get(f"/api/alerts/{alert.alert_id}").json()
    assert _utc_instant(detail["created_at"]) == amsterdam
    closed_at = _utc_instant(detail["closed_at"])
    (note,) = detail["notes"]
    assert abs(closed_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert abs(_utc_instant(note["at"]) - closed_at) < timedelta(minutes=1)


def test_filters(web: WebServer) -> None:
    urgent = make_alert("team-a", urgent=True)
    normal = make_alert("team-a", event_type="eviction-risk")
    web.inbox.add_many([urgent, normal])
    alice = sign_in(web, "alice")

    def ids(query: str) -> list[str]:
        return [a["alert_id"] for a in alice.get(f"/api/alerts?{query}").json()["alerts"]]

    assert ids("urgency=URGENT") == [urgent.alert_id]
    assert ids("event_type=eviction-risk") == [normal.alert_id]
    assert ids("status=closed") == []
    tomorrow = dutch_date(datetime.now(UTC)) + timedelta(days=1)  # a since date is Dutch
    assert ids(f"since={tomorrow.isoformat()}") == []
    assert len(ids("since=2020-01-01&status=new")) == 2


def test_operators_see_no_alert_contents(web: WebServer) -> None:
    alert = make_alert("team-a")
    web.inbox.add(alert)
    olga = sign_in(web, "olga")
    for path in ("/inbox", f"/inbox/alerts/{alert.alert_id}", "/api/alerts",
                 f"/api/alerts/{alert.alert_id}", "/inbox/events"):
        r = olga.get(path)
        assert r.status_code == 403, path
        assert alert.alert_id not in r.text and SUBJECT_A not in r.text
    assert olga.get("/api/me").json()["role"] == "operator"
    assert not audit_of(web, "ALERT_VIEWED")


def test_detail_views_are_logged_with_team_alert_and_pseudonym(web: WebServer) -> None:
    alert = make_alert("team-a")
    web.inbox.add(alert)
    alice = sign_in(web, "alice")
    page = alice.get(f"/inbox/alerts/{alert.alert_id}")
    assert page.status_code == 200
    assert "Energie" in page.text and SUBJECT_A in page.text
    # a debt alert in a case is closed with its case's result: no form of its own
    assert "Naar de zaak" in page.text and "In behandeling nemen" not in page.text
    assert 'action="/inbox/alerts/' + alert.alert_id + '/close"' not in page.text
    detail = alice.get(f"/api/alerts/{alert.alert_id}").json()
    assert detail["fields"] == alert.fields and detail["subject_ref"] == SUBJECT_A
    alice.get("/api/alerts")  # a list is no detail view
    viewed = audit_of(web, "ALERT_VIEWED")
    assert len(viewed) == 2
    for rec in viewed:
        assert str(rec["alert_id"]) == alert.alert_id and rec["team_id"] == "team-a"
        assert rec["data_subject_id"] == SUBJECT_A
        assert rec["data_subject_id_type"] == "signalhub-pseudonym"
        assert rec["reason_detail"] == "user=alice" and rec["trace_id"] == alert.trace_id
        assert rec["processing_activity_id"].endswith("team-inbox-access")


def test_claim_note_and_close_publish_only_the_outcome(web: WebServer) -> None:
    alert, other = make_alert("team-a"), make_alert("team-a")
    web.inbox.add_many([alert, other])
    alice = sign_in(web, "alice")
    path = f"/inbox/alerts/{alert.alert_id}"
    token = csrf(alice.get(path).text)
    r = alice.post(f"{path}/claim", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"{path}?done=claimed"
    r = alice.post(f"{path}/note", data={"csrf_token": token, "text": "Called, no answer"})
    assert r.status_code == 303
    assert alice.post(f"{path}/close", data={"csrf_token": token, "outcome": "bogus"}
                      ).status_code == 400
    r = alice.post(f"{path}/close", data={"csrf_token": token, "outcome": "PICKED_UP",
                                          "note": "Appointment made"})
    assert r.headers["location"] == f"{path}?done=published"
    page = alice.get(r.headers["location"]).text
    assert "De melder heeft de uitkomst gekregen" in page and "Appointment made" in page
    item = web.inbox.get(alert.alert_id)
    assert item.status is InboxStatus.CLOSED and item.claimed_by == "alice"
    assert [n.text for n in item.notes] == ["Called, no answer", "Appointment made"]
    # closing again with another outcome: 409
    assert alice.post(f"{path}/close", data={"csrf_token": token, "outcome": "CLOSED"}
                      ).status_code == 409
    # a close without a verdict for the source publishes nothing
    opath = f"/inbox/alerts/{other.alert_id}/close"
    r = alice.post(opath, data={"csrf_token": token, "outcome": "CLOSED"})
    assert r.headers["location"].endswith("done=closed")

    outcomes = web.read(OUTCOMES)
    assert [(str(o["alert_id"]), o["outcome"], o["source"]) for o in outcomes] == [
        (alert.alert_id, "PICKED_UP", SOURCE)]
    assert b"Appointment" not in web.raw(OUTCOMES)
    reasons = [r["reason_code"] for r in web.read(AUDIT)]
    assert {"ALERT_CLAIMED", "ALERT_NOTE_ADDED", "ALERT_CLOSED_PICKED_UP",
            "ALERT_CLOSED_CLOSED"} <= set(reasons)
    assert b"Called, no answer" not in web.raw(AUDIT)


def test_security_headers_on_every_response(web: WebServer) -> None:
    alice = sign_in(web, "alice")
    for r in (client(web).get("/login"), client(web).get("/static/app.css"),
              client(web).get("/api/alerts"), alice.get("/inbox"), alice.get("/nope")):
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    assert alice.get("/inbox").headers["cache-control"] == "no-store"
    assert "<script>" not in alice.get("/inbox").text  # no inline script


def test_live_updates_stream_new_alerts(web: WebServer) -> None:
    old = make_alert("team-a")
    web.inbox.add(old)
    alice = sign_in(web, "alice")
    after = re.search(r'data-after="(\d+)"', alice.get("/inbox").text)
    assert after
    time.sleep(0.01)
    fresh, foreign = make_alert("team-a", urgent=True), make_alert("team-b")
    events: list[str] = []

    def add_later() -> None:
        time.sleep(0.5)
        web.inbox.add_many([fresh, foreign])

    threading.Thread(target=add_later, daemon=True).start()
    with alice.stream("GET", f"/inbox/events?after={after.group(1)}") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + 10
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(line)
                break
            assert time.monotonic() < deadline
    assert len(events) == 1 and fresh.alert_id in events[0]
    assert old.alert_id not in events[0] and foreign.alert_id not in events[0]


# --- accounts ----------------------------------------------------------------------------


def test_users_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bus = f"embedded:{tmp_path / 'hub.db'}"  # account changes are recorded on audit.v1
    monkeypatch.setenv("HUB_BUS", bus)
    runner = CliRunner()
    refused = runner.invoke(main, ["users", "add", "carol", "--password-stdin", "--state-dir",
                                   str(tmp_path / "state")], input=PASSWORD + "\n")
    assert refused.exit_code == 1 and "no audit.v1 topic yet" in refused.output
    with connect(Settings(bus=bus)) as conn:
        ensure_topics(conn.bus)
    state = str(tmp_path / "state")
    r = runner.invoke(main, ["users", "add", "carol", "--team", "team-a", "--team", "team-b",
                             "--password-stdin", "--state-dir", state], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert "carol (member; teams team-a, team-b)" in r.output
    r = runner.invoke(main, ["users", "add", "oscar", "--role", "operator", "--state-dir",
                             state], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["users", "add", "carol", "--password-stdin", "--state-dir", state],
                      input=PASSWORD + "\n")
    assert r.exit_code != 0 and "exists" in r.output
    r = runner.invoke(main, ["users", "add", "dave", "--password-stdin", "--state-dir", state],
                      input="short\n")
    assert r.exit_code != 0 and "8 characters" in r.output
    assert runner.invoke(main, ["users", "disable", "carol", "--state-dir", state]
                         ).exit_code == 0
    listed = runner.invoke(main, ["users", "list", "--state-dir", state]).output
    assert "carol\tmember\tteam-a,team-b\tdisabled" in listed
    assert "oscar\toperator\t-\tactive" in listed
    store = UserStore(tmp_path / "state" / "store.db")  # the CLI's database (--state-dir)
    try:
        assert store.authenticate("carol", PASSWORD) is None  # disabled
        user = store.authenticate("oscar", PASSWORD)
        assert user is not None and user.role == "operator" and user.teams == frozenset()
        assert store.authenticate("oscar", "wrong-password") is None
        assert store.authenticate("nobody", PASSWORD) is None
        assert store.set_teams("carol", ["team-c"]).teams == frozenset({"team-c"})
        assert PASSWORD.encode() not in (tmp_path / "state" / "store.db").read_bytes()
    finally:
        store.close()


def test_the_secret_key_is_made_once(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    assert first == load_or_create_secret(tmp_path) and len(first) >= 32
    assert (tmp_path / "web-secret.key").stat().st_mode & 0o077 == 0


def test_the_main_job_serves_the_web_app_and_stops_with_a_stream_open(tmp_path: Path) -> None:
    from hub.app import HubProcess
    from hub.config import load_config

    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}", state_dir=tmp_path / "state",
                        web=WebSettings(secure_cookies=False))  # httpx over plain http
    config = load_config(Path(__file__).parent.parent / "examples" / "hub.yaml")
    process = HubProcess(settings, config, port=0, web_port=0)
    process.start()
    try:
        assert process.users is not None and process.web_url is not None
        process.users.add("demo", PASSWORD, "member", ["schuldhulp-centrum"])
        assert (tmp_path / "state" / "web-secret.key").is_file()
        with httpx.Client(base_url=process.web_url, timeout=10.0) as c:
            token = csrf(c.get("/login").text)
            r = c.post("/login", data={"username": "demo", "password": PASSWORD,
                                       "csrf_token": token})
            assert r.status_code == 303
            assert c.get("/inbox").status_code == 200
            with c.stream("GET", "/inbox/events") as stream:
                assert stream.status_code == 200
                started = time.monotonic()
                process.stop()
                assert time.monotonic() - started < 15
    finally:
        process.stop()
