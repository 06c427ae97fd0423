"""A consent withdrawal is applied before any signal published after it is routed, also
when the router skips consent look-ups for a backlog an earlier one covered
(``Router.consent_for``); on both buses."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

from hub.bus.base import Record, TopicPartition
from hub.config import load_config
from hub.connect import Connection
from hub.consent import publish_consent
from hub.events import ConsentAction
from hub.router import Router
from hub.samples import sample_consent, sample_debt, sample_youth_exit
from hub.topics import AUDIT, SIGNAL_TOPICS
from tests.router_proc import start_group_at_end

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
_YOUTH_TEAM = "jeugd-18plus"


def _signal(conn: Connection, model: object, kind: str) -> Record:
    topic = SIGNAL_TOPICS[kind]
    return Record(topic, conn.serde.encode_model(topic, model),
                  model.subject_ref.encode())  # type: ignore[attr-defined]


def _youth_decisions(conn: Connection) -> dict[str, str]:
    """Reason code of each youth signal's processing record on audit.v1, by event id."""
    ends = conn.bus.end_offsets(AUDIT)
    parts = [TopicPartition(AUDIT, p) for p in ends]
    reader = conn.bus.reader(parts)
    decided: dict[str, str] = {}
    try:
        for tp in parts:
            reader.seek(tp, 0)
        deadline = time.monotonic() + 30
        while any(reader.position(tp) < ends[tp.partition] for tp in parts):
            assert time.monotonic() < deadline, "audit.v1 not read back"
            for m in reader.poll(1000, 0.5):
                record = conn.serde.decode(m.value).record
                if record.get("event_type") == "youth-care-exit" and record.get("event_id"):
                    decided[str(record["event_id"])] = str(record["reason_code"])
    finally:
        reader.close()
    return decided


def test_a_withdrawal_is_seen_by_the_signals_after_it(conn: Connection, tmp_path: Path) -> None:
    rng = random.Random(11)
    group = f"router-order-{uuid.uuid4().hex[:8]}"
    router = Router(conn, load_config(EXAMPLE), tmp_path / "state", group=group,
                    batch_size=100)
    try:
        router.ensure_topics()
        # on the session's shared broker: only what this test publishes from now on
        start_group_at_end(conn.bus, group, list(SIGNAL_TOPICS.values()))
        young = [sample_youth_exit(rng) for _ in range(3)]
        grants = [sample_consent(y.subject_ref, _YOUTH_TEAM, rng) for y in young]
        for grant in grants:
            publish_consent(conn.bus, conn.serde, grant)
        backlog = [_signal(conn, sample_debt(rng), "debt-signal") for _ in range(450)]
        backlog += [_signal(conn, y, "youth-care-exit") for y in young]
        conn.bus.produce(backlog)
        router.follower.catch_up()
        routed = 0
        while routed == 0:  # the first batch: a look-up that covers the backlog read so far
            routed = router.step(2.0)
        # published after that look-up: a withdrawal, then a signal of each young person
        for grant in grants:
            publish_consent(conn.bus, conn.serde, grant.model_copy(update={
                "action": ConsentAction.WITHDRAWN, "event_id": sample_debt(rng).event_id}))
        later = [sample_youth_exit(rng, y.subject_ref) for y in young]
        conn.bus.produce([_signal(conn, y, "youth-care-exit") for y in later])
        total = len(backlog) + len(later)
        for _ in range(200):
            if routed >= total:
                break
            routed += router.step(1.0)
        assert routed == total
        assert router.counts.get("refused:CONSENT_MISSING", 0) == 0, router.counts
        decided = _youth_decisions(conn)
        # every later signal found the consent withdrawn
        assert [decided[str(y.event_id)] for y in later] == ["CONSENT_WITHDRAWN"] * len(later)
        # (a backlog one routed before the withdrawal was forwarded, one after refused)
        assert {decided[str(y.event_id)] for y in young} <= {"FORWARDED", "CONSENT_WITHDRAWN"}
    finally:
        router.close()
        router.follower.close()
