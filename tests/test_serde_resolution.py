"""Decoding a record written with another version of its schema (Avro resolution)
and with the very same schema (read without resolution): the same records either way."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from hub.registry.base import canonical, subject_for
from hub.registry.embedded import EmbeddedRegistry
from hub.schemas import load_schema
from hub.serde import AvroSerde, frame, full_name


def _consent() -> dict[str, Any]:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    return {
        "event_id": str(uuid.uuid4()), "consent_id": "c-1", "action": "GRANTED",
        "subject_ref": "ps1-" + "7f3a" * 10, "purpose": "youth-care-exit-support",
        "recipient_scope": ["team-youth-north"], "valid_from": now, "valid_until": None,
        "source": "urn:nld:oin:00000001234567890000", "recorded_at": now,
        "municipality_code": "GM0153",
    }


@pytest.fixture
def serde(tmp_path: Any) -> AvroSerde:
    return AvroSerde(EmbeddedRegistry(tmp_path / "registry.db"))


def test_an_older_writer_schema_is_resolved_against_the_local_one(serde: AvroSerde) -> None:
    local = load_schema("ConsentChange")
    older = json.loads(json.dumps(local))
    older["fields"] = [f for f in older["fields"] if f["name"] != "municipality_code"]
    assert len(older["fields"]) == len(local["fields"]) - 1
    subject = subject_for("consent.v1", full_name(older))
    schema_id = serde.registry.register(subject, canonical(older))
    record = {k: v for k, v in _consent().items() if k != "municipality_code"}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(older), record)
    decoded = serde.decode(frame(schema_id, buf.getvalue()))
    # the local schema's default for the field the older one lacks
    assert decoded.record["municipality_code"] is None
    assert {k: v for k, v in decoded.record.items() if k != "municipality_code"} == {
        **record, "event_id": decoded.record["event_id"]}


def test_the_same_schema_decodes_as_with_resolution(serde: AvroSerde) -> None:
    data = serde.encode("consent.v1", "ConsentChange", _consent())
    plain = serde.decode(data).record
    schema = fastavro.parse_schema(load_schema("ConsentChange"))
    resolved = fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, schema)
    assert plain == resolved
    assert [type(v) for v in plain.values()] == [type(v) for v in resolved.values()]  # type: ignore[union-attr]
