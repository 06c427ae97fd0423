"""Due dates skip Dutch public holidays, not only weekends, and the overdue view counts
working days: the calendar (hub.workdays), the policy's due date of an urgent alert,
`signalhub inbox list` and the web inbox's "te laat" marker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.config import Team, load_config
from hub.consent import ConsentCheck
from hub.consent.model import ConsentStatus
from hub.events import TeamAlert
from hub.inbox import CloseOutcome, InboxStore
from hub.policy import decide
from hub.router import alert_id_for
from hub.validation import validated_signal
from hub.workdays import (
    add_working_days,
    dutch_date,
    holiday_name,
    is_working_day,
    working_days_overdue,
)
from tests.router_cases import CASES
from tests.test_web_inbox import WebServer, make_alert, sign_in, start_web

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


# -- the calendar ---------------------------------------------------------------------------


def test_a_due_date_across_koningsdag_2027_skips_it() -> None:
    assert date(2027, 4, 27).weekday() == 1 and holiday_name(date(2027, 4, 27)) == "Koningsdag"
    assert add_working_days(date(2027, 4, 26), 1) == date(2027, 4, 28)
    # Friday + 3: Monday 26, (Koningsdag), Wednesday 28, Thursday 29
    assert add_working_days(date(2027, 4, 23), 3) == date(2027, 4, 29)


def test_koningsdag_is_the_26th_when_the_27th_is_a_sunday() -> None:
    assert date(2031, 4, 27).weekday() == 6
    assert holiday_name(date(2031, 4, 26)) == "Koningsdag"
    assert holiday_name(date(2031, 4, 27)) is None


def test_a_due_date_across_christmas_2026_skips_it() -> None:
    # Wednesday 23 December + 3: Thursday 24, (Friday 25: Eerste kerstdag), the weekend
    # (Saturday 26: Tweede kerstdag), Monday 28, Tuesday 29
    assert holiday_name(date(2026, 12, 25)) == "Eerste kerstdag"
    assert add_working_days(date(2026, 12, 23), 3) == date(2026, 12, 29)
    # across the new year: Thursday 31 December + 1 skips Nieuwjaarsdag (a Friday)
    assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_a_due_date_across_easter_skips_goede_vrijdag_and_tweede_paasdag() -> None:
    assert (holiday_name(date(2027, 3, 26)), holiday_name(date(2027, 3, 29))) == (
        "Goede vrijdag", "Tweede paasdag")
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)
    assert add_working_days(date(2026, 4, 2), 2) == date(2026, 4, 8)  # 3 and 6 April 2026


def test_bevrijdingsdag_counts_every_year_and_the_other_holidays_are_there() -> None:
    assert not is_working_day(date(2026, 5, 5)) and not is_working_day(date(2025, 5, 5))
    assert add_working_days(date(2026, 5, 4), 1) == date(2026, 5, 6)
    names = {holiday_name(d) for d in (date(2026, 1, 1), date(2026, 5, 14), date(2026, 5, 25))}
    assert names == {"Nieuwjaarsdag", "Hemelvaartsdag", "Tweede pinksterdag"}
    # an ordinary Friday and a bridge day after Hemelvaart stay working days
    assert is_working_day(date(2026, 5, 15)) and is_working_day(date(2026, 12, 4))
    assert not is_working_day(date(2026, 12, 5))  # a Saturday


def test_working_days_overdue_counts_only_working_days() -> None:
    due = date(2026, 12, 24)  # Thursday, before Christmas
    assert working_days_overdue(due, due) == 0
    assert working_days_overdue(due, date(2026, 12, 23)) == 0
    assert working_days_overdue(due, date(2026, 12, 27)) == 0  # Christmas and Sunday only
    assert working_days_overdue(due, date(2026, 12, 28)) == 1
    assert working_days_overdue(due, date(2027, 1, 4)) == 5  # 28-31 Dec, not 1 Jan, 4 Jan
    assert working_days_overdue(None, date(2027, 1, 4)) == 0
    with pytest.raises(ValueError):
        add_working_days(due, -1)


def test_today_is_the_date_in_the_netherlands() -> None:
    assert dutch_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2027, 1, 1)
    assert dutch_date(datetime(2026, 12, 31, 22, 30, tzinfo=UTC).timestamp()) == date(
        2026, 12, 31)


# -- the policy's due date ------------------------------------------------------------------


def test_an_urgent_alerts_due_date_skips_koningsdag_and_christmas() -> None:
    config = load_config(EXAMPLE)
    case = next(c for c in CASES if c.name == "debt-crisis")
    data = validated_signal(case.event_type, case.record())
    [team] = [t for t in config.teams if t.id in case.urgent]
    policy = config.policies[case.event_type]  # type: ignore[index]

    def consent(purpose: str, team: Team) -> ConsentCheck:
        return ConsentCheck(ConsentStatus.VALID, "c-1", "ok")

    def due_from(today: date) -> date | None:
        return decide(policy, case.event_type, data, team, consent, today).due_date

    days = policy.default.due_working_days
    assert days == 3  # (the example's response time; the dates below assume it)
    assert due_from(date(2027, 4, 23)) == date(2027, 4, 29)
    assert due_from(date(2026, 12, 23)) == date(2026, 12, 29)
    decision = decide(policy, case.event_type, data, team, consent, date(2027, 4, 23))
    assert any("(2027-04-29)" in line for line in decision.trace)


# -- the overdue view: the CLI --------------------------------------------------------------


def alert_due(team: str, due: date | None) -> TeamAlert:
    return replace_due(make_alert(team, urgent=True), due)


def replace_due(alert: TeamAlert, due: date | None) -> TeamAlert:
    event_id = str(uuid.uuid4())
    return alert.model_copy(update={"due_date": due, "event_id": event_id,
                                    "alert_id": alert_id_for(event_id, alert.team_id)})


def test_the_cli_list_counts_working_days_overdue(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = InboxStore(state / "store.db")
    late, on_time, closed = (alert_due("team-a", date(2026, 12, 24)),
                             alert_due("team-a", date(2026, 12, 29)),
                             alert_due("team-a", date(2026, 12, 21)))
    store.add_many([late, on_time, closed])
    store.close_alert(closed.alert_id, CloseOutcome.PICKED_UP, by="alice")
    store.close()

    def run(*args: str) -> list[str]:
        result = CliRunner().invoke(main, ["inbox", "list", "--team", "team-a",
                                           "--state-dir", str(state), *args])
        assert result.exit_code == 0, result.output
        return result.output.splitlines()

    rows = {line.split("\t")[0]: line.split("\t") for line in run("--on", "2026-12-29")[:-1]}
    assert rows[late.alert_id][-1] == "2 working day(s) overdue"  # 28 and 29 December
    assert rows[on_time.alert_id][-1] == "-" and rows[closed.alert_id][-1] == "-"
    after_christmas = {line.split("\t")[0]: line.split("\t")[-1]
                       for line in run("--on", "2026-12-27")[:-1]}
    assert after_christmas[late.alert_id] == "-"  # only Christmas and a Sunday since
    listed = [json.loads(x) for x in run("--on", "2027-01-04", "--json")]
    counts = {x["alert"]["alert_id"]: x["overdue_working_days"] for x in listed}
    assert counts == {late.alert_id: 5, on_time.alert_id: 3, closed.alert_id: 0}
    help_text = " ".join(CliRunner().invoke(main, ["inbox", "list", "--help"]).output.split())
    assert "--on" in help_text and "public holidays" in help_text


# -- the overdue view: the web inbox --------------------------------------------------------


def at(day: date, hour: int = 10) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=AMSTERDAM).timestamp()


@pytest.fixture
def web_on_29_december(tmp_path: Path) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path, clock=lambda: at(date(2026, 12, 29)))
    try:
        yield server
    finally:
        stop()


def test_the_web_inbox_marks_late_alerts_with_working_days(
    web_on_29_december: WebServer,
) -> None:
    web = web_on_29_december
    late, on_time, one_day = (alert_due("team-a", date(2026, 12, 24)),
                              alert_due("team-a", date(2026, 12, 29)),
                              alert_due("team-a", date(2026, 12, 28)))
    closed = alert_due("team-a", date(2026, 12, 21))
    web.inbox.add_many([late, on_time, one_day, closed])
    web.inbox.close_alert(closed.alert_id, CloseOutcome.PICKED_UP, by="alice")
    alice = sign_in(web, "alice")
    page = alice.get("/inbox").text
    row = {i: _row_of(page, i) for i in (late.alert_id, on_time.alert_id, one_day.alert_id,
                                          closed.alert_id)}
    assert "te laat: 2 werkdagen" in row[late.alert_id]
    assert "te laat: 1 werkdag<" in row[one_day.alert_id]
    assert "te laat" not in row[on_time.alert_id] and "te laat" not in row[closed.alert_id]
    detail = alice.get(f"/inbox/alerts/{late.alert_id}").text
    assert "te laat: 2 werkdagen" in detail
    api = {a["alert_id"]: a["overdue_working_days"]
           for a in alice.get("/api/alerts").json()["alerts"]}
    assert api == {late.alert_id: 2, on_time.alert_id: 0, one_day.alert_id: 1,
                   closed.alert_id: 0}
    assert alice.get(f"/api/alerts/{late.alert_id}").json()["overdue_working_days"] == 2


def _row_of(page: str, alert_id: str) -> str:
    start = page.index(f'<tr data-id="{alert_id}"')
    return page[start:page.index("</tr>", start)]
