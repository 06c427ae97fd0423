"""The router end to end: the policy table through a real bus, on both modes."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hub.bus.base import Record
from hub.config import load_config
from hub.connect import Connection, connect
from hub.consent import publish_consent
from hub.router import Router, alert_id_for
from hub.settings import Settings
from hub.topics import AUDIT, DEADLETTER, SIGNAL_TOPICS, alerts_topic
from tests.bus_records import read_records
from tests.router_cases import CASES, Case
from tests.router_proc import start_group_at_end

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
TEAMS = ["schuldhulp-centrum", "wijkteam-noord", "wijkteam-zuid", "jeugd-18plus"]


@dataclass
class Routed:
    """Everything the router wrote for the table, indexed by event id."""

    audit: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    dead: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    event_ids: dict[str, str] = field(default_factory=dict)
    router: Router | None = None


def route_table(conn: Connection, state: Path, tag: str) -> Routed:
    router = Router(conn, load_config(EXAMPLE), state, group=f"router-{tag}")
    router.ensure_topics()
    # on a shared broker other tests' signals are on the same topics: skip them
    start_group_at_end(conn.bus, f"router-{tag}", list(SIGNAL_TOPICS.values()))
    for case in CASES:
        for change in case.consent_changes():
            publish_consent(conn.bus, conn.serde, change)
    routed = Routed(router=router)
    records = []
    for case in CASES:
        record = case.record()
        routed.event_ids[case.name] = str(record["event_id"])
        topic = SIGNAL_TOPICS[case.event_type]
        records.append(Record(topic, conn.serde.encode(topic, _record_name(case), record),
                              case.subject_ref.encode()))
    conn.bus.produce(records)
    deadline = time.monotonic() + 90
    handled = 0
    while time.monotonic() < deadline and handled < len(CASES):
        handled += router.step(timeout=1.0)
    assert handled == len(CASES), f"router read {handled} of {len(CASES)} signals"
    for rec in read_records(conn, AUDIT):
        routed.audit[str(rec["event_id"])].append(rec)
    for team in TEAMS:
        for rec in read_records(conn, alerts_topic(team)):
            routed.alerts[str(rec["event_id"])].append(rec)
    for rec in read_records(conn, DEADLETTER):
        if rec["event_id"]:
            routed.dead[str(rec["event_id"])].append(rec)
    return routed


def _record_name(case: Case) -> str:
    return {"debt-signal": "DebtSignal", "eviction-risk": "EvictionRisk",
            "youth-care-exit": "YouthCareExit"}[case.event_type]


@pytest.fixture(scope="module", params=["embedded", pytest.param(
    "kafka", marks=[pytest.mark.kafka, pytest.mark.registry])])
def routed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Routed]:
    tmp = tmp_path_factory.mktemp(f"router-{request.param}")
    if request.param == "kafka":
        settings = Settings(bus=f"kafka://{request.getfixturevalue('kafka_bootstrap')}",
                            registry_url=request.getfixturevalue("apicurio_url"))
    else:
        settings = Settings(bus=f"embedded:{tmp / 'hub.db'}")
    with connect(settings) as conn:
        result = route_table(conn, tmp / "state", tmp.name.replace("_", "-"))
        yield result
        assert result.router is not None
        result.router.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_policy_table(routed: Routed, case: Case) -> None:
    event_id = routed.event_ids[case.name]
    records = routed.audit[event_id]
    if case.dead_letter:
        assert [r["reason_code"] for r in records] == [case.dead_letter]
        assert records[0]["outcome"] == "DEAD_LETTERED"
        assert [d["reason_code"] for d in routed.dead[event_id]] == [case.dead_letter]
        assert routed.alerts[event_id] == []
        return
    got = {r["team_id"]: r["reason_code"] for r in records}
    assert got == case.decisions
    assert len(records) == len(case.decisions), "exactly one record per decision"
    forwarded = {t for t, code in case.decisions.items() if code == "FORWARDED"}
    alerts = routed.alerts[event_id]
    assert {a["team_id"] for a in alerts} == forwarded
    for alert in alerts:
        assert str(alert["alert_id"]) == alert_id_for(event_id, alert["team_id"])
        assert (alert["urgency"] == "URGENT") == (alert["team_id"] in case.urgent)
        assert (alert["due_date"] is not None) == (alert["team_id"] in case.urgent)
    for r in records:
        assert r["processing_activity_id"].startswith("https://register.")
        assert r["data_subject_id"] == case.subject_ref
        assert len(r["trace_id"]) == 32 and len(r["span_id"]) == 16


def test_alerts_carry_only_the_fields_the_role_may_see(routed: Routed) -> None:
    config = load_config(EXAMPLE)
    for case in CASES:
        for alert in routed.alerts[routed.event_ids[case.name]]:
            role = config.team(alert["team_id"]).role
            rule, _ = config.policies[case.event_type].rule_for(case.record())  # type: ignore[index]
            assert set(alert["fields"]) <= set(rule.fields[role]), case.name
            assert "subject_ref" not in alert["fields"]
    youth = routed.alerts[routed.event_ids["youth-consent"]][0]["fields"]
    assert set(youth) == {"turns_18_on", "care_form", "planned_end_date", "support_needs",
                          "provider_contact_role", "postcode"}
