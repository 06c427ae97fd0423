"""`signalhub users ...` changes go through the same account admin as the web pages: each
one is a processing record naming who made it, never a password; without a bus nothing
changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.accounts import UserStore
from hub.accounts.admin import ACCOUNTS_ACTIVITY
from hub.cli import main
from hub.topics import AUDIT
from tests.inbox_case_data import Hub, open_hub

pytestmark = pytest.mark.timeout(120)
PASSWORD = "een-lang-wachtwoord"


@pytest.fixture
def hub(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_BUS", f"embedded:{tmp_path / 'hub.db'}")
    with open_hub(database_url, tmp_path) as hub:
        yield hub


def users(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, ["users", *args], input=stdin)


def account_records(hub: Hub) -> list[tuple[str, str]]:
    return [(r["reason_code"], r["reason_detail"]) for r in hub.read(AUDIT)
            if r["processing_activity_id"] == ACCOUNTS_ACTIVITY]


def test_every_change_on_the_command_line_is_a_processing_record(hub: Hub,
                                                                 database_url: str) -> None:
    steps = [
        users("add", "carla", "--team", "team-a", "--password-stdin", "--by", "ada",
              stdin=PASSWORD + "\n"),
        users("teams", "carla", "--team", "team-b", "--by", "ada"),
        users("password", "carla", "--password-stdin", "--by", "ada",
              stdin=PASSWORD + "-nieuw\n"),
        users("disable", "carla", "--by", "ada"),
        users("enable", "carla"),
    ]
    for step in steps:
        assert step.exit_code == 0, step.output
    records = account_records(hub)  # spread over the topic's partitions: order aside
    by_ada = sorted(r for r in records if r[1].startswith("user=ada "))
    assert by_ada == sorted([
        ("ACCOUNT_ADDED", "user=ada account=carla role=member teams=team-a"),
        ("ACCOUNT_TEAMS_CHANGED", "user=ada account=carla teams=team-b"),
        ("ACCOUNT_PASSWORD_RESET", "user=ada account=carla"),
        ("ACCOUNT_DISABLED", "user=ada account=carla"),
    ])
    (code, detail), = [r for r in records if not r[1].startswith("user=ada ")]
    assert code == "ACCOUNT_ENABLED" and detail.startswith("user=cli")  # --by's default
    assert all(PASSWORD not in d for _, d in records)
    store = UserStore(database_url)
    try:
        assert store.authenticate("carla", PASSWORD + "-nieuw") is not None
    finally:
        store.close()


def test_a_refused_change_is_not_recorded(hub: Hub) -> None:
    assert users("add", "bert", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    again = users("add", "bert", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.exit_code == 1 and "exists" in again.output
    short = users("add", "dirk", "--password-stdin", stdin="kort\n")
    assert short.exit_code == 1 and "8 characters" in short.output
    unknown = users("disable", "nobody")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output
    assert [c for c, _ in account_records(hub)] == ["ACCOUNT_ADDED"]


def test_without_the_bus_nothing_changes(hub: Hub, database_url: str, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    r = users("add", "eva", "--password-stdin", "--bus", f"embedded:{blocked / 'bus.db'}",
              stdin=PASSWORD + "\n")
    assert r.exit_code == 1 and "--bus" in r.output
    store = UserStore(database_url)
    try:
        assert store.get("eva") is None
    finally:
        store.close()
