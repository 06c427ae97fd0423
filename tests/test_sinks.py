"""Sinks: the team inbox, the signed webhook (against a real HTTP server), the runner on
both modes, dead-letter replay of undelivered alerts, and outcomes back to the source."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from connectors.sinks.base import ListSink
from connectors.sinks.inbox import InboxSink
from connectors.sinks.runner import SinkRunner, webhook_secrets
from connectors.sinks.webhook import Backoff, WebhookSink, sign, verify_signature
from hub.bus.base import Record, TopicSpec
from hub.cli import main
from hub.config import HubConfig, load_config, parse_config
from hub.connect import Connection, connect
from hub.deadletters import DeadLetterWriter
from hub.errors import ConfigError
from hub.events import AlertUrgency, DebtSignal, PickUpOutcome, TeamAlert
from hub.inbox import AlertNotFound, CloseOutcome, InboxError, InboxStatus, InboxStore
from hub.inbox.outcomes import ensure_outcomes_topic, publish_outcome
from hub.router import Router, alert_id_for
from hub.samples import sample_debt
from hub.settings import Settings
from hub.topics import DEADLETTER, OUTCOMES, SIGNAL_TOPICS, alerts_topic
from hub.webhook_signing import new_secret, parse_secrets
from hub.webhook_targets import TargetPolicy
from tests.bus_records import read_messages

SECRET = new_secret()  # made per test run, never committed
SOURCE = "urn:nld:oin:00000009999999999000"
SUBJECT = "ps1-" + "3f6c1e0b9a" * 4
NOW = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
FAST = Backoff(base=0.01, cap=0.05)
EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
DOCS = Path(__file__).parent.parent / "docs" / "sinks.md"
DEADLETTER_SPEC = TopicSpec(DEADLETTER, 1)
#: the test receivers listen on 127.0.0.1 over http: allow-listed (see hub.webhook_targets)
LOCAL_RECEIVERS = ["127.0.0.1"]


def make_alert(team: str = "team-a", *, minutes: int = 0, urgent: bool = False,
               event_type: str = "debt-signal", source: str | None = SOURCE) -> TeamAlert:
    event_id = str(uuid.uuid4())
    return TeamAlert(
        alert_id=alert_id_for(event_id, team), event_id=event_id, event_type=event_type,
        team_id=team, municipality_code="GM9999", subject_ref=SUBJECT,
        urgency=AlertUrgency.URGENT if urgent else AlertUrgency.NORMAL,
        due_date=date(2024, 5, 17) if urgent else None, fields={"creditor_type": "ENERGY"},
        prior_signals_180d=0, legal_basis="GDPR 6(1)(e); Wgs art. 3",
        created_at=NOW + timedelta(minutes=minutes), trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        source=source,
    )


def team_config(team: str, *, webhook: str | None = None, inbox: bool = True,
                max_attempts: int = 3) -> HubConfig:
    deliveries: dict[str, Any] = {"inbox": inbox}
    if webhook:
        deliveries["webhook"] = {"url": webhook, "secret_env": "HOOK_KEY",
                                 "max_attempts": max_attempts}
    return parse_config({
        "municipalities": [{"code": "GM9999", "name": "Voorbeeld", "areas": ["7511-7548"]}],
        "teams": [{"id": team, "name": team, "municipality": "GM9999", "role": "debt",
                   "areas": ["7511-7548"], "event_types": ["debt-signal"],
                   "deliveries": deliveries}],
        "policies": {},
        "webhooks": {"allow_private": LOCAL_RECEIVERS},
    })


def read_all(conn: Connection, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every message on ``topic``."""
    return [(m.key, m.value) for m in read_messages(conn.bus, topic)]


def dead_letters(conn: Connection, stage: str) -> list[dict[str, Any]]:
    found = [conn.serde.decode(v).record for _, v in read_all(conn, DEADLETTER)]
    return [d for d in found if d["stage"] == stage]


