"""After signing in each role lands on its home page, or on the page it asked for when its
role may see that page (never on a 403 page): over a real uvicorn server (httpx)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.web.accounts import ROLES, User, home_page, may_see
from tests.test_web_inbox import PASSWORD, WebServer, client, csrf, start_web


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path_factory.mktemp("web"))
    server.users.add("root", PASSWORD, "admin")  # an admin of no team
    try:
        yield server
    finally:
        stop()


def landing(web: WebServer, username: str, next_page: str | None) -> tuple[str, int]:
    """Where signing in as ``username`` (asking for ``next_page``) leads, and the status
    of that page."""
    c = client(web)
    form = {"username": username, "password": PASSWORD, "csrf_token": csrf(c.get("/login").text)}
    if next_page is not None:
        form["next"] = next_page
    r = c.post("/login", data=form)
    assert r.status_code == 303, r.text
    target = r.headers["location"]
    return target, c.get(target).status_code


@pytest.mark.parametrize(("username", "home"), [
    ("alice", "/inbox"), ("olga", "/operator"), ("ada", "/inbox"), ("root", "/operator")])
@pytest.mark.parametrize("next_page", [None, "/", "/login", "//elsewhere.example/inbox"])
def test_without_a_page_of_its_own_each_role_lands_on_its_home_page(
        web: WebServer, username: str, home: str, next_page: str | None) -> None:
    assert landing(web, username, next_page) == (home, 200)


@pytest.mark.parametrize(("username", "next_page", "expected"), [
    ("olga", "/inbox", "/operator"),  # the link the demo used to print for everyone
    ("olga", "/inbox/alerts/x", "/operator"),
    ("alice", "/operator", "/inbox"),
    ("alice", "/operator/deadletters", "/inbox"),
    ("alice", "/inbox?status=new", "/inbox?status=new"),
    ("olga", "/operator/deadletters", "/operator/deadletters"),
    ("ada", "/operator/deadletters", "/operator/deadletters"),
    ("root", "/inbox", "/inbox"),  # an admin may open the inbox (of no team: empty)
])
def test_a_page_the_role_may_see_wins_any_other_leads_home(
        web: WebServer, username: str, next_page: str, expected: str) -> None:
    assert landing(web, username, next_page) == (expected, 200)


def test_the_sign_in_page_sends_a_signed_in_user_home(web: WebServer) -> None:
    c = client(web)
    token = csrf(c.get("/login").text)
    assert c.post("/login", data={"username": "olga", "password": PASSWORD,
                                  "csrf_token": token}).status_code == 303
    assert c.get("/login?next=/inbox").headers["location"] == "/operator"
    assert c.get("/login?next=/operator/deadletters").headers["location"] == (
        "/operator/deadletters")
    assert c.get("/").headers["location"] == "/operator"


def test_every_role_has_a_home_page_it_may_see() -> None:
    for role in ROLES:
        for teams in (frozenset(), frozenset({"team-a"})):
            if role == "operator" and teams:
                continue  # operators are no team members
            user = User("someone", role, teams)
            assert may_see(user, home_page(user)), (role, teams)
