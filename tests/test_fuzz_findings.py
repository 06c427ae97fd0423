"""One regression test per finding of the fuzz suite (tests/test_fuzz_ingest*.py).

Each is a case where the served OpenAPI document and the ingest API disagreed (a
schema-valid request refused, a schema-invalid one accepted), or where input made
something other than a field error.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from connectors.sources.http_ingest import openapi_document
from hub.connect import Connection
from hub.errors import IntakeError
from hub.events import DebtSignal
from hub.intake import MAX_VALUE_DEPTH, build_signal
from hub.topics import SIGNAL_TOPICS
from tests.test_http_ingest import (
    GM,
    PSEUDONYMISER,
    Api,
    debt,
    read_topics,
    running,
    valid_bsn,
    with_id,
)

REF = "ps1-" + "ab" * 20


@pytest.fixture
def api(conn: Connection, tmp_path: Path) -> Iterator[Api]:
    with running(conn, tmp_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def body_validator(document: dict[str, Any], name: str) -> jsonschema_rs.Validator:
    """A validator of the request body schema ``name`` of the document."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def post(api: Api, body: dict[str, Any], path: str = "/v1/signals/debt") -> Any:
    with api.client("alles") as client:
        return client.post(path, json=body)


def fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {e["field"] for e in response.json()["errors"]}


def test_every_pattern_of_the_document_compiles_in_a_unicode_regex_engine(
        document: dict[str, Any]) -> None:
    # the text pattern named lone surrogates (\ud800-\udfff): a Rust-based validator
    # refused the pattern and a generator ignored it, taking control characters as valid
    patterns: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert patterns
    for pattern in set(patterns):
        jsonschema_rs.validator_for({"type": "string", "pattern": pattern})


@pytest.mark.parametrize("moment", ["2025-01-01 12:00:00Z", "2025-01-01T12:00Z",
                                    "2025-01-01T12:00:00+0100", "2025-01-01T12:00:00.1234567890Z",
                                    "2016-12-31T23:59:60Z", "1899-12-31T23:00:00Z"])
def test_timestamps_outside_the_documented_form_are_refused(api: Api, moment: str) -> None:
    # pydantic took a space for T, no seconds and +0100; the document says RFC 3339
    assert fields(post(api, debt(valid_bsn(random.Random()), occurred_at=moment))) == {
        "occurred_at"}


def test_rfc3339_variants_of_the_document_are_accepted(api: Api) -> None:
    for moment in ("2025-01-01t12:00:00z", "2025-01-01T12:00:00.123456789+05:30"):
        response = post(api, debt(valid_bsn(random.Random()), occurred_at=moment))
        assert response.status_code == 202, (moment, response.text)


def test_a_time_its_offset_shifts_before_1900_is_on_the_bus_and_reads_back(api: Api) -> None:
    # accepted, but in UTC it is 1899: decoding it from Avro failed the year check
    response = post(api, debt(valid_bsn(random.Random()), occurred_at="1900-01-01T00:30:00+01:00"))
    assert response.status_code == 202, response.text
    (event_id,) = response.json()["event_ids"]
    (message,) = with_id(read_topics(api.conn.bus, [SIGNAL_TOPICS["debt-signal"]]), event_id)
    signal = DebtSignal.from_avro(api.conn.serde.decode(message.value).record)
    assert signal.occurred_at.year == 1899


def test_a_code_longer_than_documented_is_refused_even_as_spaces(api: Api) -> None:
    # "1000AA" and seven spaces passed: spaces were removed before any length check
    body = debt(valid_bsn(random.Random()), postcode="1000AA       ")
    assert fields(post(api, body)) == {"postcode"}
    assert fields(post(api, debt(valid_bsn(random.Random()), postcode="3 5 1 1 A B"))) == {
        "postcode"}


