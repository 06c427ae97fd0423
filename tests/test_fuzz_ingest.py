"""Property tests of the ingest models: ``build_signal`` and ``build_consent``.

Whatever a source sends (arbitrary JSON values; valid bodies with one field broken:
wrong types, dates at and past the edges of the calendar, long texts, characters of
every Unicode category, extra fields, nulls), the only error is an IntakeError naming
fields; whatever is accepted holds only safe text and comes back unchanged from its
Avro encoding. Every body drawn from the OpenAPI document's schema (with the rules
across fields that its description lists) is accepted.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from connectors.sources.http_models import CONSENT_FIELDS, build_consent
from hub.errors import IntakeError
from hub.events import EVENT_TYPES, AvroModel, decode_avro, encode_avro
from hub.intake import SERVER_SET, build_signal
from hub.values import TEXT_PATTERN
from tests.fuzz_payloads import (
    PSEUDONYMISER,
    URN,
    dates_in_order,
    fix_bsn,
    openapi_document,
    report,
)

#: bounded: each test at most 100 examples of at most 10 s (a few ms is usual), 120 s in all
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
_SAFE = re.compile(TEXT_PATTERN)
_DOCUMENT = openapi_document()
_SCHEMA = schemathesis.openapi.from_dict(_DOCUMENT)
_BODIES = {"debt-signal": "/v1/signals/debt", "eviction-risk": "/v1/signals/eviction",
           "youth-care-exit": "/v1/signals/youth-care-exit", "consent": "/v1/consents"}
KINDS = list(_BODIES)
_FIELDS = {kind: [f for f in EVENT_TYPES[kind].model_fields if f not in SERVER_SET] + ["bsn"]
           for kind in EVENT_TYPES} | {"consent": list(CONSENT_FIELDS)}
#: cases run, by property, body kind and outcome
CASES: Counter[str] = Counter()
_FUZZ = settings(max_examples=100, deadline=timedelta(seconds=10), database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def build(kind: str, payload: dict[str, Any]) -> AvroModel:
    """The model of ``payload`` as the API builds it (IntakeError when refused)."""
    if kind == "consent":
        return build_consent(payload, source=URN, pseudonymiser=PSEUDONYMISER, now=NOW)
    signal = build_signal(kind, payload, source=URN, pseudonymiser=PSEUDONYMISER, now=NOW)
    assert isinstance(signal, AvroModel)
    return signal


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def assert_sound(model: BaseModel) -> None:
    """Only safe text in every field, and the Avro encoding reads back the same."""
    assert isinstance(model, AvroModel)
    for text in _strings(model.model_dump(mode="json")):
        assert _SAFE.match(text), f"unsafe text accepted: {text!r}"
        text.encode("utf-8")  # no lone surrogate
    assert decode_avro(type(model), encode_avro(model)) == model


def outcome(test: str, kind: str, payload: dict[str, Any]) -> AvroModel | None:
    """The accepted model, sound; or None when refused with field errors."""
    try:
        model = build(kind, payload)
    except IntakeError as exc:
        assert exc.errors and all(isinstance(e.field, str) and e.message for e in exc.errors)
        CASES[f"{test} {kind} refused"] += 1
        return None
    assert_sound(model)
    CASES[f"{test} {kind} accepted"] += 1
    return model


# --- strategies ---------------------------------------------------------------------

_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
#: any JSON value
JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
_EDGE_DATES = ["0001-01-01", "1899-12-31", "1900-01-01", "2199-12-31", "2200-01-01",
               "9999-12-31", "2024-02-29", "2025-02-29", "2025-13-01", "2025-1-1", "20250101"]
_EDGE_TIMES = [f"{d}T{t}{z}" for d in ("0001-01-01", "1900-01-01", "2199-12-31", "9999-12-31")
               for t in ("00:00:00", "23:59:59.999999999", "23:59:60")
               for z in ("Z", "+23:59", "-23:59", "+14:00", "")] + [
    "2025-01-01 12:00:00Z", "2025-01-01T12:00Z", "2025-01-01T12:00:00+0100", "2025-01-01t12:00:00z"]
#: text of every Unicode category, surrogates and private use included
_ANY_CHAR = st.characters(codec=None, categories=None)
_TEXTS = (st.text(_ANY_CHAR, min_size=0, max_size=8)
          | st.text(st.sampled_from("\x00\x1f\x7f\x85\xad\u061c\u200b\u200e\u202e\u2028\u2066"
                                    "\ufeff\ufff9\ud800\udfffa1 "), max_size=6)
          | st.integers(0, 3000).map(lambda n: "x" * n))
_WEIRD = st.one_of(JSON, _TEXTS, st.sampled_from(_EDGE_DATES + _EDGE_TIMES),
                   st.just(None), st.integers().map(float), st.just(True))


def _schema_bodies(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies valid by the document, with the rules across fields applied."""
    operation = _SCHEMA[_BODIES[kind]]["POST"]
    cases = operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE)

    def repaired(case: Any) -> dict[str, Any]:
        body = dict(case.body)
        dates_in_order(body)
        fix_bsn(body)
        return body

    return cases.map(repaired)


def _mutated(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with one field set to something odd, removed, or added."""
    fields = _FIELDS[kind]

    def mutate(body: dict[str, Any], choice: int, field: str, value: Any, extra: str
               ) -> dict[str, Any]:
        body = dict(body)
        if choice == 0:
            body[field] = value
        elif choice == 1:
            body.pop(field, None)
        else:
            body[extra] = value
        return body

    extras = st.sampled_from([*SERVER_SET, "action", "recorded_at", "BSN"]) | st.text(max_size=12)
    return st.builds(mutate, _schema_bodies(kind), st.integers(0, 2), st.sampled_from(fields),
                     _WEIRD, extras)


def _arbitrary(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects of the body's field names (and others) holding any JSON value."""
    names = st.sampled_from(_FIELDS[kind]) | st.text(max_size=8)
    return st.dictionaries(names, _WEIRD, max_size=12)


# --- properties ---------------------------------------------------------------------


_each_kind = pytest.mark.parametrize("kind", KINDS)


@_each_kind
def test_valid_bodies_of_the_document_are_accepted(kind: str) -> None:
    @_FUZZ
    @given(_schema_bodies(kind))
    def accepted(body: dict[str, Any]) -> None:
        try:
            model = build(kind, body)
        except IntakeError as exc:
            raise AssertionError(f"schema-valid body refused: {exc.errors}") from None
        assert_sound(model)
        CASES[f"schema-valid {kind} accepted"] += 1

    accepted()


@_each_kind
def test_broken_bodies_give_field_errors_or_sound_models(kind: str) -> None:
    @_FUZZ
    @given(_mutated(kind))
    def either(body: dict[str, Any]) -> None:
        outcome("one field broken", kind, body)

    either()


@_each_kind
def test_arbitrary_json_gives_field_errors_or_sound_models(kind: str) -> None:
    @_FUZZ
    @given(_arbitrary(kind))
    def either(body: dict[str, Any]) -> None:
        outcome("arbitrary JSON", kind, body)

    either()


def test_report_the_cases_run(request: pytest.FixtureRequest) -> None:
    if not CASES:
        pytest.skip("no property test ran")
    report(request, "model property cases run", CASES)
