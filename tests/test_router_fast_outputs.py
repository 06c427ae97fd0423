"""The router's fast output path: TeamAlert/ProcessingRecord built with model_construct
(and encoded with the flat to_avro) are the records full validation would give, byte for
byte; the batch history lookup counts like the per-signal one."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest

from hub.bus.base import Record
from hub.config import Condition, load_config
from hub.connect import connect
from hub.consent import ConsentCheck, publish_consent
from hub.consent.model import ConsentStatus
from hub.errors import SignalRejected
from hub.events import AvroModel, ProcessingRecord, TeamAlert, _plain, encode_avro
from hub.policy import decide, matches
from hub.router import Router
from hub.router_state import RouterState
from hub.schemas import parsed_schema
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS
from hub.validation import validate_signal
from tests.router_cases import CASES

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
_NAMES = {"debt-signal": "DebtSignal", "eviction-risk": "EvictionRisk",
          "youth-care-exit": "YouthCareExit"}


def _old_encoding(model: AvroModel) -> bytes:
    """How models were encoded before the flat to_avro: the recursive model_dump walk."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed_schema(model.avro_name), _plain(model.model_dump()))
    return buffer.getvalue()


def test_fast_outputs_validate_and_encode_as_before(tmp_path: Path) -> None:
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}")
    with connect(settings) as conn:
        router = Router(conn, load_config(EXAMPLE), tmp_path / "state", group="router-fast")
        router.ensure_topics()
        for case in CASES:
            for change in case.consent_changes():
                publish_consent(conn.bus, conn.serde, change)
        # every case twice (different event ids): the second time the outputs are built
        # the fast way, the configuration values having validated the first time
        records = []
        for _ in range(2):
            for case in CASES:
                topic = SIGNAL_TOPICS[case.event_type]
                records.append(Record(topic, conn.serde.encode(
                    topic, _NAMES[case.event_type], case.record()), case.subject_ref.encode()))
        conn.bus.produce(records)
        built: list[AvroModel] = []
        encode_model = conn.serde.encode_model

        def capture(topic: str, model: Any) -> bytes:
            built.append(model)
            return encode_model(topic, model)

        conn.serde.encode_model = capture  # type: ignore[method-assign]
        router.follower.catch_up()
        events = []
        while len(events) < len(records):
            batch = router.reader.poll(1000, 2.0)
            assert batch, "signals not read back"
            events += batch
        out, _ = router.process(events)
        router.close()
        # the same batch through a router that validates every output: the same records
        slow = Router(conn, load_config(EXAMPLE), tmp_path / "slow", group="router-slow")
        slow._trusted = lambda **config: False  # type: ignore[method-assign]
        conn.serde.encode_model = encode_model  # type: ignore[method-assign]
        slow.follower.catch_up()
        slow_out, _ = slow.process(events)
        slow.close()
        assert _comparable(conn, out) == _comparable(conn, slow_out)
    assert out and router._valid_config
    outputs = [m for m in built if isinstance(m, TeamAlert | ProcessingRecord)]
    assert any(isinstance(m, TeamAlert) for m in outputs)
    assert len(outputs) > len(router._valid_config)  # most were built the fast way
    for model in outputs:
        again = type(model).model_validate(model.model_dump())
        assert again == model
        assert model.to_avro() == _plain(model.model_dump())
        assert encode_avro(model) == _old_encoding(model) == encode_avro(again)


_VARYING = {"trace_id", "span_id", "start_time", "end_time", "created_at", "failed_at"}


def _comparable(conn: Any, records: list[Record]) -> list[tuple[str, Any, Any]]:
    """Topic, key and decoded value of each record, without the per-run values."""
    out = []
    for r in records:
        if r.topic.startswith(("alerts.", "audit")):
            value = {k: v for k, v in conn.serde.decode(r.value).record.items()
                     if k not in _VARYING}
        else:
            value = len(r.value or b"")
        out.append((r.topic, r.key, value))
    return out


def test_flat_to_avro_matches_the_model_dump_walk() -> None:
    now = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    alert = TeamAlert(
        alert_id="6F1C8F0E-3B7A-4F55-9A43-5E1D2C7B9A10", event_id=(
            "6f1c8f0e-3b7a-4f55-9a43-5e1d2c7b9a11"), event_type="debt-signal",
        team_id="team-a", municipality_code="gm0363", subject_ref="ps1-" + "1" * 40,
        urgency="URGENT",
        due_date=now.date(), fields={"a": "b"}, prior_signals_180d=3,
        legal_basis="consent", created_at=now, trace_id="a" * 32, source="energy-co")
    assert alert.to_avro() == _plain(alert.model_dump())
    assert encode_avro(alert) == _old_encoding(alert)


def test_earlier_signals_many_counts_like_earlier_signals(tmp_path: Path) -> None:
    state = RouterState(tmp_path / "state.db", history_days=180)
    now = datetime.now(UTC)
    state.remember([
        ("e1", "s1", now - timedelta(days=1)),
        ("e2", "s1", now - timedelta(days=2)),
        ("e3", "s1", now - timedelta(days=400)),
        ("e4", "s2", now),
    ])
    asked = [("s1", "e9"), ("s1", "e1"), ("s2", "e4"), ("s3", "e5"), ("s2", "e6"), ("s1", "e9")]
    assert state.earlier_signals_many(asked, now) == [
        state.earlier_signals(s, now, e) for s, e in asked
    ] == [2, 1, 0, 0, 1, 2]
    assert state.earlier_signals_many([], now) == []
    state.close()


@pytest.mark.parametrize("values,value,expected", [
    (["true"], True, True), ([True], True, True), ([False], True, False),
    (["*"], "x", True), ([3], 3, True), (["A", "B"], "C", False),
])
def test_matches_with_cached_values(values: list[Any], value: Any, expected: bool) -> None:
    condition = Condition(field="f", values=values)
    for _ in range(2):
        assert matches(condition, {"f": value}) is expected
    assert matches(condition, {}) is False


def test_decide_without_explain_is_the_same_decision() -> None:
    config = load_config(EXAMPLE)
    today = datetime.now(UTC).date()
    answers = [ConsentCheck(ConsentStatus.VALID, "c-1", "ok"),
               ConsentCheck(ConsentStatus.MISSING, None, "none")]
    compared = 0
    for case in CASES:
        policy = config.policies.get(case.event_type)  # type: ignore[call-overload]
        try:
            data = validate_signal(case.event_type, case.record()).model_dump()
        except SignalRejected:
            continue
        for team in config.teams:
            for answer in answers:
                def consent(purpose: str, team: Any, answer: ConsentCheck = answer) -> ConsentCheck:
                    return answer
                full = decide(policy, case.event_type, data, team, consent, today)
                quiet = decide(policy, case.event_type, data, team, consent, today,
                               explain=False)
                assert full.trace and not quiet.trace
                assert quiet == dataclasses.replace(full, trace=())
                compared += 1
    assert compared
