"""Accounts in the web app for admins (``/beheer/accounts``), over HTTP against a real
server, on SQLite and PostgreSQL: an admin adds a member who can then sign in; disabling
signs them out at once (also on a second instance on the same database); a new password
is shown once and ends the sessions; team changes end the sessions; members and
operators get 403; a form without the CSRF token is refused; every change is a
processing record naming the admin and the account, never the password."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.accounts.admin import ACCOUNTS_ACTIVITY
from hub.settings import WebSettings
from hub.topics import AUDIT
from tests.test_web_inbox import PASSWORD, WebServer, client, csrf, sign_in, start_web

PREFIX = "/beheer/accounts"


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[tuple[WebServer, WebServer]]:
    """Two instances on one application database (each its own bus and state folder)."""
    settings = WebSettings(secure_cookies=False)
    one, stop_one = start_web(tmp_path / "one", settings, database_url)
    two, stop_two = start_web(tmp_path / "two", settings, database_url)
    try:
        yield one, two
    finally:
        stop_one()
        stop_two()


def _post(c: httpx.Client, page: str, action: str, data: dict[str, Any]) -> httpx.Response:
    """Post ``data`` to ``action`` with the CSRF token of ``page``."""
    return c.post(action, data={"csrf_token": csrf(c.get(page).text), **data})


def _try_sign_in(web: WebServer, username: str, password: str) -> httpx.Response:
    c = client(web)
    token = csrf(c.get("/login").text)
    return c.post("/login", data={"username": username, "password": password,
                                  "csrf_token": token, "next": "/inbox"})


def _account_records(web: WebServer) -> list[dict[str, Any]]:
    return [r for r in web.read(AUDIT) if r["processing_activity_id"] == ACCOUNTS_ACTIVITY]


def _changes(web: WebServer) -> list[tuple[str, str]]:
    """(reason code, detail) of every account record, sorted (the records carry no key,
    so the partitions of audit.v1 keep no order between them)."""
    return sorted((r["reason_code"], r["reason_detail"]) for r in _account_records(web))


def _add(ada: httpx.Client, **data: Any) -> httpx.Response:
    return _post(ada, f"{PREFIX}/nieuw", f"{PREFIX}/nieuw", data)


def test_an_admin_adds_a_member_who_can_then_sign_in(
    pair: tuple[WebServer, WebServer],
) -> None:
    one, two = pair
    ada = sign_in(one, "ada")
    listed = ada.get(PREFIX)
    assert listed.status_code == 200 and 'data-username="alice"' in listed.text
    added = _add(ada, username="carla", role="member", teams=["team-a", "team-b"],
                 password="")
    assert added.status_code == 200, added.text
    shown = re.search(r'id="shown-password">([^<]+)<', added.text)
    assert shown, "the made password is shown"
    password = shown.group(1)
    assert len(password) >= 16
    # shown once: the account page and the list never show it again
    assert password not in ada.get(f"{PREFIX}/carla").text
    assert password not in ada.get(PREFIX).text
    carla = sign_in(two, "carla", password)  # the other instance: same database
    assert carla.get("/api/me").json() == {"username": "carla", "role": "member",
                                           "teams": ["team-a", "team-b"]}
    typed = _add(ada, username="dirk", role="operator", password="een-lang-wachtwoord")
    assert typed.status_code == 200 and 'id="shown-password"' not in typed.text
    assert sign_in(one, "dirk", "een-lang-wachtwoord").get("/api/me").json()["role"] == (
        "operator")
    assert _changes(one) == [
        ("ACCOUNT_ADDED", "user=ada account=carla role=member teams=team-a,team-b"),
        ("ACCOUNT_ADDED", "user=ada account=dirk role=operator")]
    assert password not in one.raw(AUDIT).decode("latin-1")
    assert "een-lang-wachtwoord" not in one.raw(AUDIT).decode("latin-1")


def test_refusals_are_said_in_dutch_and_change_nothing(pair: tuple[WebServer, WebServer]
                                                       ) -> None:
    one, _ = pair
    ada = sign_in(one, "ada")
    cases = {
        "alice": ("member", "Deze gebruikersnaam bestaat al."),
        "Niet Goed": ("member", "Een gebruikersnaam heeft alleen kleine letters"),
        "erik": ("baas", "Kies een rol uit de lijst."),
    }
    for username, (role, said) in cases.items():
        r = _add(ada, username=username, role=role, password="een-lang-wachtwoord")
        assert r.status_code == 422 and said in r.text, username
    short = _add(ada, username="erik", role="member", password="kort")
    assert short.status_code == 422 and "minstens 8 tekens" in short.text
    wrong_team = _add(ada, username="erik", role="member", teams=["team-z"])
    assert wrong_team.status_code == 422 and "Kies teams uit de lijst." in wrong_team.text
    own = _post(ada, f"{PREFIX}/ada", f"{PREFIX}/ada/uitschakelen", {})
    assert own.status_code == 409 and "eigen account" in own.text
    assert one.users.get("erik") is None and not one.users.get("ada").disabled  # type: ignore[union-attr]
    assert ada.get(f"{PREFIX}/niemand").status_code == 404
    assert _account_records(one) == []


def test_disabling_signs_them_out_at_once_on_every_instance(
    pair: tuple[WebServer, WebServer],
) -> None:
    one, two = pair
    ada = sign_in(one, "ada")
    alice_one, alice_two = sign_in(one, "alice"), sign_in(two, "alice")
    assert alice_two.get("/inbox").status_code == 200
    r = _post(ada, f"{PREFIX}/alice", f"{PREFIX}/alice/uitschakelen", {})
    assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/alice?done=disabled"
    page = ada.get(r.headers["location"]).text
    assert "overal meteen uitgelogd" in page and "uitgeschakeld" in page
    for c in (alice_one, alice_two):
        gone = c.get("/inbox")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    assert _try_sign_in(two, "alice", PASSWORD).status_code == 401
    enabled = _post(ada, f"{PREFIX}/alice", f"{PREFIX}/alice/inschakelen", {})
    assert enabled.status_code == 303
    assert sign_in(two, "alice").get("/inbox").status_code == 200
    assert _changes(one) == [
        ("ACCOUNT_DISABLED", "user=ada account=alice"),
        ("ACCOUNT_ENABLED", "user=ada account=alice")]


def test_a_new_password_is_shown_once_and_ends_the_sessions(
    pair: tuple[WebServer, WebServer],
) -> None:
    one, two = pair
    ada, alice = sign_in(one, "ada"), sign_in(two, "alice")
    r = _post(ada, f"{PREFIX}/alice", f"{PREFIX}/alice/wachtwoord", {"password": ""})
    assert r.status_code == 200
    shown = re.search(r'id="shown-password">([^<]+)<', r.text)
    assert shown
    assert alice.get("/inbox").status_code == 303  # signed out on the other instance
    assert _try_sign_in(two, "alice", PASSWORD).status_code == 401
    assert sign_in(two, "alice", shown.group(1)).get("/inbox").status_code == 200
    typed = _post(ada, f"{PREFIX}/bob", f"{PREFIX}/bob/wachtwoord",
                  {"password": "nieuw-en-geheim"})
    assert typed.status_code == 200 and 'id="shown-password"' not in typed.text
    assert "nieuw-en-geheim" not in typed.text
    sign_in(one, "bob", "nieuw-en-geheim")
    assert _changes(one) == [
        ("ACCOUNT_PASSWORD_RESET", "user=ada account=alice"),
        ("ACCOUNT_PASSWORD_RESET", "user=ada account=bob")]
    audit = one.raw(AUDIT).decode("latin-1")
    assert shown.group(1) not in audit and "nieuw-en-geheim" not in audit


def test_team_membership_changes_end_the_sessions(pair: tuple[WebServer, WebServer]) -> None:
    one, two = pair
    ada, alice = sign_in(one, "ada"), sign_in(two, "alice")
    same = _post(ada, f"{PREFIX}/alice", f"{PREFIX}/alice/teams", {"teams": ["team-a"]})
    assert same.headers["location"] == f"{PREFIX}/alice?done=same"
    assert alice.get("/inbox").status_code == 200  # no change: still signed in
    r = _post(ada, f"{PREFIX}/alice", f"{PREFIX}/alice/teams",
              {"teams": ["team-a", "team-b"]})
    assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/alice?done=teams"
    assert alice.get("/inbox").status_code == 303
    again = sign_in(two, "alice")
    assert again.get("/api/me").json()["teams"] == ["team-a", "team-b"]
    none = _post(ada, f"{PREFIX}/alice", f"{PREFIX}/alice/teams", {})
    assert none.status_code == 303 and one.users.get("alice").teams == frozenset()  # type: ignore[union-attr]
    operator = _post(ada, f"{PREFIX}/olga", f"{PREFIX}/olga/teams", {"teams": ["team-a"]})
    assert operator.status_code == 409 and "geen lid van een team" in operator.text
    assert _changes(one) == [
        ("ACCOUNT_TEAMS_CHANGED", "user=ada account=alice teams=-"),
        ("ACCOUNT_TEAMS_CHANGED", "user=ada account=alice teams=team-a,team-b")]


def test_members_and_operators_get_403_and_anonymous_users_sign_in_first(
    pair: tuple[WebServer, WebServer],
) -> None:
    one, _ = pair
    pages = [PREFIX, f"{PREFIX}/nieuw", f"{PREFIX}/alice"]
    actions = [f"{PREFIX}/nieuw", f"{PREFIX}/alice/uitschakelen",
               f"{PREFIX}/alice/inschakelen", f"{PREFIX}/alice/wachtwoord",
               f"{PREFIX}/alice/teams"]
    for username in ("alice", "olga"):
        c = sign_in(one, username)
        token = csrf(c.get("/operator" if username == "olga" else "/inbox").text)
        for path in pages:
            r = c.get(path)
            assert r.status_code == 403 and "Geen toegang" in r.text, (username, path)
        for path in actions:
            r = c.post(path, data={"csrf_token": token, "username": "mallory",
                                   "role": "admin", "password": "een-lang-wachtwoord"})
            assert r.status_code == 403, (username, path)
        assert 'href="/beheer/accounts"' not in c.get("/", follow_redirects=True).text
    anonymous = client(one)
    r = anonymous.get(PREFIX)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert 'href="/beheer/accounts"' in sign_in(one, "ada").get("/inbox").text
    assert one.users.get("mallory") is None and not one.users.get("alice").disabled  # type: ignore[union-attr]
    assert _account_records(one) == []


def test_a_form_without_the_csrf_token_is_refused(pair: tuple[WebServer, WebServer]) -> None:
    one, _ = pair
    ada = sign_in(one, "ada")
    for path, data in ((f"{PREFIX}/nieuw", {"username": "mallory", "role": "admin",
                                            "password": "een-lang-wachtwoord"}),
                       (f"{PREFIX}/alice/uitschakelen", {}),
                       (f"{PREFIX}/alice/wachtwoord", {"password": "een-lang-wachtwoord"}),
                       (f"{PREFIX}/alice/teams", {"teams": ["team-b"]})):
        for token in (None, "niet-het-token"):
            sent = {**data, **({"csrf_token": token} if token else {})}
            r = ada.post(path, data=sent)
            assert r.status_code == 403 and "Het formulier is verlopen" in r.text, path
    assert one.users.get("mallory") is None
    alice = one.users.get("alice")
    assert alice is not None and not alice.disabled and alice.teams == frozenset({"team-a"})
    sign_in(one, "alice")  # the password is unchanged
    assert _account_records(one) == []
