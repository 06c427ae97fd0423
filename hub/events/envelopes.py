"""Records that carry another record's bytes: a dead letter (an input a stage could not
handle, kept byte for byte) and a signal sealed to the hub's intake key."""

from __future__ import annotations

import enum
from typing import Annotated, ClassVar

from pydantic import Field

from hub.events.base import AvroModel
from hub.values import INT_MAX, LONG_MAX, EventId, Text, TraceId, UtcDatetime

__all__ = [
    "DeadLetter",
    "DeadLetterHeader",
    "DeadLetterReason",
    "SealedSignal",
]


class DeadLetterReason(enum.StrEnum):
    """Why an input was dead-lettered (``nl.signalhub.v1.DeadLetterReason``)."""

    NOT_WIRE_FORMAT = "NOT_WIRE_FORMAT"
    SCHEMA_NOT_FOUND = "SCHEMA_NOT_FOUND"
    DECODE_FAILED = "DECODE_FAILED"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    NO_TEAM = "NO_TEAM"
    UNKNOWN_MUNICIPALITY = "UNKNOWN_MUNICIPALITY"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class DeadLetterHeader(AvroModel):
    """One header of a dead-lettered record (record ``DeadLetterHeader`` inside ``DeadLetter``)."""

    avro_name: ClassVar[str] = "DeadLetterHeader"

    key: str
    value: bytes


class DeadLetter(AvroModel):
    """An input a stage could not handle, kept byte for byte (schema ``DeadLetter``)."""

    avro_name: ClassVar[str] = "DeadLetter"

    topic: Text
    partition: Annotated[int, Field(ge=0, le=INT_MAX)]
    offset: Annotated[int, Field(ge=0, le=LONG_MAX)]
    original_key: bytes | None = None
    original_value: bytes | None = None
    original_headers: list[DeadLetterHeader]
    original_timestamp: UtcDatetime | None = None
    reason_code: DeadLetterReason
    error_class: Text
    error_message: str
    stage: Text
    attempts: Annotated[int, Field(ge=1, le=INT_MAX)]
    failed_at: UtcDatetime
    event_id: str | None = None
    trace_id: TraceId | None = None


class SealedSignal(AvroModel):
    """A signal sealed to the hub's intake key (schema ``SealedSignal``)."""

    avro_name: ClassVar[str] = "SealedSignal"
    _flat_avro: ClassVar[bool] = True

    event_id: EventId
    event_type: Text
    source: Text
    key_id: Text
    sealed_payload: bytes
    sent_at: UtcDatetime
