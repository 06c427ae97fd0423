"""The Standard Webhooks receiver of docs/sinks.md, run as a program against the hub's real
deliveries: verified with one secret and during a rotation, a retry handled once, a
tampered body and an old timestamp refused; malformed secrets stop the hub at start."""

from __future__ import annotations

import base64
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from connectors.sinks.runner import SinkRunner, webhook_secrets
from connectors.sinks.webhook import Backoff, WebhookSink
from hub.bus.base import Record
from hub.cli import main
from hub.config import HubConfig, parse_config
from hub.connect import Connection, connect
from hub.deadletters import DeadLetterWriter
from hub.errors import ConfigError
from hub.events import AlertUrgency, TeamAlert
from hub.router import alert_id_for
from hub.settings import Settings
from hub.topics import alerts_topic
from hub.webhook_signing import MIN_SECRET_BYTES, new_secret, parse_secrets
from hub.webhook_targets import TargetPolicy

DOCS = Path(__file__).parent.parent / "docs" / "sinks.md"
FAST = Backoff(base=0.01, cap=0.02)
LOCAL = ["127.0.0.1"]  # the receivers listen on 127.0.0.1 over http: allow-listed
SUBJECT = "ps1-" + "3f6c1e0b9a" * 4


def receiver_code() -> str:
    """The code block after ``<!-- snippet: receiver -->`` in docs/sinks.md."""
    text = DOCS.read_text(encoding="utf-8").split("<!-- snippet: receiver -->", 1)[1]
    return text.split("```python\n", 1)[1].split("```", 1)[0]


class DocReceiver:
    """The docs' receiver as its own process, knowing ``secret``; ``handled`` lists the
    alert ids its ``handle`` printed."""

    def __init__(self, secret: str) -> None:
        env = {**os.environ, "SIGNALHUB_WEBHOOK_SECRET": secret, "PORT": "0"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", receiver_code()], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.handled: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        first = self._lines.get(timeout=30)
        assert first.startswith("listening on port"), first
        self.url = f"http://127.0.0.1:{first.split()[-1]}/signalhub"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.strip())

    def drain(self, seconds: float = 0.3) -> list[str]:
        """The alert ids handled so far, waiting ``seconds`` for stragglers."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            self.handled.append(line.split()[1])
        return self.handled

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)  # reads to the end of the closed pipe
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def start_receiver() -> Iterator[Callable[[str], DocReceiver]]:
    started: list[DocReceiver] = []

    def start(secret: str) -> DocReceiver:
        started.append(DocReceiver(secret))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as connection:
        yield connection


def make_alert(team: str = "team-a") -> TeamAlert:
    event_id = str(uuid.uuid4())
    return TeamAlert(
        alert_id=alert_id_for(event_id, team), event_id=event_id, event_type="debt-signal",
        team_id=team, municipality_code="GM9999", subject_ref=SUBJECT,
        urgency=AlertUrgency.NORMAL, due_date=None, fields={"creditor_type": "ENERGY"},
        prior_signals_180d=0, legal_basis="GDPR 6(1)(e); Wgs art. 3",
        created_at=datetime.now(UTC), trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )


def sink(conn: Connection, url: str, secret: str, **options: Any) -> WebhookSink:
    return WebhookSink(
        "team-a", url, secret, DeadLetterWriter(conn.bus, conn.serde), backoff=FAST,
        max_attempts=2, targets=TargetPolicy.from_entries(LOCAL), **options,
    )


def deliver(webhook: WebhookSink, alert: TeamAlert) -> list[Record]:
    webhook.add(alert)
    return webhook.flush()


# --- one secret ------------------------------------------------------------------------------


def test_the_docs_receiver_verifies_and_handles_a_retry_once(
    embedded: Connection, start_receiver: Callable[[str], DocReceiver]
) -> None:
    secret = new_secret()
    receiver = start_receiver(secret)
    webhook = sink(embedded, receiver.url, secret)
    alert = make_alert()
    assert deliver(webhook, alert) == []
    assert deliver(webhook, alert) == []  # at-least-once: the same alert again
    webhook.close()
    assert webhook.delivered == 2 and webhook.failed == 0
    assert receiver.drain() == [alert.alert_id]  # dropped by webhook-id the second time


class Tampering(httpx.HTTPTransport):
    """Changes the body on the way (NORMAL -> URGENT: same length), headers untouched."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read().replace(b'"urgency":"NORMAL"', b'"urgency":"URGENT"')
        assert body != request.content
        changed = httpx.Request(request.method, request.url, headers=request.headers,
                                content=body, extensions=request.extensions)
        return super().handle_request(changed)


def test_the_docs_receiver_refuses_a_tampered_body(
    embedded: Connection, start_receiver: Callable[[str], DocReceiver]
) -> None:
    secret = new_secret()
    receiver = start_receiver(secret)
    webhook = sink(embedded, receiver.url, secret, transport=Tampering())
    alert = make_alert()
    [dead] = deliver(webhook, alert)
    webhook.close()
    record = embedded.serde.decode(dead.value).record
    assert record["reason_code"] == "DELIVERY_FAILED" and "HTTP 401" in record["error_message"]
    assert record["attempts"] == 1  # a 401 is not retried
    assert receiver.drain() == []


@pytest.mark.parametrize(("offset", "verified"), [(-60, True), (-600, False), (600, False)])
def test_the_docs_receiver_refuses_an_old_timestamp(
    embedded: Connection, start_receiver: Callable[[str], DocReceiver], offset: int,
    verified: bool,
) -> None:
    """Signed correctly, but with a clock ``offset`` seconds away: five minutes is the
    receiver's tolerance (a replayed request is refused)."""
    secret = new_secret()
    receiver = start_receiver(secret)
    webhook = sink(embedded, receiver.url, secret, clock=lambda: time.time() + offset)
    alert = make_alert()
    dead = deliver(webhook, alert)
    webhook.close()
    assert (dead == []) is verified
    assert receiver.drain() == ([alert.alert_id] if verified else [])


