"""The router's fast output path: alerts and processing records are plain dicts encoded
by templates, and are exactly the records the pydantic models give (they validate, and
the models encode them to the same bytes); the template writer writes what fastavro
writes; the batch history lookup counts like the per-signal one."""

from __future__ import annotations

import dataclasses
import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta
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
from hub.events import AvroModel, ProcessingRecord, TeamAlert, encode_avro
from hub.events.base import _plain
from hub.policy import decide, matches
from hub.router import ALERT_NAMESPACE, Router, alert_id_for
from hub.router_state import RouterState
from hub.routing.writer import RecordWriter
from hub.schemas import load_schema, parsed_schema
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS
from hub.validation import validated_signal
from tests.router_cases import CASES

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
_NAMES = {"debt-signal": "DebtSignal", "eviction-risk": "EvictionRisk",
          "youth-care-exit": "YouthCareExit"}
_HEADER = re.compile(r"^(ce_[a-z0-9]+|content-type|traceparent)$")


def _model_encoding(model: AvroModel) -> bytes:
    """How the models encode: the recursive model_dump walk, written by fastavro."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed_schema(model.avro_name), _plain(model.model_dump()))
    return buffer.getvalue()


def test_router_outputs_are_the_models_records_byte_for_byte(tmp_path: Path) -> None:
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}")
    with connect(settings) as conn:
        router = Router(conn, load_config(EXAMPLE), tmp_path / "state", group="router-fast")
        router.ensure_topics()
        for case in CASES:
            for change in case.consent_changes():
                publish_consent(conn.bus, conn.serde, change)
        records = []
        for n in range(2):  # every case twice, with different event ids
            for case in CASES:
                topic = SIGNAL_TOPICS[case.event_type]
                signal = case.record()
                if n:
                    signal["event_id"] = str(uuid.uuid4())
                records.append(Record(topic, conn.serde.encode(
                    topic, _NAMES[case.event_type], signal), case.subject_ref.encode()))
        conn.bus.produce(records)
        router.follower.catch_up()
        events = []
        while len(events) < len(records):
            batch = router.reader.poll(1000, 2.0)
            assert batch, "signals not read back"
            events += batch
        out, _ = router.process(events)
        router.close()
        router.follower.close()
        models: list[tuple[Record, AvroModel]] = []
        for r in out:
            if not r.topic.startswith(("alerts.", "audit")):
                continue
            decoded = conn.serde.decode(r.value)
            model = (TeamAlert if r.topic.startswith("alerts.") else ProcessingRecord
                     ).from_avro(decoded.record)  # validates
            # the model path writes the very same bytes (schema id included)
            assert conn.serde.encode_model(r.topic, model) == r.value
            assert r.value is not None and r.value[5:] == _model_encoding(model)
            models.append((r, model))
    alerts = [(r, m) for r, m in models if isinstance(m, TeamAlert)]
    audit = [m for _, m in models if isinstance(m, ProcessingRecord)]
    assert alerts and audit and any(m.due_date for _, m in alerts)
    assert any(a.prior_signals_180d == 1 for _, a in alerts)  # the second round counts
    spans = {(p.trace_id, p.span_id): p for p in audit}
    for record, alert in alerts:
        names = [k for k, _ in record.headers]
        assert all(_HEADER.match(k) for k in names), names
        headers = dict(record.headers)
        assert headers["ce_id"] == alert.alert_id.encode()
        assert headers["content-type"] == b"application/avro"
        _, trace_id, span_id, flags = headers["traceparent"].decode().split("-")
        assert trace_id == alert.trace_id and flags == "01"
        # the traceparent's span is the processing record of this forward
        assert spans[(trace_id, span_id)].alert_id == alert.alert_id


def test_template_writer_writes_what_fastavro_writes() -> None:
    when = datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    for name, values in [
        ("TeamAlert", {
            "alert_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()), "event_type": "é" * 70,
            "team_id": "t", "municipality_code": "GM0001", "subject_ref": "ps1-" + "a" * 40,
            "urgency": "URGENT", "due_date": date(1950, 1, 2),
            "fields": {"ä": "x" * 200, "b": ""}, "prior_signals_180d": 2**31 - 1,
            "legal_basis": "consent", "created_at": when, "trace_id": "f" * 32,
            "source": None}),
        ("ProcessingRecord", {
            "trace_id": "0" * 32, "span_id": "1" * 16, "parent_span_id": "2" * 16,
            "name": "n", "start_time": -1, "end_time": 2**40, "status": "ERROR",
            "processing_activity_id": "a", "data_subject_id": None,
            "data_subject_id_type": None, "outcome": "DUPLICATE_IGNORED", "reason_code": "R",
            "reason_detail": "\U0001f600", "legal_basis": None, "team_id": "t",
            "municipality_code": None, "event_id": None, "event_type": "e",
            "alert_id": str(uuid.uuid4()), "counts": {"inbox_alerts": 2**40, "sessions": 0}}),
    ]:
        writer = RecordWriter(load_schema(name))
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed_schema(name), values)
        assert writer.encode(values) == buffer.getvalue()
        fixed = dict(list(values.items())[::2])
        template = writer.template(fixed)
        assert template.encode({k: v for k, v in values.items() if k not in fixed}
                               ) == buffer.getvalue()


def test_alert_ids_are_uuid5() -> None:
    for n in range(50):
        event_id, team = str(uuid.UUID(int=n * 7919)), f"team-{n}"
        assert alert_id_for(event_id, team) == str(uuid.uuid5(ALERT_NAMESPACE,
                                                               f"{event_id}/{team}"))


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
            data = validated_signal(case.event_type, case.record())
        except SignalRejected:
            continue
        for team in config.teams:
            for answer in answers:
                def consent(purpose: str, team: Any, answer: ConsentCheck = answer) -> ConsentCheck:
                    return answer
                full = decide(policy, case.event_type, data, team, consent, today)
                quiet = decide(policy, case.event_type, data, team, consent, today,
                               explain=False)
                assert full.trace and not quiet.trace and not quiet.dropped
                # the routing path leaves out only what explain prints
                assert quiet == dataclasses.replace(full, trace=(), dropped=())
                compared += 1
    assert compared


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
    assert encode_avro(alert) == _model_encoding(alert)


def test_event_headers_are_the_headers_function() -> None:
    from hub import cloudevents

    maker = cloudevents.EventHeaders(source="urn:x", type="t.v1")
    for n in range(3):
        trace = (f"{n:032x}", f"{n:016x}")
        assert maker(id=f"id-{n}", time=f"2026-01-0{n + 1}T00:00:00+00:00", trace=trace) == (
            cloudevents.headers(id=f"id-{n}", source="urn:x", type="t.v1",
                                time=f"2026-01-0{n + 1}T00:00:00+00:00", trace=trace))
