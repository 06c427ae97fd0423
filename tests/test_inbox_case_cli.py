"""`signalhub inbox case ...` through CliRunner: list, show, take up, two contact attempts,
close with a result; the source gets PICKED_UP and each step is a processing record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.topics import AUDIT, OUTCOMES
from tests.inbox_case_data import Hub, make_alert, open_hub, subject

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def hub(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_BUS", f"embedded:{tmp_path / 'hub.db'}")
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path / "state"))
    with open_hub(database_url, tmp_path) as hub:
        yield hub


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["inbox", "case", *args])


def test_the_case_flow_on_the_command_line(hub: Hub) -> None:
    person = subject()
    first, second = make_alert(person), make_alert(person)
    hub.inbox.add_many([first, second])
    listed = cli("list", "--team", "team-a", "--open")
    assert listed.exit_code == 0, listed.output
    assert "2 signal(s)" in listed.output and "1 case(s)" in listed.output
    case_id = listed.output.split("\t", 1)[0]

    shown = cli("show", "--alert", first.alert_id, "--by", "alice", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["case_id"] == case_id and data["result"] is None
    assert {s["status"] for s in data["signals"]} == {"Nog niet opgepakt"}

    early = cli("attempt", case_id, "--by", "alice", "--kind", "Telefoon", "--reached", "no")
    assert early.exit_code == 1 and "take it up first" in early.output
    other_team = cli("take-up", case_id, "--by", "bob", "--team", "team-b")
    assert other_team.exit_code == 1 and f"no case {case_id} for team-b" in other_team.output

    taken = cli("take-up", case_id, "--by", "alice", "--on", "2025-04-07")
    assert taken.exit_code == 0, taken.output
    assert "taken up" in taken.output and "2025-04-07" in taken.output
    for kind, reached, day, part in (("Telefoon", "no", "2025-04-07", "ochtend"),
                                     ("Huisbezoek", "yes", "2025-04-09", "Avond")):
        done = cli("attempt", case_id, "--by", "alice", "--kind", kind, "--reached", reached,
                   "--on", day, "--part-of-day", part)
        assert done.exit_code == 0, done.output
    bad = cli("close", case_id, "--by", "alice", "--result", "Geholpen")
    assert bad.exit_code == 2 and "Vervolghulp en/of verwijzing financieel" in bad.output
    closed = cli("close", case_id, "--by", "alice", "--result",
                 "Vervolghulp en/of verwijzing financieel")
    assert closed.exit_code == 0, closed.output
    assert closed.output.count("published PICKED_UP to outcomes.v1") == 2

    text = cli("show", case_id, "--by", "alice")
    assert text.exit_code == 0, text.output
    assert "closed as Vervolghulp en/of verwijzing financieel" in text.output
    assert "2025-04-07\tOchtend\tTelefoon\treached no\tby alice" in text.output
    assert "2025-04-09\tAvond\tHuisbezoek\treached yes\tby alice" in text.output
    assert "taken up 2025-04-07 by alice" in text.output

    outcomes = [o for o in hub.read(OUTCOMES) if o["alert_id"] == first.alert_id]
    assert [o["outcome"] for o in outcomes] == ["PICKED_UP"]
    reasons = [r["reason_code"] for r in hub.read(AUDIT) if r["alert_id"] == first.alert_id]
    assert reasons == ["CASE_VIEWED", "CASE_TAKEN_UP", "CASE_CONTACT_ATTEMPT",
                       "CASE_CONTACT_ATTEMPT", "CASE_CLOSED", "CASE_VIEWED"]


def test_a_signal_status_of_its_own(hub: Hub) -> None:
    person = subject()
    first, repeat = make_alert(person), make_alert(person)
    hub.inbox.add_many([first, repeat])
    case_id = hub.cases.case_of(first.alert_id).case_id
    done = cli("signal-status", case_id, repeat.alert_id, "--by", "bob", "--status",
               "Niet opgepakt: herhaalde melding")
    assert done.exit_code == 0, done.output
    closed = cli("close", case_id, "--by", "bob", "--result",
                 "Niet opgepakt: herhaalde melding")
    assert closed.exit_code == 0, closed.output
    assert closed.output.count("published NOT_PICKED_UP") == 2


def test_help_names_the_steps() -> None:
    result = CliRunner().invoke(main, ["inbox", "case", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "take-up", "attempt", "signal-status", "close"):
        assert command in result.output
    help_attempt = CliRunner().invoke(main, ["inbox", "case", "attempt", "--help"])
    assert "SMS/Whatsapp" in help_attempt.output and "Ochtend" in help_attempt.output
