"""How fast the partitions of a router move to another one, on both buses.

- A graceful stop (SIGTERM) leaves the group at once: the other member routes the
  partitions of the one that stopped well within the session timeout (a member that
  did not leave would hold them until its session expired).
- A killed member (SIGKILL) holds its partitions until its session expires; a router
  started in its place routes them within the session timeout plus a rebalance.
"""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import pytest

from hub.bus.base import Record
from hub.config import load_config
from hub.connect import Connection, connect
from hub.router import Router
from hub.samples import sample_debt
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS
from tests.router_proc import (
    EXAMPLE,
    RouterProcesses,
    settings_for,
    start_group_at_end,
    total_lag,
    wait_until,
)

pytestmark = pytest.mark.slow

MODES = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.registry])]
DEBT = SIGNAL_TOPICS["debt-signal"]
TOPICS = list(SIGNAL_TOPICS.values())


def _session_timeout_s(settings: Settings) -> float:
    if settings.bus.startswith("kafka"):
        return settings.kafka.session_timeout_ms / 1000
    return settings.embedded.session_timeout


def _publish(conn: Connection, rng: random.Random, n: int) -> None:
    """``n`` signals of ``n`` people: keys spread over every partition."""
    signals = [sample_debt(rng, f"ps1-{rng.getrandbits(160):040x}") for _ in range(n)]
    conn.bus.produce(Record(DEBT, conn.serde.encode_model(DEBT, s), s.subject_ref.encode())
                     for s in signals)


def _routed_within(conn: Connection, group: str, rng: random.Random, timeout: float) -> float:
    """Publish signals for every partition; seconds until the group has routed them."""
    t0 = time.monotonic()
    _publish(conn, rng, 40)
    wait_until(lambda: total_lag(conn.bus, group, TOPICS) == 0, timeout,
               "the group to route the new signals", interval=0.1)
    return time.monotonic() - t0


@pytest.mark.parametrize("mode", MODES)
def test_stop_hands_partitions_on_at_once_and_a_kill_within_the_session(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = settings_for(mode, request, tmp_path)
    session = _session_timeout_s(settings)
    group = f"router-handover-{uuid.uuid4().hex[:8]}"
    rng = random.Random(5)
    env = {"HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": "INFO"}
    with connect(settings) as conn:
        setup = Router(conn, load_config(EXAMPLE), tmp_path / "setup", group=group)
        setup.ensure_topics()
        setup.close()
        start_group_at_end(conn.bus, group, TOPICS)
        fleets = [RouterProcesses(settings, tmp_path / f"state-{i}", tmp_path / f"logs-{i}",
                                  group=group, env=env) for i in range(3)]
        try:
            first, second = fleets[0].start(), fleets[1].start()
            for proc in (first, second):
                wait_until(lambda p=proc: "router started" in p.logs(), 90,  # type: ignore[misc]
                           "a router to start", alive=proc)
            _routed_within(conn, group, rng, 120)  # both members joined and routing

            assert first.terminate() == 0, first.logs()[-3000:]
            handover = _routed_within(conn, group, rng, 60)

            second.kill()
            third = fleets[2].start()
            replaced = _routed_within(conn, group, rng, 120)
            assert third.alive(), third.logs()[-3000:]
            assert third.terminate() == 0, third.logs()[-3000:]
        finally:
            for fleet in fleets:
                fleet.__exit__(None, None, None)
    print(f"\n{mode}: after a graceful stop the partitions were routed again in"
          f" {handover:.1f} s; after a kill and a restart in {replaced:.1f} s"
          f" (session timeout {session:.0f} s)")
    assert handover < session, f"graceful stop: {handover:.1f} s, the session is {session} s"
    assert replaced < session + 20, f"kill and restart: {replaced:.1f} s"