# --- a rotation, through the runner as the hub runs it -----------------------------------


def two_teams(url_a: str, url_b: str) -> HubConfig:
    def team(name: str, url: str) -> dict[str, Any]:
        return {"id": name, "name": name, "municipality": "GM9999", "role": f"debt-{name}",
                "areas": ["7511-7548"], "event_types": ["debt-signal"],
                "deliveries": {"inbox": False,
                               "webhook": {"url": url, "secret_env": "HOOK_SECRET",
                                           "max_attempts": 2}}}

    return parse_config({
        "municipalities": [{"code": "GM9999", "name": "Voorbeeld", "areas": ["7511-7548"]}],
        "teams": [team("team-a", url_a), team("team-b", url_b)],
        "policies": {},
        "webhooks": {"allow_private": LOCAL},
    })


def restart_and_deliver(conn: Connection, config: HubConfig, environ: dict[str, str]
                        ) -> dict[str, str]:
    """Start the sink runner as the hub does (its secrets read from ``environ``), deliver
    one new alert per team and stop; the alert ids by team."""
    runner = SinkRunner(conn, config, None, webhook_secrets(config, environ), backoff=FAST)
    runner.ensure_topics()
    alerts = {team: make_alert(team) for team in ("team-a", "team-b")}
    for team, alert in alerts.items():
        topic = alerts_topic(team)
        conn.bus.produce([Record(topic, conn.serde.encode_model(topic, alert), b"k")])
    deadline = time.monotonic() + 30
    while sum(runner.handled(team)["webhook"] for team in alerts) < 2:
        assert time.monotonic() < deadline, "the runner did not deliver in time"
        runner.step(timeout=0.2)
    runner.close()
    return {team: alert.alert_id for team, alert in alerts.items()}


def test_a_rotation_step_by_step_loses_no_receiver(
    embedded: Connection, start_receiver: Callable[[str], DocReceiver]
) -> None:
    """team-a's receiver knows only the old secret, team-b's only the new one; both teams'
    webhooks use the one variable HOOK_SECRET, as docs/sinks.md's procedure changes it."""
    old, new = new_secret(), new_secret()
    on_old, on_new = start_receiver(old), start_receiver(new)
    config = two_teams(on_old.url, on_new.url)
    # before: the old secret only; the receiver on the new one refuses (it does check)
    before = restart_and_deliver(embedded, config, {"HOOK_SECRET": old})
    assert on_old.drain() == [before["team-a"]] and on_new.drain() == []
    # step 2: the new secret first, then the old one: either receiver verifies
    during = restart_and_deliver(embedded, config, {"HOOK_SECRET": f"{new}  {old}"})
    assert on_old.drain() == [before["team-a"], during["team-a"]]
    assert on_new.drain() == [during["team-b"]]
    # step 4: the old secret dropped: only a receiver on the new one verifies
    after = restart_and_deliver(embedded, config, {"HOOK_SECRET": new})
    assert on_old.drain() == [before["team-a"], during["team-a"]]
    assert on_new.drain() == [during["team-b"], after["team-b"]]


def test_rotation_signs_with_every_secret_new_first(embedded: Connection) -> None:
    """The header holds one v1 signature per secret, in the variable's order, and the
    standardwebhooks package verifies the request with each secret alone."""
    secrets = [new_secret() for _ in range(3)]
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    webhook = sink(embedded, "http://127.0.0.1:9/", " ".join(secrets),
                   transport=httpx.MockTransport(answer))
    assert deliver(webhook, make_alert()) == []
    webhook.close()
    [request] = seen
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 3 and all(s.startswith("v1,") for s in signatures)
    for position, secret in enumerate(secrets):
        alone = {**request.headers, "webhook-signature": signatures[position]}
        assert Webhook(secret).verify(request.content, alone)["alert_id"]


# --- secrets -------------------------------------------------------------------------------


def short_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(MIN_SECRET_BYTES - 1)).decode()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("a-plain-password-of-enough-length", "does not start with whsec_"),
        ("whsec_!!not*base64!!", "is not valid base64"),
        ("SHORT", "fewer than 24"),
        ("GOOD SHORT", "secret 2 of 2 has 23 bytes"),
    ],
)
def test_a_malformed_secret_stops_the_hub_at_start(
    embedded: Connection, value: str, says: str
) -> None:
    value = value.replace("SHORT", short_secret()).replace("GOOD", new_secret())
    config = two_teams("http://127.0.0.1:9/", "http://127.0.0.1:9/")
    with pytest.raises(ConfigError) as failure:
        SinkRunner(embedded, config, None, webhook_secrets(config, {"HOOK_SECRET": value}))
    message = str(failure.value)
    assert "HOOK_SECRET" in message and says in message
    assert "signalhub keys webhook-secret" in message
    assert all(word not in message for word in value.split())  # never the secret itself


def test_keys_webhook_secret_makes_a_fresh_standard_secret() -> None:
    made = [CliRunner().invoke(main, ["keys", "webhook-secret"]) for _ in range(2)]
    assert all(result.exit_code == 0 for result in made), made[0].output
    first, second = (result.output.strip() for result in made)
    assert first != second and first.startswith("whsec_")
    [key] = parse_secrets(first, "X")
    assert len(key) == 32
    Webhook(first)  # the standardwebhooks package takes it as it is
