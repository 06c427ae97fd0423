"""Outcomes per source: ``GET /v1/outcomes`` of the ingest API serves each source the
outcomes of the signals its URN sent and no other source's, cursor-paginated; on the
embedded bus and on a real Kafka broker with a real Apicurio Registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from connectors.sinks.runner import SinkRunner
from connectors.sources.http_ingest import create_app
from hub.bus.base import Record
from hub.cli import main
from hub.config import load_config
from hub.connect import Connection, connect
from hub.errors import AlertNotFound
from hub.events import AlertUrgency, PickUpOutcome, TeamAlert
from hub.inbox import InboxStore
from hub.inbox.outcomes import ensure_outcomes_topic, publish_outcome
from hub.outcome_feed import read_outcomes
from hub.router import Router, alert_id_for
from hub.samples import sample_debt
from hub.settings import Settings
from hub.sources import SourceRegistry
from hub.store import open_database
from hub.topics import SIGNAL_TOPICS

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"
SUBJECT = "ps1-" + "5e0c2a9d7b" * 4


@pytest.fixture
def hub_settings(hub_settings: Settings) -> Settings:
    """Each mode under a topic prefix of its own: on the session's shared broker this
    test's ``outcomes.v1`` holds only this test's outcomes."""
    return hub_settings.model_copy(update={"topic_prefix": f"feed-{uuid.uuid4().hex[:8]}."})


@dataclass
class Feed:
    client: TestClient
    keys: dict[str, str]
    urns: dict[str, str]
    conn: Connection

    def get(self, source: str | None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[source]}"} if source else {}
        return self.client.get("/v1/outcomes", params=params, headers=headers)

    def publish(self, source: str, team: str = "schuldhulp-test",
                outcome: PickUpOutcome = PickUpOutcome.PICKED_UP) -> str:
        """An outcome of a new alert from a signal of ``source``; its event id."""
        event_id = str(uuid.uuid4())
        alert = TeamAlert(
            alert_id=alert_id_for(event_id, team), event_id=event_id,
            event_type="debt-signal", team_id=team, municipality_code="GM9999",
            subject_ref=SUBJECT, urgency=AlertUrgency.NORMAL, due_date=None,
            fields={"creditor_type": "ENERGY"}, prior_signals_180d=0,
            legal_basis="GDPR 6(1)(e); Wgs art. 3", created_at=NOW,
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736", source=self.urns[source],
        )
        publish_outcome(self.conn.bus, self.conn.serde, alert, outcome, self.urns[source],
                        recorded_at=NOW + timedelta(minutes=5))
        return event_id

    def read_all(self, source: str, limit: int = 100) -> tuple[list[dict[str, Any]], str]:
        """Every page of ``source``'s feed; the outcomes and the last cursor."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(50):
            params: dict[str, Any] = {"limit": limit, **({"after": cursor} if cursor else {})}
            answer = self.get(source, **params)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert len(body["outcomes"]) <= limit
            found += body["outcomes"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                assert cursor
                return found, cursor
        raise AssertionError("the feed did not end")


@pytest.fixture
def feed(conn: Connection, tmp_path: Path) -> Iterator[Feed]:
    db = open_database(tmp_path / "store.db")
    tag = uuid.uuid4().int % 10**12
    urns = {"energie": f"urn:nld:oin:0000000{tag:012d}0",
            "woon": f"urn:nld:oin:0000000{tag:012d}1"}
    with closing(db), SourceRegistry(db) as registry:
        keys = {
            "energie": registry.add("energie", urns["energie"], ["debt-signal", "outcomes"])[1],
            "woon": registry.add("woon", urns["woon"], ["eviction-risk", "outcomes"])[1],
            # the same URN as energie, without the outcomes permission
            "zonder": registry.add("zonder", urns["energie"], ["debt-signal"])[1],
        }
        app = create_app(conn, registry, None, idempotency_store_path=db,
                         consent_ledger_path=tmp_path / "consent-ledger.db")
        with TestClient(app) as client:
            yield Feed(client, keys, urns, conn)


def test_each_source_reads_only_its_own_outcomes(feed: Feed) -> None:
    ensure_outcomes_topic(feed.conn.bus)
    sent: dict[str, list[str]] = {"energie": [], "woon": []}
    for i in range(7):  # interleaved, over every partition the keys fall on
        source = "energie" if i % 3 else "woon"
        sent[source].append(feed.publish(
            source, outcome=PickUpOutcome.NOT_PICKED_UP if i % 2 else PickUpOutcome.PICKED_UP))
    for source, other in (("energie", "woon"), ("woon", "energie")):
        answer = feed.get(source)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [o["event_id"] for o in body["outcomes"]] == sent[source]
        assert body["has_more"] is False
        assert not any(e in answer.text for e in sent[other])
        assert feed.urns[other] not in answer.text and feed.urns[source] not in answer.text
        first = body["outcomes"][0]
        assert set(first) == {"outcome_id", "event_id", "alert_id", "team_id", "outcome",
                              "recorded_at"}
        assert first["team_id"] == "schuldhulp-test"
        assert datetime.fromisoformat(first["recorded_at"]) == NOW + timedelta(minutes=5)
    assert [o["outcome"] for o in feed.get("energie").json()["outcomes"]] == [
        "NOT_PICKED_UP", "PICKED_UP", "PICKED_UP", "NOT_PICKED_UP"]


def test_the_cursor_pages_through_and_polls_on(feed: Feed) -> None:
    ensure_outcomes_topic(feed.conn.bus)
    mine = [feed.publish("energie") for _ in range(5)]
    others = [feed.publish("woon") for _ in range(4)]
    first = feed.get("energie", limit=2).json()
    assert [o["event_id"] for o in first["outcomes"]] == mine[:2] and first["has_more"]
    second = feed.get("energie", limit=2, after=first["next_cursor"]).json()
    assert [o["event_id"] for o in second["outcomes"]] == mine[2:4]
    paged, cursor = feed.read_all("energie", limit=2)
    assert [o["event_id"] for o in paged] == mine
    assert [o["event_id"] for o in feed.read_all("woon", limit=3)[0]] == others
    # polling on from the last cursor: nothing, until a new outcome comes
    idle = feed.get("energie", after=cursor).json()
    assert idle["outcomes"] == [] and idle["has_more"] is False
    assert idle["next_cursor"] == cursor
    later = feed.publish("energie", team="wijkteam-test")
    feed.publish("woon")
    news = feed.get("energie", after=cursor).json()
    assert [(o["event_id"], o["team_id"]) for o in news["outcomes"]] == [
        (later, "wijkteam-test")]


def test_pages_that_end_early_at_the_scan_bound_lose_nothing(feed: Feed) -> None:
    """A page reads at most ``max_scan`` records of the topic (anyone's): a short page
    says has_more, and the cursor goes on where it stopped."""
    ensure_outcomes_topic(feed.conn.bus)
    mine = [feed.publish("energie") for _ in range(3)]
    for _ in range(5):
        feed.publish("woon")
    found: list[str] = []
    cursor: str | None = None
    pages = 0
    while pages < 30:
        pages += 1
        page = read_outcomes(feed.conn.bus, feed.conn.serde, feed.urns["energie"], cursor,
                             limit=10, max_scan=2)
        assert len(page.outcomes) <= 2
        found += [o["event_id"] for o in page.outcomes]
        cursor = page.cursor
        if not page.has_more:
            break
    assert found == mine and pages >= 4  # 8 records, at most 2 read per page


def test_keys_without_the_permission_and_bad_requests_are_refused(feed: Feed) -> None:
    ensure_outcomes_topic(feed.conn.bus)
    feed.publish("energie")
    refused = feed.get("zonder")  # the same URN, but no outcomes permission
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == "source zonder lacks the outcomes permission"
    assert refused.headers["content-type"] == "application/problem+json"
    assert feed.get(None).status_code == 401
    feed.keys["kapot"] = feed.keys["energie"][:-4] + "xxxx"
    assert feed.get("kapot").status_code == 401
    for params in ({"after": "bm90LWEtY3Vyc29y"}, {"after": "!!"}, {"limit": 0},
                   {"limit": 1001}, {"after": "eyIwIjotMX0"}):  # {"0":-1}
        answer = feed.get("energie", **params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["errors"], answer.text


def test_an_empty_feed_before_any_outcome(tmp_path: Path) -> None:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn, \
            SourceRegistry(tmp_path / "store.db") as registry:
        _, key = registry.add("energie", "urn:nld:oin:00000001234567890000", ["outcomes"])
        app = create_app(conn, registry, None, idempotency_store_path=tmp_path / "store.db")
        with TestClient(app) as client:
            answer = client.get("/v1/outcomes", headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcomes"] == [] and answer.json()["has_more"] is False


def test_signals_routed_closed_and_read_back_by_their_own_source(tmp_path: Path) -> None:
    """The whole way on the embedded bus: two sources' signals, routed to the example's
    teams, stored in the inbox, closed with `signalhub inbox close`; each source's feed
    holds the outcomes of its own signals' alerts and nothing else."""
    bus = f"embedded:{tmp_path / 'hub.db'}"
    urns = {"energie": "urn:nld:oin:00000001111111111000",
            "woon": "urn:nld:oin:00000002222222222000"}
    config = load_config(EXAMPLE)
    signals = {name: [sample_debt().model_copy(update={
        "source": urn, "objection_recorded": False, "event_id": str(uuid.uuid4())})
        for _ in range(3)] for name, urn in urns.items()}
    state = tmp_path / "state"
    closed: dict[str, set[tuple[str, str]]] = {name: set() for name in urns}
    with connect(Settings(bus=bus)) as conn:
        router = Router(conn, config, state / "router", group="router")
        inbox = InboxStore(state / "store.db")  # the CLI's database (--state-dir)
        sinks = SinkRunner(conn, config, inbox, group_prefix="sinks")
        try:
            router.ensure_topics()
            sinks.ensure_topics()
            topic = SIGNAL_TOPICS["debt-signal"]
            conn.bus.produce([Record(topic, conn.serde.encode_model(topic, s),
                                     s.subject_ref.encode())
                              for both in zip(*signals.values(), strict=True) for s in both])
            teams = [t.id for t in config.teams]
            wanted = {(n, s.event_id) for n, sent in signals.items() for s in sent}
            found: dict[tuple[str, str], list[str]] = {}
            for _ in range(200):
                router.step(timeout=0.2)
                sinks.step(timeout=0.2)
                for name, event_id in wanted:
                    for team in teams:
                        try:
                            inbox.get(alert_id_for(event_id, team))
                        except AlertNotFound:
                            continue
                        found.setdefault((name, event_id), [])
                        if team not in found[name, event_id]:
                            found[name, event_id].append(team)
                if set(found) == wanted:
                    break
            assert set(found) == wanted, "not every signal reached an inbox"
        finally:
            sinks.close()
            router.close()
            inbox.close()
    for (name, event_id), routed_to in sorted(found.items()):
        for team in routed_to:
            alert_id = alert_id_for(event_id, team)
            done = CliRunner().invoke(main, [
                "inbox", "close", alert_id, "--outcome", "picked-up", "--bus", bus,
                "--state-dir", str(state)], catch_exceptions=False)
            assert done.exit_code == 0 and f"for {urns[name]}" in done.output, done.output
            closed[name].add((event_id, alert_id))
    with connect(Settings(bus=bus)) as conn, SourceRegistry(tmp_path / "keys.db") as registry:
        keys = {name: registry.add(name, urn, ["outcomes"])[1] for name, urn in urns.items()}
        app = create_app(conn, registry, None, idempotency_store_path=tmp_path / "keys.db")
        with TestClient(app) as client:
            for name in urns:
                answer = client.get("/v1/outcomes", params={"limit": 2},
                                    headers={"Authorization": f"Bearer {keys[name]}"})
                pages = [answer.json()]
                while pages[-1]["has_more"]:
                    pages.append(client.get(
                        "/v1/outcomes", params={"limit": 2, "after": pages[-1]["next_cursor"]},
                        headers={"Authorization": f"Bearer {keys[name]}"}).json())
                got = {(o["event_id"], o["alert_id"]) for p in pages for o in p["outcomes"]}
                assert got == closed[name] and len(got) >= 3
