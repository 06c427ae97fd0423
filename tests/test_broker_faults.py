"""Broker faults: the hub rides out a Kafka outage.

The whole hub (``hub.app.HubProcess``: ingest, router, sinks) runs on a broker of its own
(``restartable_kafka``); signals are posted continuously, each under an Idempotency-Key
and retried until accepted, as a source system would. Mid-stream the broker is stopped
for 30 s and started again on the same data and port. The hub must keep running; while
the broker is down ingest answers 503 with Retry-After within a few seconds (never a
500, never a hang); afterwards it accepts again, and on the signal topic and the team
topic nothing is lost or doubled (counted by event id and alert id).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import HubProcess
from hub.config import load_config
from hub.connect import connect
from hub.devtools.local_kafka import LocalKafka
from hub.router import alert_id_for
from hub.samples import sample_debt
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS, alerts_topic
from tests.router_proc import read_topics

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hub.yaml"
TEAM = "schuldhulp-centrum"  # every debt signal in the municipality's area goes there
DOWN_S = 30.0
#: how long an answer may take while the broker is down ("within a few seconds")
FAST_S = 10.0


# --- the whole hub through an outage ------------------------------------------------------


@dataclass
class Answer:
    started: float
    took: float
    status: int  # 0: no answer (connection error or client timeout)
    retry_after: str | None


@dataclass
class Poster:
    """Posts debt signals one after another, each retried (same key) until accepted."""

    url: str
    api_key: str
    answers: list[Answer] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> event id
    stop: threading.Event = field(default_factory=threading.Event)

    def payload(self, rng: random.Random) -> dict[str, Any]:
        signal = sample_debt(rng).model_dump(mode="json")
        for server_set in ("event_id", "source", "received_at"):
            signal.pop(server_set)
        signal.update(objection_recorded=False, crisis=False)
        return signal

    def run(self) -> None:
        rng = random.Random(7)
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False,
                          headers={"Authorization": f"Bearer {self.api_key}"}) as http:
            n = 0
            while not self.stop.is_set():
                key, body = f"fault-{n}", self.payload(rng)
                while not self.stop.is_set() and key not in self.accepted:
                    self._post(http, key, body)
                n += 1
                self.stop.wait(0.05)

    def _post(self, http: httpx.Client, key: str, body: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            answer = http.post("/v1/signals/debt", json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError:
            self.answers.append(Answer(started, time.monotonic() - started, 0, None))
            self.stop.wait(1.0)
            return
        self.answers.append(Answer(started, time.monotonic() - started, answer.status_code,
                                   answer.headers.get("Retry-After")))
        if answer.status_code == 202:
            self.accepted[key] = answer.json()["event_ids"][0]
        else:  # 503 (bus down), 409 (in progress): wait as told, at most 2 s here
            self.stop.wait(min(2.0, float(answer.headers.get("Retry-After", "1"))))


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalKafka]:
    from hub.devtools.kafka_for_tests import restartable_kafka

    with restartable_kafka() as kafka:
        yield kafka


def _wait(check: Any, timeout: float, what: str, explain: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out: {what}" + (f" ({explain()})" if explain else ""))
        time.sleep(0.5)


@pytest.mark.kafka
@pytest.mark.registry
@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_broker_stopped_30s_mid_stream(broker: LocalKafka, apicurio_url: str,
                                       tmp_path: Path) -> None:
    settings = Settings(bus=f"kafka://{broker.bootstrap}", registry_url=apicurio_url,
                        state_dir=tmp_path / "state")
    process = HubProcess(settings, load_config(EXAMPLE), port=0, web_port=None)
    process.start()
    poster: Poster | None = None
    feeder: threading.Thread | None = None
    try:
        assert process.sources is not None
        _, key = process.sources.add("fault-partner", "urn:nld:oin:00000009999999999001",
                                     ["debt-signal"])
        poster = Poster(process.url, key)
        feeder = threading.Thread(target=poster.run, name="poster", daemon=True)
        feeder.start()
        _wait(lambda: len(poster.accepted) >= 40, 90, "signals accepted before the outage")

        down = time.monotonic()
        broker.halt()
        time.sleep(DOWN_S)
        assert not process.stop_event.is_set(), "the hub stopped while the broker was down"
        up = time.monotonic()
        broker.start()
        at_restart = len(poster.accepted)
        _wait(lambda: len(poster.accepted) >= at_restart + 40, 120, "accepting again")
        poster.stop.set()
        feeder.join(60)

        assert not process.stop_event.is_set() and process.failure is None
        during = [a for a in poster.answers if down + 3 <= a.started and a.started + a.took < up]
        assert during, "no request was answered while the broker was down"
        assert {a.status for a in during} <= {503, 409, 0}, {a.status for a in during}
        refused = [a for a in during if a.status == 503]
        assert refused and all(a.retry_after for a in refused)
        assert max(a.took for a in during) < FAST_S, sorted(a.took for a in during)[-5:]
        assert 500 not in {a.status for a in poster.answers}

        accepted = set(poster.accepted.values())
        with connect(settings) as conn:
            def alerts() -> dict[str, Any]:
                start: dict[str, dict[int, int]] = {alerts_topic(TEAM): {}}
                return {str(r["alert_id"]): r for r in (
                    conn.serde.decode(m.value).record
                    for m in read_topics(conn.bus, start)[alerts_topic(TEAM)])}

            topic = SIGNAL_TOPICS["debt-signal"]

            def signals() -> dict[str, tuple[int, int]]:  # event id -> (partition, offset)
                return {str(conn.serde.decode(m.value).record["event_id"]): (m.partition, m.offset)
                        for m in read_topics(conn.bus, {topic: dict.fromkeys(range(3), 0)})[topic]}

            def missing() -> str:  # what a failure says: where the signals without an alert are
                lost = sorted(accepted - {str(a["event_id"]) for a in alerts().values()})
                where = signals()
                return (f"{len(lost)} of {len(accepted)} accepted signals without an alert:"
                        f" {[(i, where.get(i)) for i in lost][:10]}; router committed"
                        f" {conn.bus.committed('router', topic)},"
                        f" ends {conn.bus.end_offsets(topic)}")

            _wait(lambda: {str(a["event_id"]) for a in alerts().values()} >= accepted, 180,
                  "an alert for every accepted signal", missing)
            on_topic = set(signals())
            found = alerts()
        assert on_topic == accepted  # nothing lost, no signal under a second event id
        assert {str(a["event_id"]) for a in found.values()} == accepted  # one per signal
        assert all(alert_id == alert_id_for(str(a["event_id"]), TEAM)
                   for alert_id, a in found.items())
        assert len(found) == len(accepted)
    finally:
        if poster is not None:
            poster.stop.set()
        if feeder is not None:
            feeder.join(60)
        process.stop()
        if not broker.is_running():
            broker.start()
