"""The pure evaluator and the router's batch function: same-batch signals of one person
count as earlier signals; the evaluator needs no bus; ``signalhub explain`` creates
nothing."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from hub.bus.base import Record
from hub.cli import main
from hub.config import load_config
from hub.connect import connect
from hub.consent import ConsentCheck, ConsentStatus
from hub.events import YouthCareExit
from hub.router import Router
from hub.routing import Evaluator, NoConsents, NoHistory
from hub.samples import sample_debt
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS, alerts_topic
from tests.router_cases import CASES

EXAMPLES = Path(__file__).parent.parent / "examples"
PERSON = "ps1-" + "3c" * 20
OTHER = "ps1-" + "4d" * 20


def _debt(rng: random.Random, subject: str) -> dict[str, object]:
    signal = sample_debt(rng, subject_ref=subject).to_avro()
    signal.update({"event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                   "postcode": "7512AB", "house_number": 14, "objection_recorded": False})
    return signal


def test_signals_of_one_person_in_one_batch_count_each_other(tmp_path: Path) -> None:
    rng = random.Random(9)
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn:
        router = Router(conn, load_config(EXAMPLES / "hub.yaml"), tmp_path / "state",
                        group="router-batch")
        router.ensure_topics()
        topic = SIGNAL_TOPICS["debt-signal"]
        signals = [_debt(rng, s) for s in (PERSON, OTHER, PERSON, PERSON)]
        conn.bus.produce([Record(topic, conn.serde.encode(topic, "DebtSignal", s),
                                 str(s["subject_ref"]).encode()) for s in signals])
        assert router.step(timeout=2.0) == 4  # one batch
        later = _debt(rng, PERSON)  # and one batch later: the remembered ones count
        conn.bus.produce([Record(topic, conn.serde.encode(topic, "DebtSignal", later),
                                 PERSON.encode())])
        assert router.step(timeout=2.0) == 1
        router.close()
        router.follower.close()
        reader = conn.bus.consumer("check", [alerts_topic("schuldhulp-centrum")])
        alerts = [conn.serde.decode(m.value).record for m in reader.poll(100, 2.0)]
        reader.close()
    prior = {str(a["event_id"]): a["prior_signals_180d"] for a in alerts}
    assert [prior[str(s["event_id"])] for s in [*signals, later]] == [0, 0, 1, 2, 3]


def test_the_evaluator_reads_only_the_views_it_is_given() -> None:
    evaluator = Evaluator(load_config(EXAMPLES / "hub.yaml"))
    now = datetime.now(UTC)

    class Seen:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def earlier_signals(self, subject_ref: str, event_id: str) -> int:
            self.asked.append((subject_ref, event_id))
            return 7

    class Granted:
        def check(self, subject_ref: str, purpose: str, recipient_team_id: str,
                  municipality_code: str | None, at: datetime) -> ConsentCheck:
            return ConsentCheck(ConsentStatus.VALID, "c-9", f"granted for {purpose}")

    youth = next(c for c in CASES if c.name == "youth-consent")
    # as the serde decodes it: the schema's fields only
    record = {k: v for k, v in youth.record().items() if k in YouthCareExit.model_fields}
    history = Seen()
    ev = evaluator.evaluate(youth.event_type, record, Granted(), history, now)
    assert [(d.team.id, d.reason_code, d.consent_id) for d in ev.decisions] == [
        ("jeugd-18plus", "FORWARDED", "c-9")]
    assert ev.prior_signals == 7
    assert history.asked == [(youth.subject_ref, str(record["event_id"]))]
    refused = evaluator.evaluate(youth.event_type, record, NoConsents(), NoHistory(), now)
    assert [d.reason_code for d in refused.decisions] == ["CONSENT_MISSING"]
    assert not ev.trace and not refused.trace  # only explain builds the trace


def test_explain_on_an_empty_bus_creates_nothing(tmp_path: Path) -> None:
    bus = f"embedded:{tmp_path / 'hub.db'}"
    state = tmp_path / "state"
    result = CliRunner().invoke(main, [
        "explain", "--bus", bus, "--config", str(EXAMPLES / "hub.yaml"),
        "--state-dir", str(state), "--type", "debt-signal",
        str(EXAMPLES / "signals" / "debt.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "result: FORWARD to schuldhulp-centrum" in result.output
    assert not state.exists()
    assert not (tmp_path / "hub.db").exists()  # no bus opened at all
    with connect(Settings(bus=bus)) as conn:
        assert conn.bus.list_topics() == set()