def pump(runner: SinkRunner, done: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runner.step(timeout=0.5)
        if done():
            return
    raise AssertionError("the runner did not get there in time")


def produce_alerts(conn: Connection, team: str, alerts: list[TeamAlert]) -> list[bytes]:
    topic = alerts_topic(team)
    values = [conn.serde.encode_model(topic, a) for a in alerts]
    conn.bus.produce(Record(topic, v, SUBJECT.encode()) for v in values)
    return values


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as connection:
        yield connection


# --- a real HTTP receiver ----------------------------------------------------------------


def doc_snippet(name: str) -> dict[str, Any]:
    """Run the code block after ``<!-- snippet: name -->`` in docs/sinks.md; its globals."""
    text = DOCS.read_text(encoding="utf-8").split(f"<!-- snippet: {name} -->", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, f"{DOCS}:{name}", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def receiver_verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """The check of a receiver: the standardwebhooks package, not the hub's own helper."""
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@dataclass
class Receiver:
    url: str
    fail_first: int = 0  # answer `fail_with` to the first N requests
    fail_with: int = 503
    always_fail: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    def status(self) -> int:
        if self.always_fail or len(self.requests) < self.fail_first:
            return self.fail_with
        return 200

    def delivered(self) -> list[str]:
        return [r["alert_id"] for r in self.requests if r["status"] == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = receiver_verifies(SECRET, body, dict(self.headers))
            status = state.status() if ok else 401
            state.requests.append({"alert_id": self.headers.get("webhook-id"),
                                   "timestamp": self.headers.get("webhook-timestamp"),
                                   "body": json.loads(body), "verified": ok, "status": status})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/signalhub"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


# --- inbox --------------------------------------------------------------------------------


def test_inbox_stores_each_alert_once(tmp_path: Path) -> None:
    store = InboxStore(tmp_path / "inbox.db")
    a, b = make_alert(), make_alert()
    assert store.add(a) is True
    assert store.add(a) is False
    assert store.add_many([a, b, b]) == 1
    sink = InboxSink(store)
    for alert in (a, b, a):
        sink.add(alert)
    sink.flush()
    assert sink.stored == 0 and store.count("team-a") == 2
    store.close()
    reopened = InboxStore(tmp_path / "inbox.db")  # durable
    assert reopened.get(a.alert_id).alert == a
    reopened.close()


def test_inbox_lists_most_urgent_then_newest_with_filters(tmp_path: Path) -> None:
    store = InboxStore(tmp_path / "inbox.db")
    old_urgent = make_alert(minutes=0, urgent=True)
    new_urgent = make_alert(minutes=30, urgent=True)
    newest = make_alert(minutes=60)
    older = make_alert(minutes=-600, event_type="eviction-risk")
    other_team = make_alert("team-b", minutes=90, urgent=True)
    store.add_many([older, newest, old_urgent, other_team, new_urgent])

    def ids(**filters: Any) -> list[str]:
        return [i.alert.alert_id for i in store.list_alerts("team-a", **filters)]

    assert ids() == [a.alert_id for a in (new_urgent, old_urgent, newest, older)]
    assert ids(urgency="URGENT") == [new_urgent.alert_id, old_urgent.alert_id]
    assert ids(event_type="eviction-risk") == [older.alert_id]
    assert ids(since=NOW + timedelta(minutes=30)) == [new_urgent.alert_id, newest.alert_id]
    # a date is a Dutch day: `older` came at 23:30 UTC on the 13th, 01:30 on the 14th there
    assert ids(since=date(2024, 5, 14)) == ids()
    assert ids(since=date(2024, 5, 15)) == []
    assert ids(limit=2, offset=1) == [old_urgent.alert_id, newest.alert_id]
    store.claim(newest.alert_id, "medewerker-1")
    assert ids(status="claimed") == [newest.alert_id]
    assert ids(status=InboxStatus.NEW) == [new_urgent.alert_id, old_urgent.alert_id,
                                           older.alert_id]
    assert store.count("team-b") == 1
    store.close()


def test_inbox_claim_note_and_close(tmp_path: Path) -> None:
    store = InboxStore(tmp_path / "inbox.db")
    alert, other = make_alert(), make_alert()
    store.add_many([alert, other])
    assert store.claim(alert.alert_id, "anna").claimed_by == "anna"
    assert store.claim(alert.alert_id, "anna").status is InboxStatus.CLAIMED  # again: no-op
    with pytest.raises(InboxError, match="claimed by someone else"):
        store.claim(alert.alert_id, "bram")
    store.add_note(alert.alert_id, "anna", "called, no answer")
    closure = store.close_alert(alert.alert_id, CloseOutcome.PICKED_UP, by="anna",
                                note="first talk on Friday")
    assert closure.newly_closed and closure.pick_up is PickUpOutcome.PICKED_UP
    assert closure.source == SOURCE and closure.alert == alert
    item = store.get(alert.alert_id)
    assert item.status is InboxStatus.CLOSED and item.outcome is CloseOutcome.PICKED_UP
    assert [n.text for n in item.notes] == ["called, no answer", "first talk on Friday"]
    again = store.close_alert(alert.alert_id, "PICKED_UP")
    assert not again.newly_closed and again.closed_at == closure.closed_at
    with pytest.raises(InboxError, match="already closed"):
        store.close_alert(alert.alert_id, CloseOutcome.NOT_PICKED_UP)
    with pytest.raises(InboxError, match="is closed"):
        store.claim(alert.alert_id, "anna")
    with pytest.raises(InboxError, match="no alert"):
        store.get(alert.alert_id, team_id="team-b")
    assert store.close_alert(other.alert_id, CloseOutcome.CLOSED).pick_up is None
    assert CloseOutcome.NOT_PICKED_UP.pick_up is PickUpOutcome.NOT_PICKED_UP
    store.close()


# --- webhook ------------------------------------------------------------------------------


def _webhook(conn: Connection, url: str, **options: Any) -> WebhookSink:
    return WebhookSink("team-a", url, SECRET, DeadLetterWriter(conn.bus, conn.serde),
                       backoff=FAST, targets=TargetPolicy.from_entries(LOCAL_RECEIVERS),
                       **{"max_attempts": 4, **options})


def test_webhook_is_signed_and_retried_until_delivered(
    embedded: Connection, receiver: Receiver
) -> None:
    embedded.bus.create_topic(DEADLETTER_SPEC)
    receiver.fail_first = 2
    ticks = itertools.count(int(time.time()))  # a clock one second on at every reading
    sink = _webhook(embedded, receiver.url, clock=lambda: float(next(ticks)))
    alert = make_alert(urgent=True)
    sink.add(alert)
    embedded.bus.produce(sink.flush())  # the runner commits them with the batch
    sink.close()
    assert [r["status"] for r in receiver.requests] == [503, 503, 200]
    assert all(r["verified"] and r["alert_id"] == alert.alert_id for r in receiver.requests)
    assert len({r["timestamp"] for r in receiver.requests}) == 3  # each attempt signed anew
    assert receiver.requests[-1]["body"] == alert.model_dump(mode="json")
    assert sink.delivered == 1 and sink.failed == 0
    assert dead_letters(embedded, "webhook:team-a") == []


def test_webhook_refusal_is_permanent_but_429_is_retried(
    embedded: Connection, receiver: Receiver
) -> None:
    embedded.bus.create_topic(DEADLETTER_SPEC)
    receiver.fail_first, receiver.fail_with = 1, 429
    sink = _webhook(embedded, receiver.url)
    first, second = make_alert(), make_alert()
    sink.add(first)
    embedded.bus.produce(sink.flush())  # the runner commits them with the batch
    assert receiver.delivered() == [first.alert_id] and len(receiver.requests) == 2
    receiver.always_fail, receiver.fail_with = True, 400
    sink.add(second)
    embedded.bus.produce(sink.flush())  # the runner commits them with the batch
    assert len(receiver.requests) == 3  # a 400 is not retried
    [dl] = dead_letters(embedded, "webhook:team-a")
    assert dl["reason_code"] == "DELIVERY_FAILED" and dl["attempts"] == 1
    assert "HTTP 400" in dl["error_message"] and dl["error_class"] == "DeliveryFailed"
    assert dl["event_id"] == second.event_id and dl["topic"] == alerts_topic("team-a")
    assert str(embedded.serde.decode(dl["original_value"]).record["alert_id"]) == second.alert_id
    sink.close()


def test_connection_errors_are_retried_then_dead_lettered(
    embedded: Connection, receiver: Receiver
) -> None:
    embedded.bus.create_topic(DEADLETTER_SPEC)
    sink = _webhook(embedded, "http://127.0.0.1:9/nothing-listens-here", max_attempts=2)
    sink.add(make_alert())
    embedded.bus.produce(sink.flush())  # the runner commits them with the batch
    [dl] = dead_letters(embedded, "webhook:team-a")
    assert dl["attempts"] == 2 and "ConnectError" in dl["error_message"]
    sink.close()


def test_signature_helpers() -> None:
    body = b'{"alert_id":"x"}'
    [key] = parse_secrets(SECRET, "HOOK_KEY")
    other = parse_secrets(new_secret(), "OTHER")[0]
    now = int(time.time())
    headers = {"webhook-id": "x", "webhook-timestamp": str(now),
               "webhook-signature": sign([other, key], "x", now, body)}
    assert headers["webhook-signature"].count("v1,") == 2
    assert verify_signature(key, body, headers) and verify_signature(other, body, headers)
    assert receiver_verifies(SECRET, body, headers)  # the third-party verifier agrees
    assert not verify_signature(key, body + b" ", headers)
    assert not verify_signature(key, body, {**headers, "webhook-id": "y"})
    assert not verify_signature(parse_secrets(new_secret(), "X")[0], body, headers)
    assert not verify_signature(key, body, headers, now=time.time() + 3600)
    assert not verify_signature(key, body, {**headers, "webhook-signature": "garbage"})
    assert not verify_signature(key, body, {})
    delays = [FAST.delay(n, lambda lo, hi: hi) for n in range(6)]
    assert delays == [0.01, 0.02, 0.04, 0.05, 0.05, 0.05]  # capped


# --- the runner, on both modes -------------------------------------------------------------

def test_runner_fills_the_inbox_once(conn: Connection, tmp_path: Path) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    store = InboxStore(tmp_path / "inbox.db")
    runner = SinkRunner(conn, team_config(team), store, group_prefix="sinks")
    runner.ensure_topics()
    alerts = [make_alert(team, minutes=i) for i in range(3)]
    produce_alerts(conn, team, [*alerts, alerts[0]])  # a duplicate on the topic
    stray = make_alert("team-elsewhere")
    topic = alerts_topic(team)
    debt = sample_debt()
    conn.bus.produce([
        Record(topic, conn.serde.encode_model(topic, stray)),
        Record(topic, conn.serde.encode_model(topic, debt)),  # not a TeamAlert
        Record(topic, b"not wire format"),
    ])
    pump(runner, lambda: runner.handled(team) == {"inbox": 6})
    assert store.count(team) == 3 and store.count("team-elsewhere") == 0
    reasons = sorted(d["reason_code"] for d in dead_letters(conn, f"sinks:{team}"))
    assert reasons == ["UNKNOWN_EVENT_TYPE", "VALIDATION_FAILED"]
    assert [d["reason_code"] for d in dead_letters(conn, f"sinks:{team}:decode")] == [
        "NOT_WIRE_FORMAT"]
    runner.close()
    # a second runner in a new group reads everything again: still each alert once
    again = SinkRunner(conn, team_config(team), store, group_prefix="sinks-again")
    pump(again, lambda: again.handled(team) == {"inbox": 6})
    assert store.count(team) == 3
    assert [i.alert for i in store.list_alerts(team)] == sorted(
        alerts, key=lambda a: a.created_at, reverse=True)
    again.close()
    store.close()


def test_undelivered_alert_is_dead_lettered_then_replayed(
    conn: Connection, hub_settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    store = InboxStore(tmp_path / "inbox.db")
    config = team_config(team, webhook=receiver.url, max_attempts=3)
    secrets = webhook_secrets(config, {"HOOK_KEY": SECRET, "UNRELATED": "x"})
    assert list(secrets) == ["HOOK_KEY"]
    runner = SinkRunner(conn, config, store, secrets, backoff=FAST)
    runner.ensure_topics()
    receiver.always_fail = True
    alert = make_alert(team)
    [value] = produce_alerts(conn, team, [alert])
    conn.bus.produce([Record(alerts_topic(team), b"not wire format")])
    pump(runner, lambda: runner.handled(team) == {"inbox": 1, "webhook": 1})
    assert len(receiver.requests) == 3 and all(r["verified"] for r in receiver.requests)
    [dl] = dead_letters(conn, f"webhook:{team}")
    assert dl["reason_code"] == "DELIVERY_FAILED" and dl["attempts"] == 3
    assert dl["original_value"] == value and dl["topic"] == alerts_topic(team)
    assert store.count(team) == 1  # the inbox has it all the same
    # two consumers read the bad record (inbox, webhook); one dead letter for it
    assert len(dead_letters(conn, f"sinks:{team}:decode")) == 1

    receiver.always_fail = False  # the team fixed its endpoint
    args = ["deadletters", "replay", "--reason", "DELIVERY_FAILED", "--bus", hub_settings.bus]
    if hub_settings.registry_url:
        args += ["--registry", hub_settings.registry_url]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and "replayed" in result.output, result.output
    pump(runner, lambda: receiver.delivered() == [alert.alert_id])
    assert store.count(team) == 1
    runner.close()
    store.close()


def test_run_stops_during_a_retry_without_committing(
    embedded: Connection, receiver: Receiver, tmp_path: Path
) -> None:
    store = InboxStore(tmp_path / "inbox.db")
    config = team_config("team-a", webhook=receiver.url, max_attempts=5)
    slow = SinkRunner(embedded, config, store, {"HOOK_KEY": SECRET}, backoff=Backoff(5, 5))
    slow.ensure_topics()
    receiver.always_fail = True
    alert = make_alert()
    produce_alerts(embedded, "team-a", [alert])
    stop = threading.Event()
    thread = threading.Thread(target=slow.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 30
    while not (receiver.requests and store.count("team-a")) and time.monotonic() < deadline:
        time.sleep(0.05)
    # the inbox has the alert while the webhook waits to retry (its own consumer)
    assert store.count("team-a") == 1 and len(receiver.requests) == 1
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and len(receiver.requests) == 1
    slow.close()
    assert dead_letters(embedded, "webhook:team-a") == []  # interrupted, not failed
    receiver.always_fail = False
    fast = SinkRunner(embedded, config, store, {"HOOK_KEY": SECRET}, backoff=FAST)
    fast.run(idle_exit=1.0)  # same group: the uncommitted alert is read again
    assert receiver.delivered() == [alert.alert_id] and store.count("team-a") == 1
    fast.close()
    store.close()


def test_runner_refuses_a_webhook_without_its_key(embedded: Connection, tmp_path: Path) -> None:
    config = team_config("team-a", webhook="http://127.0.0.1:9/")
    with pytest.raises(ConfigError, match="HOOK_KEY is not set"):
        SinkRunner(embedded, config, InboxStore(tmp_path / "inbox.db"), {})
    with pytest.raises(ConfigError, match="no inbox store"):
        SinkRunner(embedded, team_config("team-a"), None)
    assert SinkRunner(embedded, team_config("team-a", inbox=False), None).workers == {}


def test_list_sink_is_a_batching_sink() -> None:
    sink = ListSink()
    alert = make_alert()
    sink.add(alert)
    assert sink.written == []
    sink.flush()
    assert sink.written == [alert]


# --- outcomes -------------------------------------------------------------------------------


def test_router_alert_to_inbox_to_outcome_without_reason(conn: Connection, tmp_path: Path) -> None:
    team = f"schuldhulp-{uuid.uuid4().hex[:8]}"  # own topic: the Kafka broker is shared
    example = tmp_path / "hub.yaml"
    example.write_text(EXAMPLE.read_text(encoding="utf-8").replace("schuldhulp-centrum", team))
    config = load_config(example)
    router = Router(conn, config, tmp_path / "state", group=f"router-{uuid.uuid4().hex[:8]}")
    router.ensure_topics()
    signal: DebtSignal = sample_debt().model_copy(update={"objection_recorded": False})
    topic = SIGNAL_TOPICS["debt-signal"]
    conn.bus.produce([Record(topic, conn.serde.encode_model(topic, signal),
                             signal.subject_ref.encode())])
    alert_id = alert_id_for(signal.event_id, team)
    store = InboxStore(tmp_path / "inbox.db")
    sinks = SinkRunner(conn, config, store, group_prefix=f"sinks-{uuid.uuid4().hex[:8]}")
    sinks.ensure_topics()

    def stored() -> bool:
        try:
            return store.get(alert_id, team_id=team) is not None
        except AlertNotFound:
            return False

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not stored():
        router.step(timeout=0.5)
        sinks.step(timeout=0.5)
    assert store.get(alert_id).alert.source == signal.source  # the router names the source
    closure = store.close_alert(alert_id, CloseOutcome.NOT_PICKED_UP,
                                note="person declined: moved to Zwolle")
    assert closure.pick_up is not None and closure.source is not None
    ensure_outcomes_topic(conn.bus)
    published = publish_outcome(conn.bus, conn.serde, closure.alert, closure.pick_up,
                                closure.source, recorded_at=closure.closed_at)
    found = [(k, v) for k, v in read_all(conn, OUTCOMES)
             if v and str(conn.serde.decode(v).record["alert_id"]) == alert_id]
    [(key, value)] = found
    assert key == signal.source.encode() and value is not None
    record = conn.serde.decode(value).record
    assert set(record) == {"outcome_id", "alert_id", "event_id", "team_id", "outcome",
                           "recorded_at", "source"}
    assert record["outcome"] == "NOT_PICKED_UP" and str(record["event_id"]) == signal.event_id
    assert str(record["outcome_id"]) == published.outcome_id
    assert b"Zwolle" not in value and b"declined" not in value
    router.close()
    sinks.close()
    store.close()


def test_inbox_cli_lists_and_closes_with_an_outcome(tmp_path: Path) -> None:
    bus = f"embedded:{tmp_path / 'hub.db'}"
    store = InboxStore(tmp_path / "state" / "store.db")  # the CLI's database (--state-dir)
    urgent, normal = make_alert(urgent=True), make_alert(minutes=5)
    store.add_many([normal, urgent])
    store.close()

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["inbox", *args], catch_exceptions=False)

    listed = run("list", "--team", "team-a", "--state-dir", str(tmp_path / "state"))
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith(urgent.alert_id) and "URGENT" in lines[0]
    assert lines[1].startswith(normal.alert_id) and lines[-1] == "2 alert(s)"
    close = ["close", urgent.alert_id, "--outcome", "picked-up", "--note", "huisbezoek gepland",
             "--bus", bus, "--state-dir", str(tmp_path / "state")]
    first = run(*close)
    assert first.exit_code == 0 and "published PICKED_UP to outcomes.v1" in first.output
    second = run(*close)  # again: still closed, the same outcome published again
    assert "already closed" in second.output and "published" in second.output
    clash = run(*close[:3], "not-picked-up", "--bus", bus, "--state-dir", str(tmp_path / "state"))
    assert clash.exit_code != 0 and "already closed" in clash.output
    other = run("close", normal.alert_id, "--outcome", "closed", "--bus", bus,
                "--state-dir", str(tmp_path / "state"))
    assert "nothing is told to the source" in other.output
    with connect(Settings(bus=bus)) as conn:
        records = [conn.serde.decode(v).record for _, v in read_all(conn, OUTCOMES)]
    assert [str(r["alert_id"]) for r in records] == [urgent.alert_id, urgent.alert_id]
    assert records[0]["outcome_id"] == records[1]["outcome_id"]  # consumers drop the repeat
    json_out = run("list", "--team", "team-a", "--state-dir", str(tmp_path / "state"),
                   "--status", "closed", "--json")
    assert [json.loads(x)["outcome"] for x in json_out.output.splitlines()] == [
        "PICKED_UP", "CLOSED"]


@pytest.mark.kafka
@pytest.mark.registry
def test_docs_decode_reads_the_team_topic_with_plain_kafka_python(
    kafka_bootstrap: str, apicurio_url: str
) -> None:
    from kafka import KafkaConsumer

    team = f"team-{uuid.uuid4().hex[:8]}"
    alert = make_alert(team, urgent=True)
    settings = Settings(bus=f"kafka://{kafka_bootstrap}", registry_url=apicurio_url)
    with connect(settings) as conn:
        conn.bus.create_topic(TopicSpec(alerts_topic(team), 3))
        produce_alerts(conn, team, [alert])
    snippet = doc_snippet("team-topic-decode")
    snippet["REGISTRY"] = apicurio_url
    consumer = KafkaConsumer(
        alerts_topic(team), bootstrap_servers=kafka_bootstrap, group_id=f"{team}-case-system",
        enable_auto_commit=False, auto_offset_reset="earliest", consumer_timeout_ms=30_000,
    )
    record: dict[str, Any] | None = None
    try:
        for message in consumer:  # as in the docs, but stop after the first
            record = snippet["decode"](message.value)
            break
    finally:
        consumer.close()
    assert record is not None and str(record["alert_id"]) == alert.alert_id
    assert TeamAlert.from_avro(record) == alert
