"""The compiled signal validation (hub.fast_validation) against the pydantic models.

For records as the serde decodes them, valid and broken in many ways, the compiled
check either gives exactly what the model gives (same values, same types, same field
order) or gives up (``Unsure``), and ``validated_signal`` then answers like the model.
"""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel, ValidationError, field_validator

from hub.errors import SignalRejected
from hub.events import EVENT_TYPES
from hub.fast_validation import Unsure, compile_validator
from hub.samples import sample_debt, sample_eviction, sample_youth_exit
from hub.schemas import load_schema
from hub.validation import validated_signal

_SAMPLES = {"debt-signal": sample_debt, "eviction-risk": sample_eviction,
            "youth-care-exit": sample_youth_exit}


def _decoded(event_type: str, rng: random.Random) -> dict[str, Any]:
    """A sample as the serde would decode it (fastavro's types)."""
    model = _SAMPLES[event_type](rng)
    schema = fastavro.parse_schema(load_schema(model.avro_name))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, model.to_avro())
    buf.seek(0)
    record = fastavro.schemaless_reader(buf, schema, None)
    assert isinstance(record, dict)
    return record


def _by_model(event_type: str, record: dict[str, Any]) -> dict[str, Any] | str:
    try:
        return dict(EVENT_TYPES[event_type].model_validate(record).__dict__)
    except ValidationError as exc:
        return f"invalid: {len(exc.errors())}"


def _mutations(record: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """The record broken (or oddly typed) one field at a time."""
    odd: list[Any] = [None, "", " ", "x" * 300, "\u200b", "1234 ab", " 1234AB ", "gm 0344",
                      "0123AB", -1, 0, 1, 100_000, 2**63, True, False, 1.5, [], ["x"],
                      date(1899, 12, 31), date(2200, 1, 1), date.today(),
                      datetime(2025, 1, 1, tzinfo=UTC),
                      datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
                      datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2))),
                      datetime(2025, 1, 1), datetime(1899, 12, 31, tzinfo=UTC),
                      "2025-01-01T00:00:00Z", "2025-01-01", "ABCDEF12-0000-4000-8000-00000000000A",
                      "not-a-uuid", "ps1-" + "a" * 40, "ps1-" + "A" * 40]
    out = []
    for name in record:
        for value in odd:
            out.append({**record, name: value})
        broken = dict(record)
        del broken[name]
        out.append(broken)
    out.append({**record, "unknown_field": 1})
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("event_type", sorted(_SAMPLES))
def test_compiled_check_equals_the_model_or_gives_up(event_type: str) -> None:
    compiled = compile_validator(EVENT_TYPES[event_type])
    assert compiled is not None, "every signal model compiles"
    rng = random.Random(9)
    exact = unsure = 0
    for _ in range(5):
        record = _decoded(event_type, rng)
        fast = compiled(record)
        slow = _by_model(event_type, record)
        assert fast == slow and list(fast) == list(slow)  # type: ignore[arg-type]
        assert [type(v) for v in fast.values()] == [type(v) for v in slow.values()]  # type: ignore[union-attr]
        for broken in _mutations(record, rng):
            expected = _by_model(event_type, broken)
            try:
                got = compiled(broken)
            except Unsure:
                unsure += 1
                continue
            exact += 1
            assert got == expected, broken
            assert isinstance(expected, dict)
            assert list(got) == list(expected)
            assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert exact and unsure  # both paths taken


@pytest.mark.parametrize("event_type", sorted(_SAMPLES))
def test_validated_signal_answers_like_the_model(event_type: str) -> None:
    rng = random.Random(3)
    record = _decoded(event_type, rng)
    for broken in [record, *_mutations(record, rng)]:
        expected = _by_model(event_type, broken)
        try:
            got: dict[str, Any] | str = validated_signal(event_type, broken)
        except SignalRejected as exc:
            assert exc.reason_code == "VALIDATION_FAILED"
            got = "rejected"
        if isinstance(expected, str):
            assert got == "rejected"
        elif got != "rejected":  # (a meaning check may still refuse a valid model)
            assert got == expected


def test_models_with_what_the_compiler_does_not_know_are_not_compiled() -> None:
    class WithValidator(BaseModel):
        model_config = {"extra": "forbid"}
        name: str

        @field_validator("name")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    class Lenient(BaseModel):  # extra fields ignored, not refused
        name: str

    class Floats(BaseModel):
        model_config = {"extra": "forbid"}
        amount: float

    assert compile_validator(WithValidator) is None
    assert compile_validator(Lenient) is None
    assert compile_validator(Floats) is None
