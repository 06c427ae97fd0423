"""Wire format, Avro encoding through the registry, and dead letters for bad input."""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.bus import Record, TopicSpec
from hub.connect import Connection
from hub.consume import AvroConsumer
from hub.deadletters import DeadLetterWriter
from hub.errors import DecodeError, NotWireFormat, SchemaNotFound
from hub.registry.base import SchemaRegistry
from hub.serde import AvroSerde, frame, unframe
from hub.topics import DEADLETTER

SUBJECT = "ps1-" + "7f3a" * 10


def consent_record() -> dict[str, object]:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    return {
        "event_id": str(uuid.uuid4()), "consent_id": "c-1", "action": "GRANTED",
        "subject_ref": SUBJECT, "purpose": "youth-care-exit-support",
        "recipient_scope": ["team-youth-north"], "valid_from": now, "valid_until": None,
        "source": "urn:nld:oin:00000001234567890000", "recorded_at": now,
        "municipality_code": "GM0153",
    }


def test_frame_layout() -> None:
    data = frame(258, b"body")
    assert data[:1] == b"\x00" and struct.unpack(">I", data[1:5]) == (258,)
    assert unframe(data) == (258, b"body")


@pytest.mark.parametrize("bad", [None, b"", b"\x00\x00", b"\x01\x00\x00\x00\x01xx", b"{}"])
def test_unframe_rejects_non_wire_format(bad: bytes | None) -> None:
    with pytest.raises(NotWireFormat):
        unframe(bad)


def test_round_trip_and_confluent_readable(registry: SchemaRegistry) -> None:
    serde = AvroSerde(registry)
    topic = f"consent.{uuid.uuid4().hex[:8]}"
    data = serde.encode(topic, "ConsentChange", consent_record())
    schema_id, _ = unframe(data)
    subject = f"{topic}-nl.signalhub.v1.ConsentChange"
    assert registry.latest(subject).schema_id == schema_id
    decoded = AvroSerde(registry).decode(data)  # a fresh reader, as another process would be
    assert decoded.record_name == "nl.signalhub.v1.ConsentChange"
    assert decoded.record == consent_record() | {"event_id": decoded.record["event_id"]}


def test_decode_errors(registry: SchemaRegistry) -> None:
    serde = AvroSerde(registry)
    good = serde.encode("t.v1", "ConsentChange", consent_record())
    with pytest.raises(SchemaNotFound):
        serde.decode(frame(999_999, b"\x02"))
    with pytest.raises(DecodeError):
        serde.decode(good[:5] + b"\xff\xff\xff")
    with pytest.raises(NotWireFormat):
        serde.decode(json.dumps({"plain": "json"}).encode())


def test_bad_messages_become_dead_letters_and_the_consumer_goes_on(
    conn: Connection, unique: Callable[[str], str]
) -> None:
    bus, serde = conn.bus, conn.serde
    topic = unique("consent")
    bus.create_topic(TopicSpec(topic, partitions=1))
    bus.create_topic(TopicSpec(DEADLETTER, partitions=1))
    good = serde.encode(topic, "ConsentChange", consent_record())
    bad = [b"not avro at all", frame(424242, b"\x00"), good[:5] + b"\xff\xff"]
    headers = (("ce_id", b"evt-9"),)
    bus.produce([Record(topic, v, SUBJECT.encode(), headers) for v in [good, *bad, good]])

    reader = AvroConsumer(bus.consumer(unique("g"), [topic]), serde,
                          DeadLetterWriter(bus, serde), stage="test")
    events = []
    for _ in range(60):
        events += reader.poll(max_records=10, timeout=0.5)
        if len(events) + reader.dead_lettered >= 5:
            break
    reader.commit()
    reader.close()
    assert len(events) == 2 and reader.dead_lettered == 3

    dl_reader = bus.consumer(unique("dl"), [DEADLETTER])
    letters: list[dict[str, Any]] = []
    for _ in range(60):
        letters += [serde.decode(m.value).record for m in dl_reader.poll(100, 0.5)]
        letters = [d for d in letters if d["topic"] == topic]
        if len(letters) >= 3:
            break
    dl_reader.close()
    assert [d["reason_code"] for d in letters] == [
        "NOT_WIRE_FORMAT", "SCHEMA_NOT_FOUND", "DECODE_FAILED"]
    assert [d["original_value"] for d in letters] == bad
    assert [d["offset"] for d in letters] == [1, 2, 3]
    assert all(d["partition"] == 0 and d["stage"] == "test" for d in letters)
    assert letters[0]["original_headers"] == [{"key": "ce_id", "value": b"evt-9"}]
    assert letters[1]["error_class"] == "SchemaNotFound"
    assert "424242" in letters[1]["error_message"]
    # the reader group is done: nothing left to read
    assert sum(p.lag for p in bus.lag(reader.consumer.group, topic)) == 0  # type: ignore[attr-defined]
