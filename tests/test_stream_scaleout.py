"""Scale-out on the real Kafka broker: three router processes in one group, one of them
SIGKILLed mid-stream and a fourth started on its state directory. Every alert's
``prior_signals_180d`` is exactly the number of that person's earlier signals (the state
is partitioned like the input and moves with its partitions), and a read_committed
reader sees every alert once and one processing record per decision.

3,000 signals of 300 people, 10 each, sent in ten rounds (one signal per person per
round) so that a person's signals are spread over time and over the kill.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from hub.bus.base import Record
from hub.config import load_config
from hub.connect import connect
from hub.router import Router
from hub.samples import sample_debt
from hub.topics import AUDIT, SIGNAL_TOPICS, alerts_topic
from tests.router_proc import (
    EXAMPLE,
    RouterProcesses,
    end_offsets,
    read_topics,
    settings_for,
    start_group_at_end,
    total_lag,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.registry, pytest.mark.slow]

PEOPLE = 300
PER_PERSON = 10
ROUND_PAUSE_S = 1.5
KILL_AFTER_ROUND = 4
DEBT = SIGNAL_TOPICS["debt-signal"]


def test_three_routers_one_killed_exact_counts(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = settings_for("kafka", request, tmp_path)
    group = f"router-scale-{uuid.uuid4().hex[:8]}"
    teams = [t.id for t in load_config(EXAMPLE).teams]
    watched = [AUDIT, *(alerts_topic(t) for t in teams)]
    rng = random.Random(42)
    people = [f"ps1-{rng.getrandbits(160):040x}" for _ in range(PEOPLE)]
    rounds = [[sample_debt(rng, p).model_copy(update={"objection_recorded": False})
               for p in people] for _ in range(PER_PERSON)]
    index = {s.event_id: (s.subject_ref, r) for r, batch in enumerate(rounds) for s in batch}
    env = {"HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": "INFO"}

    with connect(settings) as conn:
        setup = Router(conn, load_config(EXAMPLE), tmp_path / "setup", group=group)
        setup.ensure_topics()
        setup.close()
        start = end_offsets(conn.bus, watched)
        start_group_at_end(conn.bus, group, list(SIGNAL_TOPICS.values()))
        fleets = [RouterProcesses(settings, tmp_path / f"state-{i}", tmp_path / f"logs-{i}",
                                  group=group, env=env) for i in range(3)]
        procs = [f.start() for f in fleets]
        try:
            for proc in procs:
                wait_until(lambda p=proc: "router started" in p.logs(), 90,  # type: ignore[misc]
                           "a router to start", alive=proc)
            error: list[BaseException] = []

            def produce() -> None:
                try:
                    for batch in rounds:
                        conn.bus.produce(
                            Record(DEBT, conn.serde.encode_model(DEBT, s),
                                   s.subject_ref.encode()) for s in batch)
                        time.sleep(ROUND_PAUSE_S)
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    error.append(exc)

            producer = threading.Thread(target=produce, daemon=True)
            t0 = time.monotonic()
            producer.start()
            time.sleep(ROUND_PAUSE_S * KILL_AFTER_ROUND)
            procs[1].kill()
            t_kill = time.monotonic()
            fourth = RouterProcesses(settings, tmp_path / "state-1", tmp_path / "logs-3",
                                     group=group, env=env)
            fleets.append(fourth)
            procs.append(fourth.start())
            producer.join(timeout=120)
            assert not error, error
            wait_until(lambda: total_lag(conn.bus, group, list(SIGNAL_TOPICS.values())) == 0,
                       180, "the routers to drain the signal topics")
            t_done = time.monotonic()
            for proc in procs:
                if proc.alive():
                    assert proc.terminate() == 0, proc.logs()[-3000:]
        finally:
            for fleet in fleets:
                fleet.__exit__(None, None, None)
        logs = "".join(f.logs() for f in fleets)
        read = read_topics(conn.bus, start)
        alerts = [conn.serde.decode(m.value).record for t in teams
                  for m in read[alerts_topic(t)]]
        audit = [conn.serde.decode(m.value).record for m in read[AUDIT]]

    ours = [a for a in alerts if str(a["event_id"]) in index]
    wrong = [(a["subject_ref"], a["prior_signals_180d"], index[str(a["event_id"])][1])
             for a in ours if a["prior_signals_180d"] != index[str(a["event_id"])][1]]
    raw, distinct = len(ours), len({str(a["alert_id"]) for a in ours})
    decisions = Counter((str(r["event_id"]), r["team_id"]) for r in audit
                        if r["event_id"] is not None and str(r["event_id"]) in index)
    per_event = defaultdict(int)
    for (event_id, _), _n in decisions.items():
        per_event[event_id] += 1
    restores = logs.count('"router state restored"')
    print(f"\nscale-out: {len(index)} signals of {PEOPLE} people; kill at"
          f" {t_kill - t0:.1f}s, drained {t_done - t0:.1f}s after the first signal;"
          f" alerts {raw} raw / {distinct} distinct; {len(wrong)} wrong counts;"
          f" processing records {sum(decisions.values())} for {len(decisions)} decisions;"
          f" {restores} partition restores logged")
    assert raw > 0
    assert not wrong, f"{len(wrong)} alert(s) with a wrong count, e.g. {wrong[:10]}"
    assert raw == distinct, f"{raw - distinct} duplicate alert(s) on the team topics"
    assert all(n == 1 for n in decisions.values()), [d for d, n in decisions.items() if n > 1][:10]
    assert set(per_event) == set(index), f"{len(set(index) - set(per_event))} signal(s) lost"
