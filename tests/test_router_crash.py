"""Crash safety of the router: a `signalhub router` subprocess is SIGKILLed at random
points while a few thousand signals arrive, restarted each time, and finally drained and
stopped with SIGTERM. Nothing may be lost: every signal ends as the decisions
``Router.evaluate`` predicts (or as the predicted dead letter), every expected alert is
on its team topic, and replays only ever repeat an output (same alert id, same decision).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.bus.base import Bus, Record
from hub.config import load_config
from hub.connect import Connection, connect
from hub.events import ConsentAction, ConsentChange
from hub.router import Router, alert_id_for
from hub.samples import sample_consent, sample_debt, sample_eviction, sample_youth_exit
from hub.topics import AUDIT, CONSENT, DEADLETTER, SIGNAL_TOPICS, alerts_topic
from tests.router_proc import (
    EXAMPLE,
    RECORD_NAMES,
    RouterProcesses,
    committed_total,
    end_offsets,
    read_topics,
    settings_for,
    start_group_at_end,
    total_lag,
    wait_until,
)

pytestmark = pytest.mark.slow

SEED = 20_240_611
N_SIGNALS = 2_400
N_GARBAGE = 6
CHUNK = 40
#: pause between chunks: production spans the kills (slower restarts on Kafka)
CHUNK_PAUSE_S = {"embedded": 0.25, "kafka": 0.45}
#: SIGKILLs per mode: each restart on Kafka waits ~10 s for the killed member's session
#: to expire before the group rebalances, so fewer there
KILLS = {"embedded": 6, "kafka": 4}
DEBT, EVICTION, YOUTH = "debt-signal", "eviction-risk", "youth-care-exit"
SIGNAL_TOPIC_NAMES = list(SIGNAL_TOPICS.values())
MODES = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.registry])]


@dataclass
class Signal:
    event_type: str
    record: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.record["event_id"])

    @property
    def key(self) -> bytes:
        return str(self.record["subject_ref"]).encode()


@dataclass
class Expected:
    """What must come out for one signal."""

    dead_letter: str | None  # reason code, or None when routed
    decisions: set[tuple[str | None, str, str]]  # (team, outcome, reason code)
    alert_ids: set[str]


def make_signals(rng: random.Random) -> tuple[list[Signal], list[ConsentChange]]:
    """A realistic mix: ~40 % debt, ~35 % eviction, ~25 % youth; ~5 % outside every
    area, ~3 % invalid (a few with an empty subject_ref); consents for about half the
    youth subjects (some withdrawn) and for some eviction subjects at the consent-based
    stages."""
    signals: list[Signal] = []
    consents: list[ConsentChange] = []
    day = timedelta(days=1)
    now = datetime.now(UTC).replace(microsecond=0)
    for _ in range(N_SIGNALS):
        roll = rng.random()
        if roll < 0.40:
            etype, record = DEBT, sample_debt(rng).to_avro()
        elif roll < 0.75:
            etype, record = EVICTION, sample_eviction(rng).to_avro()
        else:
            etype, record = YOUTH, sample_youth_exit(rng).to_avro()
        fault = rng.random()
        if fault < 0.05:
            record["postcode"] = f"10{rng.randint(11, 99)}AB"  # no municipality covers it
        elif fault < 0.053:
            record["subject_ref"] = ""  # invalid; once made the router crash on every replay
        elif fault < 0.08:
            if etype == YOUTH:
                record["planned_end_date"] = record["turns_18_on"] - 400 * day
            else:
                record["arrears_amount_cents"] = -rng.randint(1, 10_000)
        elif etype == DEBT and rng.random() < 0.05:
            record["objection_recorded"] = True
        subject = str(record["subject_ref"])
        if not subject:
            pass
        elif etype == YOUTH and rng.random() < 0.5:
            grant = sample_consent(subject, "jeugd-18plus", rng).model_copy(
                update={"valid_from": now - 30 * day}
            )
            consents.append(grant)
            if rng.random() < 0.15:
                consents.append(
                    grant.model_copy(
                        update={
                            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                            "action": ConsentAction.WITHDRAWN,
                            "recorded_at": now,
                        }
                    )
                )
        elif etype == EVICTION and record["stage"] in ("SUMMONS", "JUDGMENT") and (
            rng.random() < 0.5
        ):
            consents.append(
                sample_consent(subject, "GM9999", rng).model_copy(
                    update={"purpose": "eviction-prevention", "valid_from": now - 30 * day}
                )
            )
        signals.append(Signal(etype, record))
    return signals, consents


def expectations(router: Router, conn: Connection, encoded: dict[str, bytes],
                 signals: list[Signal]) -> dict[str, Expected]:
    """Router.evaluate on each signal as the router will decode it."""
    now = datetime.now(UTC)
    out: dict[str, Expected] = {}
    for s in signals:
        record = conn.serde.decode(encoded[s.event_id]).record
        ev = router.evaluate(s.event_type, record, now)
        if ev.rejected is not None:
            code = ev.rejected.reason_code
            out[s.event_id] = Expected(code, {(None, "DEAD_LETTERED", code)}, set())
            continue
        assert ev.decisions, "the example configuration has a policy for every type"
        out[s.event_id] = Expected(
            None,
            {(d.team.id, "FORWARDED" if d.forwarded else "REFUSED", d.reason_code)
             for d in ev.decisions},
            {alert_id_for(s.event_id, d.team.id) for d in ev.decisions if d.forwarded},
        )
    return out


class Producer(threading.Thread):
    """Produces the signals (and some bytes that are not Avro) in small chunks."""

    def __init__(self, conn: Connection, records: list[Record], pause: float) -> None:
        super().__init__(name="signal-producer", daemon=True)
        self.pause = pause
        self.conn = conn
        self.records = records
        self.error: BaseException | None = None
        self.placed: list[tuple[int, int]] = []

    def run(self) -> None:
        try:
            for start in range(0, len(self.records), CHUNK):
                self.placed += self.conn.bus.produce(self.records[start:start + CHUNK])
                time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            self.error = exc


def _kill_cycle(routers: RouterProcesses, bus: Bus, group: str, producer: Producer,
                strategy: str, rng: random.Random) -> str:
    """Start a router, let it commit a batch, SIGKILL it; describe what happened."""
    proc = routers.start()
    base = committed_total(bus, group, SIGNAL_TOPIC_NAMES)

    def progressed() -> bool:
        if committed_total(bus, group, SIGNAL_TOPIC_NAMES) > base:
            return True
        return not producer.is_alive() and total_lag(bus, group, SIGNAL_TOPIC_NAMES) == 0

    wait_until(progressed, 60, "the router to commit a batch", alive=proc)
    first_commit = time.monotonic()
    if strategy == "timer":
        time.sleep(rng.uniform(0.3, 2.0))
    else:
        outputs = sum(bus.end_offsets(AUDIT).values())
        deadline = time.monotonic() + rng.uniform(2.0, 4.0)
        while sum(bus.end_offsets(AUDIT).values()) == outputs and time.monotonic() < deadline:
            time.sleep(0.001)
    assert proc.alive(), routers.logs()[-4000:]
    proc.kill()
    return (f"router {proc.index}: {strategy} kill {time.monotonic() - first_commit:.2f}s"
            f" after its first commit (up {time.monotonic() - proc.started:.1f}s)")


def _stopped_counts(stdout: str) -> dict[str, int]:
    """The counts the router prints when it stops (``router stopped: {...}``)."""
    lines = [x for x in stdout.splitlines() if x.startswith("router stopped: ")]
    assert lines, f"the router did not report its stop: {stdout[-2000:]!r}"
    counts: dict[str, int] = json.loads(lines[-1].removeprefix("router stopped: "))
    return counts


@pytest.mark.parametrize("mode", MODES)
def test_router_survives_sigkill(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = settings_for(mode, request, tmp_path)
    t0 = time.monotonic()
    rng = random.Random(SEED)
    kill_rng = random.Random(SEED + 1)
    group = f"router-crash-{uuid.uuid4().hex[:10]}"
    teams = [t.id for t in load_config(EXAMPLE).teams]
    watched = [AUDIT, DEADLETTER, *(alerts_topic(t) for t in teams)]

    with connect(settings) as conn, connect(settings) as producer_conn:
        expect = Router(conn, load_config(EXAMPLE), tmp_path / "expect-state",
                        group=f"{group}-expect")
        try:
            expect.ensure_topics()
            start = end_offsets(conn.bus, watched)
            start_group_at_end(conn.bus, group, SIGNAL_TOPIC_NAMES)

            signals, consents = make_signals(rng)
            # as publish_consent does it (keyed by consent id), in one produce call
            conn.bus.produce(
                Record(CONSENT, conn.serde.encode_model(CONSENT, c), c.consent_id.encode())
                for c in consents
            )
            expect.follower.catch_up()
            encoded = {
                s.event_id: conn.serde.encode(
                    SIGNAL_TOPICS[s.event_type], RECORD_NAMES[s.event_type], s.record)
                for s in signals
            }
            expected = expectations(expect, conn, encoded, signals)
        finally:
            expect.follower.close()
            expect.close()

        records = [Record(SIGNAL_TOPICS[s.event_type], encoded[s.event_id], s.key)
                   for s in signals]
        garbage_at = sorted(rng.sample(range(len(records)), N_GARBAGE))
        for n, i in enumerate(garbage_at):
            topic = SIGNAL_TOPIC_NAMES[n % 3]
            records.insert(i + n, Record(topic, b"not avro at all " + bytes([n]), b"garbage"))
        garbage = [r for r in records if r.key == b"garbage"]

        env = {"HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": "INFO",
               # a SIGKILLed member leaves the embedded group after this many seconds
               "HUB_EMBEDDED__SESSION_TIMEOUT": "3"}
        producer = Producer(producer_conn, records, CHUNK_PAUSE_S[mode])
        t_kills = time.monotonic()
        bus = conn.bus
        cycles: list[str] = []
        with RouterProcesses(settings, tmp_path / "state", tmp_path / "logs", group=group,
                             env=env) as routers:
            try:
                producer.start()
                for i in range(KILLS[mode]):
                    # alternate: a random delay after the first commit, and "the moment a
                    # batch's outputs appear" (between produce and commit: a replay)
                    strategy = "timer" if i % 2 == 0 else "on-output"
                    cycles.append(_kill_cycle(routers, bus, group, producer, strategy,
                                              kill_rng))
            finally:
                producer.join(timeout=120)
            assert producer.error is None, producer.error
            assert len(producer.placed) == len(records)

            t_final = time.monotonic()
            final = routers.start()
            wait_until(lambda: "router started" in final.logs(), 60, "the final router",
                       alive=final)
            wait_until(lambda: total_lag(bus, group, SIGNAL_TOPIC_NAMES) == 0, 120,
                       "the final router to drain the signal topics", alive=final)
            rc = final.terminate()
            assert rc == 0, routers.logs()[-4000:]
            final_counts = _stopped_counts(final.stdout.read_text())

        garbage_origins = {
            (r.topic, *placed)
            for r, placed in zip(records, producer.placed, strict=True) if r.key == b"garbage"
        }
        assert len(garbage_origins) == len(garbage)

        t_read = time.monotonic()
        read = read_topics(bus, start)
        t_done = time.monotonic()
        audit: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in read[AUDIT]:
            rec = conn.serde.decode(m.value).record
            if rec["event_id"] is not None and str(rec["event_id"]) in expected:
                audit[str(rec["event_id"])].append(rec)
        alerts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        alerts_raw = 0
        for team in teams:
            topic = alerts_topic(team)
            for m in read[topic]:
                rec = conn.serde.decode(m.value).record
                if str(rec["event_id"]) in expected:
                    assert rec["team_id"] == team
                    assert m.header("ce_id") == str(rec["alert_id"]).encode()
                    alerts[str(rec["alert_id"])].append(rec)
                    alerts_raw += 1
        dead: dict[str, list[dict[str, Any]]] = defaultdict(list)
        dead_by_origin: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
        for m in read[DEADLETTER]:
            rec = conn.serde.decode(m.value).record
            dead_by_origin[(rec["topic"], rec["partition"], rec["offset"])].append(rec)
            if rec["event_id"] is not None and str(rec["event_id"]) in expected:
                dead[str(rec["event_id"])].append(rec)

    # -- every signal accounted for exactly once (after de-duplication) --------------------
    problems: list[str] = []
    expected_alerts: dict[str, str] = {}
    for event_id, exp in expected.items():
        records_of = audit.get(event_id, [])
        got = {(r["team_id"], r["outcome"], r["reason_code"]) for r in records_of}
        if got != exp.decisions:
            problems.append(f"{event_id}: decisions {sorted(map(str, got))}"
                            f" != expected {sorted(map(str, exp.decisions))}")
            continue
        for r in records_of:
            want = (alert_id_for(event_id, r["team_id"])
                    if r["outcome"] == "FORWARDED" else None)
            if (None if r["alert_id"] is None else str(r["alert_id"])) != want:
                problems.append(f"{event_id}: processing record names alert {r['alert_id']}")
        if exp.dead_letter is not None:
            reasons = {d["reason_code"] for d in dead.get(event_id, [])}
            if reasons != {exp.dead_letter}:
                problems.append(f"{event_id}: dead letters {reasons} != {exp.dead_letter}")
        elif event_id in dead:
            problems.append(f"{event_id}: routed and dead-lettered")
        for alert_id in exp.alert_ids:
            expected_alerts[alert_id] = event_id
    missing_alerts = set(expected_alerts) - set(alerts)
    extra_alerts = set(alerts) - set(expected_alerts)
    assert not problems, f"{len(problems)} signal(s) wrong, e.g.:\n" + "\n".join(problems[:20])
    assert not missing_alerts, f"{len(missing_alerts)} alert(s) lost"
    assert not extra_alerts, f"{len(extra_alerts)} alert(s) nobody expected"
    for alert_id, copies in alerts.items():
        assert str(copies[0]["event_id"]) == expected_alerts[alert_id]
        same = {(c["team_id"], str(c["event_id"]), tuple(sorted(c["fields"].items())),
                 c["urgency"], c["due_date"]) for c in copies}
        assert len(same) == 1, f"duplicates of alert {alert_id} differ: {same}"
    for origin in garbage_origins:
        assert {d["reason_code"] for d in dead_by_origin[origin]} == {"NOT_WIRE_FORMAT"}, origin

    # -- what the kills cost: raw duplicates (replays), reported, not asserted -------------
    audit_raw = sum(len(v) for v in audit.values())
    audit_unique = sum(
        len({(r["team_id"], r["outcome"], r["reason_code"]) for r in v}) for v in audit.values()
    )
    dead_raw = sum(len(v) for v in dead.values()) + sum(
        len(dead_by_origin[o]) for o in garbage_origins)
    dead_unique = len(dead) + len(garbage_origins)
    outcome_counts = Counter(
        (outcome, code) for exp in expected.values() for _, outcome, code in exp.decisions)
    elapsed = time.monotonic() - t0
    report = [
        f"[{mode}] {len(signals)} signals + {len(garbage)} garbage,"
        f" {len(consents)} consent changes, {len(cycles)} SIGKILLs, {elapsed:.1f}s"
        f" (set-up {t_kills - t0:.1f}s, kills {t_final - t_kills:.1f}s, final router"
        f" {t_read - t_final:.1f}s, reading {t_done - t_read:.1f}s)",
        *(f"  {c}" for c in cycles),
        f"  expected: {dict(sorted(outcome_counts.items()))}",
        f"  audit.v1: {audit_raw} records, {audit_unique} unique decisions,"
        f" {audit_raw - audit_unique} duplicates",
        f"  alerts: {alerts_raw} records, {len(alerts)} unique alert ids,"
        f" {alerts_raw - len(alerts)} duplicates",
        f"  dead letters: {dead_raw} records, {dead_unique} unique,"
        f" {dead_raw - dead_unique} duplicates",
        f"  final router: {final_counts}",
    ]
    print("\n".join(report))