def test_a_bsn_with_a_spaced_lower_case_municipality_code_is_pseudonymised(api: Api) -> None:
    # the key was looked up for " gm 0344" as sent (upper-cased only): 422, no secret
    bsn = valid_bsn(random.Random())
    response = post(api, debt(bsn, municipality_code=" gm 0344"))
    assert response.status_code == 202, response.text
    (event_id,) = response.json()["event_ids"]
    (message,) = with_id(read_topics(api.conn.bus, [SIGNAL_TOPICS["debt-signal"]]), event_id)
    signal = DebtSignal.from_avro(api.conn.serde.decode(message.value).record)
    assert signal.subject_ref == PSEUDONYMISER.subject_ref(bsn, GM)


def test_the_document_refuses_a_bsn_without_a_municipality_code_string_or_with_a_ref(
        document: dict[str, Any]) -> None:
    # oneOf only asked for the keys: {"bsn", "municipality_code": null} and
    # {"bsn", "subject_ref", "municipality_code": null} were valid, and always refused
    validator = body_validator(document, "DebtSignalIn")
    base = {k: v for k, v in debt("123456782").items() if k not in ("bsn", "municipality_code")}
    assert validator.is_valid({**base, "bsn": "123456782", "municipality_code": "GM0344"})
    assert validator.is_valid({**base, "subject_ref": REF, "municipality_code": None})
    assert not validator.is_valid({**base, "bsn": "123456782", "municipality_code": None})
    assert not validator.is_valid({**base, "bsn": "123456782", "subject_ref": REF,
                                   "municipality_code": None})
    assert not validator.is_valid({**base, "bsn": "123456782", "subject_ref": REF,
                                   "municipality_code": "GM0344"})


def test_an_integral_number_is_an_integer(api: Api) -> None:
    # JSON Schema's integer is any number without a fraction: 12.0 was refused
    assert post(api, debt(valid_bsn(random.Random()), house_number=12.0)).status_code == 202
    assert fields(post(api, debt(valid_bsn(random.Random()), house_number=12.5))) == {
        "house_number"}


def test_the_document_asks_a_grant_for_a_recipient_and_states_its_rules(
        document: dict[str, Any]) -> None:
    # recipient_scope [] was schema-valid and always refused (GRANTED needs a recipient)
    grant = document["components"]["schemas"]["ConsentGrant"]
    assert grant["properties"]["recipient_scope"]["minItems"] == 1
    assert "valid_until after valid_from" in grant["description"]
    validator = body_validator(document, "ConsentGrant")
    assert not validator.is_valid({"subject_ref": REF, "purpose": "p", "recipient_scope": []})


def test_a_consent_id_with_control_characters_in_the_path_is_invalid(api: Api) -> None:
    # the path parameter had no pattern: schema-valid, and never a consent (404)
    with api.client("alles") as client:
        response = client.delete("/v1/consents/a%07b")
    assert response.status_code == 422, response.text


def test_nan_and_infinity_are_not_json(api: Api) -> None:
    body = json.dumps(debt(valid_bsn(random.Random()))).replace('12345', 'NaN', 1)
    with api.client("alles", **{"Content-Type": "application/json"}) as client:
        for text in (body, body.replace("NaN", "Infinity")):
            response = client.post("/v1/signals/debt", content=text)
            assert response.status_code == 422
            assert response.json()["errors"][0]["message"] == "not valid JSON"


def test_a_null_body_is_not_called_too_deep(api: Api) -> None:
    with api.client("alles", **{"Content-Type": "application/json"}) as client:
        response = client.post("/v1/signals/debt", content="null")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "(body)", "message": "must be a JSON object"}]


def test_a_deeply_nested_value_is_a_field_error_not_a_crash() -> None:
    # build_signal (the batch importer's and the client's path too) hit RecursionError
    value: Any = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(IntakeError) as caught:
        build_signal("debt-signal", {**debt("123456782"), "creditor_reference": value},
                     source="urn:nld:oin:1", pseudonymiser=PSEUDONYMISER)
    assert [e.field for e in caught.value.errors] == ["creditor_reference"]
    assert str(MAX_VALUE_DEPTH) in caught.value.errors[0].message
