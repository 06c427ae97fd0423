"""Two web instances on one application database (each with its own state folder and
bus), on SQLite and on a real PostgreSQL: an alert claimed on one shows claimed on the
other's live stream; a user disabled on one is signed out on both; sign-in limits count
the attempts of both."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.settings import WebSettings
from tests.test_web_inbox import (
    PASSWORD,
    WebServer,
    csrf,
    make_alert,
    sign_in,
    start_web,
)


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[tuple[WebServer, WebServer]]:
    settings = WebSettings(secure_cookies=False, login_failures_per_account_and_address=3)
    one, stop_one = start_web(tmp_path / "one", settings, database_url)
    two, stop_two = start_web(tmp_path / "two", settings, database_url)
    yield one, two
    stop_one()
    stop_two()


def _events(client: httpx.Client, after: str, found: list[dict[str, Any]],
            want: int, ended: list[str]) -> None:
    """Read the live stream into ``found`` until ``want`` alert events (or its end)."""
    with client.stream("GET", f"/inbox/events?after={after}",
                       timeout=httpx.Timeout(15.0)) as stream:
        event = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "signed-out":
                    ended.append(event)
                    return
            elif line.startswith("data: ") and event == "alert":
                found.append(json.loads(line[6:]))
                if len(found) >= want:
                    return


def test_a_claim_on_one_instance_shows_live_on_the_other(
    pair: tuple[WebServer, WebServer],
) -> None:
    one, two = pair
    alert = make_alert("team-a")
    one.inbox.add(alert)  # the sinks of instance one
    alice_one, alice_two = sign_in(one, "alice"), sign_in(two, "alice")
    page = alice_two.get("/inbox").text
    assert alert.alert_id in page  # stored by one, listed by two
    after = page.split('data-after="', 1)[1].split('"', 1)[0]
    found: list[dict[str, Any]] = []
    ended: list[str] = []
    reader = threading.Thread(target=_events, args=(alice_two, after, found, 1, ended))
    reader.start()
    time.sleep(0.5)
    token = csrf(alice_one.get(f"/inbox/alerts/{alert.alert_id}").text)
    claimed = alice_one.post(f"/inbox/alerts/{alert.alert_id}/claim",
                             data={"csrf_token": token})
    assert claimed.status_code == 303
    started = time.monotonic()
    reader.join(15)
    assert [(e["alert_id"], e["status"], e["claimed_by"]) for e in found] == [
        (alert.alert_id, "claimed", "alice")]
    assert time.monotonic() - started < 5  # live: the stream polls once a second
    assert alice_two.get(f"/api/alerts/{alert.alert_id}").json()["status"] == "claimed"


def test_a_user_disabled_on_one_instance_is_signed_out_on_both(
    pair: tuple[WebServer, WebServer],
) -> None:
    one, two = pair
    alice_one, alice_two = sign_in(one, "alice"), sign_in(two, "alice")
    found: list[dict[str, Any]] = []
    ended: list[str] = []
    reader = threading.Thread(target=_events, args=(alice_two, "0", found, 99, ended))
    reader.start()
    time.sleep(0.5)
    one.users.disable("alice")  # e.g. `signalhub users disable` against one instance
    assert alice_one.get("/api/me").status_code == 401
    assert alice_two.get("/api/me").status_code == 401
    reader.join(10)
    assert ended == ["signed-out"]  # the open stream on the other instance ended too


def test_sign_in_limits_count_the_attempts_on_both_instances(
    pair: tuple[WebServer, WebServer],
) -> None:
    one, two = pair

    def attempt(web: WebServer, password: str) -> int:
        c = httpx.Client(base_url=web.url, timeout=10.0)
        web.clients.append(c)
        token = csrf(c.get("/login").text)
        return c.post("/login", data={"username": "bob", "password": password,
                                      "csrf_token": token}).status_code

    assert [attempt(w, "wrong-password") for w in (one, two, one)] == [401, 401, 401]
    assert attempt(two, PASSWORD) == 429  # the fourth, the limit is 3 per user and address
    assert attempt(one, PASSWORD) == 429
