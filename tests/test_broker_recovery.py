"""Recovering from broker faults and crashes, without a broker: supervision of the hub's
components, retries whose first attempt's outcome is unknown, reservations of a process
that died."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hub.bus.base import Record
from hub.connect import Connection
from hub.errors import BusUnavailable, ConfigError, InFlight, KeyReused
from hub.idempotency import IdempotencyStore
from hub.supervisor import Supervisor
from hub.topics import SIGNAL_TOPICS
from tests.test_http_ingest import FlakyBus, debt, read_topics, running, valid_bsn

_ROOT = Path(__file__).resolve().parent.parent


_PRODUCE_WITHOUT_BROKER = """
import socket, time
from hub.bus.base import Record
from hub.bus.kafka import KafkaBus
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]  # nothing listens there
bus = KafkaBus(f"127.0.0.1:{port}")
started = time.monotonic()
try:
    bus.produce([Record("signals.debt.v1", b"x")])
except Exception as exc:
    print(type(exc).__name__, round(time.monotonic() - started, 1))
"""


def test_produce_without_a_broker_is_unavailable_within_seconds() -> None:
    """No broker at all: BusUnavailable (ingest: 503) after the bounded wait, not 30 s.
    (In a process of its own: kafka-python leaves a failed bootstrap's sockets open.)"""
    done = subprocess.run([sys.executable, "-c", _PRODUCE_WITHOUT_BROKER], check=True,
                          capture_output=True, text=True, timeout=60, cwd=_ROOT)
    error, seconds = done.stdout.split()
    assert error == "BusUnavailable" and float(seconds) < 10


class Flaky:
    """A component that fails ``failures`` times with ``error``, then runs until stopped."""

    built = 0

    def __init__(self, stop: threading.Event, error: Exception, failures: int) -> None:
        self.stop, self.error, self.failures = stop, error, failures
        self.closed = False
        Flaky.built += 1
        self.number = Flaky.built

    def run(self) -> None:
        if self.number <= self.failures:
            raise self.error
        self.stop.wait()


def _supervise(error: Exception, failures: int) -> tuple[Supervisor[Flaky], list[Flaky],
                                                        list[BaseException]]:
    Flaky.built = 0
    stop, made, fatal = threading.Event(), [], []

    def build() -> Flaky:
        made.append(Flaky(stop, error, failures))
        return made[-1]

    def close(c: Flaky) -> None:
        c.closed = True

    def on_fatal(exc: BaseException) -> None:
        fatal.append(exc)
        stop.set()

    supervisor = Supervisor("flaky", build, Flaky.run, close, stop, on_fatal, initial=0.05)
    return supervisor, made, fatal


def test_a_component_failing_on_the_bus_is_restarted_and_the_hub_goes_on() -> None:
    supervisor, made, fatal = _supervise(BusUnavailable("no broker"), failures=3)
    with capture_logs() as logs:
        supervisor.start()
        deadline = time.monotonic() + 10
        while len(made) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.1)
        assert not supervisor.stop.is_set() and not fatal  # the 4th instance runs
        assert supervisor.restarts == 3 and supervisor.current is made[3]
        assert all(c.closed for c in made[:3])  # a failed instance is closed, then rebuilt
        supervisor.stop.set()
        supervisor.join(5)
    assert made[3].closed and supervisor.current is None
    failed = [e for e in logs if e["event"] == "component failed; restarting"]
    assert [e["error"] for e in failed] == ["BusUnavailable"] * 3
    assert [e["retry_in"] for e in failed] == [0.05, 0.1, 0.2]  # backoff


def test_a_bug_is_restarted_too_but_a_configuration_error_ends_the_hub() -> None:
    supervisor, made, fatal = _supervise(RuntimeError("bug"), failures=1)
    supervisor.start()
    deadline = time.monotonic() + 10
    while len(made) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not fatal and supervisor.restarts == 1
    supervisor.stop.set()
    supervisor.join(5)

    supervisor, made, fatal = _supervise(ConfigError("bad hub.yaml"), failures=1)
    with capture_logs() as logs:
        supervisor.start()
        supervisor.join(5)
    assert [type(e) for e in fatal] == [ConfigError] and supervisor.stop.is_set()
    assert len(made) == 1 and made[0].closed and supervisor.restarts == 0
    assert any(e["event"].startswith("component stopped: configuration error") for e in logs)


class LostAnswerBus(FlakyBus):
    """The records reach the bus, but the acknowledgement is lost (a broker that went
    away after writing): the publish outcome is unknown to the caller."""

    lose = False

    def produce(self, records: Iterable[Record]) -> list[tuple[int, int]]:
        out = self.inner.produce(records)
        if self.lose:
            raise BusUnavailable("produce failed: Kafka did not answer in time")
        return out


def test_a_retry_after_an_unknown_outcome_publishes_the_same_event_id(
        conn: Connection, tmp_path: Path) -> None:
    bus = LostAnswerBus(conn.bus)
    wrapped = Connection(bus, conn.registry, conn.serde)
    body = debt(valid_bsn(random.Random()))  # no event_id: the hub makes it
    topic = SIGNAL_TOPICS["debt-signal"]
    # (the session's broker may hold other tests' signals)
    before = conn.bus.end_offsets(topic) if topic in conn.bus.list_topics() else {}
    with running(wrapped, tmp_path) as api, api.client(**{"Idempotency-Key": "k-1"}) as http:
        bus.lose = True
        first = http.post("/v1/signals/debt", json=body)
        assert first.status_code == 503 and first.headers["Retry-After"]
        bus.lose = False
        retry = http.post("/v1/signals/debt", json=body)
        assert retry.status_code == 202, retry.text
    on_topic = [m for m in read_topics(conn.bus, [topic]) if m.offset >= before.get(m.partition, 0)]
    assert len(on_topic) == 2  # published twice ...
    assert {m.header("ce_id") for m in on_topic} == {  # ... under one event id
        retry.json()["event_ids"][0].encode()}


_DIE_HOLDING = """
import os, sys
from hub.idempotency import IdempotencyStore
store = IdempotencyStore(sys.argv[1])
store.begin("s", {"request:k": "fp-1", "event:e": "c-1"})
os._exit(9)  # killed while publishing: never completes, never releases
"""


def test_reservations_of_a_killed_process_are_free_at_once(tmp_path: Path) -> None:
    path = tmp_path / "idem.db"
    subprocess.run([sys.executable, "-c", _DIE_HOLDING, str(path)], check=False,
                   timeout=60, cwd=_ROOT)
    with IdempotencyStore(path, pending_timeout=3600) as store:  # not after a minute: now
        assert store.begin("s", {"request:k": "fp-1"}) == {}
        with pytest.raises(InFlight):  # held by this (live) process now
            store.begin("s", {"request:k": "fp-1"})
    subprocess.run([sys.executable, "-c", _DIE_HOLDING, str(tmp_path / "b.db")],
                   check=False, timeout=60, cwd=_ROOT)
    with IdempotencyStore(tmp_path / "b.db", pending_timeout=3600) as store:
        with pytest.raises(KeyReused):  # its first request may have been published
            store.begin("s", {"request:k": "fp-2"})
        assert store.begin("s", {"event:e": "c-1"}) == {}
