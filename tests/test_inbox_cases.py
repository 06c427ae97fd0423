"""The national workflow for debt signals on both store backends: cases group a person's
signals, contact attempts, take-up and close, the signal statuses, the coarse outcome
told to the source and the processing record of every step (on a real embedded bus)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest

from hub.ddas import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.errors import CaseNotFound, InboxError
from hub.events import PickUpOutcome
from hub.inbox import InboxStatus, InboxStore, InboxWorkflow
from hub.inbox.cases import PICK_UP_BY_RESULT
from hub.inbox.workflow import OutcomePublisher
from hub.topics import AUDIT, OUTCOMES
from tests.inbox_case_data import NOW, Hub, make_alert, open_hub, subject

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    """An inbox on each store backend, over a real embedded bus (the cases do not
    depend on the bus kind)."""
    with open_hub(database_url, tmp_path) as hub:
        yield hub


def test_signals_of_one_person_share_an_open_case(hub: Hub) -> None:
    person, other = subject(), subject()
    first, second, theirs = make_alert(person), make_alert(person), make_alert(other)
    hub.inbox.add_many([theirs, first])
    hub.inbox.add(second)
    case = hub.cases.case_of(first.alert_id)
    assert [s.alert.alert_id for s in case.signals] == [first.alert_id, second.alert_id]
    assert {s.status for s in case.signals} == {Signaalstatus.NOG_NIET_OPGEPAKT}
    assert case.subject_ref == person and case.is_open and case.team_id == "team-a"
    assert hub.cases.case_of(theirs.alert_id).case_id != case.case_id
    # the same person at another team: that team's own case
    elsewhere = make_alert(person, team="team-b")
    hub.inbox.add(elsewhere)
    assert hub.cases.case_of(elsewhere.alert_id).case_id != case.case_id
    with pytest.raises(CaseNotFound):
        hub.cases.get(case.case_id, team_id="team-b")
    # re-reading the topic changes nothing
    hub.inbox.add(first)
    assert len(hub.cases.get(case.case_id).signals) == 2


def test_eviction_youth_and_resolved_alerts_keep_the_simple_flow(hub: Hub) -> None:
    person = subject()
    alerts = [make_alert(person, event_type="eviction-risk", fields={"stage": "SUMMONS"}),
              make_alert(person, event_type="youth-care-exit", fields={}),
              make_alert(person, kind="ARREARS_RESOLVED")]
    hub.inbox.add_many(alerts)
    for alert in alerts:
        with pytest.raises(CaseNotFound):
            hub.cases.case_of(alert.alert_id)


def test_the_case_flow_tells_picked_up_and_records_each_step(hub: Hub) -> None:
    person = subject()
    first, second = make_alert(person), make_alert(person)
    hub.inbox.add_many([first, second])
    case_id = hub.cases.case_of(first.alert_id).case_id
    with pytest.raises(InboxError, match="not taken up"):
        hub.workflow.add_attempt(case_id, "alice", kind=Contactsoort.TELEFOON, reached=False)
    with pytest.raises(InboxError, match="take it up before"):
        hub.workflow.close(case_id, Eindresultaat.VERVOLGHULP_FINANCIEEL, "alice")

    case = hub.workflow.take_up(case_id, "alice", team_id="team-a")
    assert case.taken_up_on == NOW.date() and case.taken_up_by == "alice"
    assert {s.status for s in case.signals} == {Signaalstatus.OPGEPAKT}
    item = hub.inbox.get(first.alert_id)
    assert item.status is InboxStatus.CLAIMED and item.claimed_by == "alice"

    hub.workflow.add_attempt(case_id, "alice", kind=Contactsoort.TELEFOON, reached=False,
                             on=date(2025, 4, 7), part_of_day=Dagdeel.OCHTEND)
    case = hub.workflow.add_attempt(case_id, "alice", kind=Contactsoort.HUISBEZOEK,
                                    reached=True, on=date(2025, 4, 9),
                                    part_of_day=Dagdeel.AVOND)
    assert [(a.kind, a.reached, a.on, a.part_of_day) for a in case.contact_attempts] == [
        (Contactsoort.TELEFOON, False, date(2025, 4, 7), Dagdeel.OCHTEND),
        (Contactsoort.HUISBEZOEK, True, date(2025, 4, 9), Dagdeel.AVOND)]

    closed = hub.workflow.close(case_id, Eindresultaat.VERVOLGHULP_FINANCIEEL, "alice",
                                team_id="team-a")
    assert closed.case.result is Eindresultaat.VERVOLGHULP_FINANCIEEL
    assert {s.status for s in closed.case.signals} == {Signaalstatus.OPGEPAKT}
    assert [t.outcome.outcome for t in closed.told if t.outcome] == [
        PickUpOutcome.PICKED_UP, PickUpOutcome.PICKED_UP]
    assert hub.inbox.get(second.alert_id).status is InboxStatus.CLOSED

    outcomes = [o for o in hub.read(OUTCOMES) if o["alert_id"] in {first.alert_id,
                                                                   second.alert_id}]
    assert {o["outcome"] for o in outcomes} == {"PICKED_UP"} and len(outcomes) == 2
    assert all(set(o) >= {"outcome", "source"} and "Vervolghulp" not in str(o)
               for o in outcomes)

    records = [r for r in hub.read(AUDIT) if r["alert_id"] == first.alert_id]
    assert [r["reason_code"] for r in records] == [
        "CASE_TAKEN_UP", "CASE_CONTACT_ATTEMPT", "CASE_CONTACT_ATTEMPT", "CASE_CLOSED"]
    assert all(r["data_subject_id"] == person and r["team_id"] == "team-a"
               and f"case={case_id}" in r["reason_detail"] and "user=alice" in
               r["reason_detail"] for r in records)
    assert "kind=Huisbezoek reached=yes" in records[2]["reason_detail"]

    # the same result again: nothing changes, the sources are told again (same ids)
    again = hub.workflow.close(case_id, Eindresultaat.VERVOLGHULP_FINANCIEEL, "alice")
    assert not again.closing.newly_closed
    assert {t.outcome.outcome_id for t in again.told if t.outcome} == {
        t.outcome.outcome_id for t in closed.told if t.outcome}
    with pytest.raises(InboxError, match="already closed"):
        hub.workflow.close(case_id, Eindresultaat.DEFINITIEF_GEEN_CONTACT, "alice")
    with pytest.raises(InboxError, match="closed"):
        hub.workflow.take_up(case_id, "alice")
    # a new signal of the person now opens a new case
    later = make_alert(person)
    hub.inbox.add(later)
    assert hub.cases.case_of(later.alert_id).case_id != case_id


def test_a_not_taken_up_result_tells_not_picked_up(hub: Hub) -> None:
    person = subject()
    first, repeat = make_alert(person), make_alert(person)
    hub.inbox.add_many([first, repeat])
    case_id = hub.cases.case_of(first.alert_id).case_id
    hub.workflow.set_signal_status(case_id, repeat.alert_id,
                                   Signaalstatus.NIET_OPGEPAKT_HERHAALDE_MELDING, "bob")
    hub.workflow.take_up(case_id, "bob")
    case = hub.cases.get(case_id)
    assert {s.alert.alert_id: s.status for s in case.signals} == {
        first.alert_id: Signaalstatus.OPGEPAKT,
        repeat.alert_id: Signaalstatus.NIET_OPGEPAKT_HERHAALDE_MELDING}
    closed = hub.workflow.close(case_id, Eindresultaat.DEFINITIEF_GEEN_CONTACT, "bob")
    told = {t.closure.alert.alert_id: t.outcome.outcome for t in closed.told if t.outcome}
    assert told == {first.alert_id: PickUpOutcome.PICKED_UP,
                    repeat.alert_id: PickUpOutcome.NOT_PICKED_UP}
    assert {s.alert.alert_id: s.status for s in closed.case.signals}[repeat.alert_id] is (
        Signaalstatus.NIET_OPGEPAKT_HERHAALDE_MELDING)

    other = make_alert(subject())
    hub.inbox.add(other)
    other_case = hub.cases.case_of(other.alert_id).case_id
    closed = hub.workflow.close(other_case, Eindresultaat.INWONER_AL_BEKEND_BIJ_SCHULDHULPVERLENING,
                                "bob")
    assert [t.outcome.outcome for t in closed.told if t.outcome] == [
        PickUpOutcome.NOT_PICKED_UP]
    assert closed.case.signals[0].status is (
        Signaalstatus.INWONER_AL_BEKEND_BIJ_SCHULDHULPVERLENING)
    reasons = [r["reason_code"] for r in hub.read(AUDIT) if r["alert_id"] == repeat.alert_id]
    assert reasons == ["SIGNAL_STATUS_SET", "CASE_TAKEN_UP", "CASE_CLOSED"]


def test_a_signal_closed_in_the_simple_flow_keeps_its_outcome(hub: Hub) -> None:
    person = subject()
    first, second = make_alert(person), make_alert(person)
    hub.inbox.add_many([first, second])
    InboxWorkflow(hub.inbox, OutcomePublisher(hub.conn.bus, hub.conn.serde).tell).close(
        first.alert_id, "CLOSED", by="alice")
    case_id = hub.cases.case_of(first.alert_id).case_id
    hub.workflow.take_up(case_id, "alice")
    closed = hub.workflow.close(case_id, Eindresultaat.BUDGETADVIES_EN_OF_QUICK_FIX, "alice")
    told = {t.closure.alert.alert_id: (t.closure.newly_closed, t.told.value)
            for t in closed.told}
    assert told == {first.alert_id: (False, "nothing-to-tell"),
                    second.alert_id: (True, "published")}


def test_the_result_table_is_coarse() -> None:
    picked = {r for r, o in PICK_UP_BY_RESULT.items() if o is PickUpOutcome.PICKED_UP}
    assert Eindresultaat.VERVOLGHULP_FINANCIEEL in picked
    assert Eindresultaat.DEFINITIEF_GEEN_CONTACT in picked
    assert set(PICK_UP_BY_RESULT) - picked == {
        Eindresultaat.INWONER_AL_BEKEND_BIJ_SCHULDHULPVERLENING,
        Eindresultaat.INWONER_IS_OVERLEDEN, Eindresultaat.NIET_OPGEPAKT_ANDERE_REDEN,
        Eindresultaat.NIET_OPGEPAKT_HERHAALDE_MELDING,
        Eindresultaat.NIET_OPGEPAKT_ONTERECHT_SIGNAAL,
        Eindresultaat.PERSOON_IS_GEEN_INWONER_MEER}


def test_purging_a_case_s_signals_removes_the_case(hub: Hub) -> None:
    alert = make_alert(subject())
    hub.inbox.add(alert)
    case_id = hub.cases.case_of(alert.alert_id).case_id
    hub.workflow.take_up(case_id, "alice")
    hub.workflow.add_attempt(case_id, "alice", kind=Contactsoort.BRIEF, reached=False)
    hub.inbox.purge({"debt-signal": NOW + timedelta(days=1)})
    with pytest.raises(CaseNotFound):
        hub.cases.get(case_id)


def test_two_instances_adding_a_person_s_signals_at_once_make_one_case(
        hub: Hub, database_url: str) -> None:
    person = subject()
    others = [InboxStore(database_url) for _ in range(3)]
    alerts = [make_alert(person) for _ in range(len(others) * 4)]
    try:
        with ThreadPoolExecutor(len(others)) as pool:
            list(pool.map(lambda i: [others[i].add(a) for a in alerts[i::len(others)]],
                          range(len(others))))
    finally:
        for store in others:
            store.close()
    case_ids = {hub.cases.case_of(a.alert_id).case_id for a in alerts}
    assert len(case_ids) == 1
    assert len(hub.cases.get(case_ids.pop()).signals) == len(alerts)
