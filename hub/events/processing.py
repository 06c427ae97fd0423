"""The processing log: one :class:`ProcessingRecord` per step the hub takes (Logboek
Dataverwerkingen)."""

from __future__ import annotations

import enum
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from hub.events.base import AvroModel
from hub.values import (
    LONG_MAX,
    EventId,
    MunicipalityCode,
    SpanId,
    SubjectRef,
    Text,
    TraceId,
    UtcDatetime,
)

__all__ = [
    "DecisionOutcome",
    "ProcessingRecord",
    "ProcessingStatus",
]


class ProcessingStatus(enum.StrEnum):
    """OpenTelemetry span status (``nl.signalhub.v1.ProcessingStatus``)."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


class DecisionOutcome(enum.StrEnum):
    """What a processing step decided (``nl.signalhub.v1.DecisionOutcome``)."""

    FORWARDED = "FORWARDED"
    REFUSED = "REFUSED"
    DEAD_LETTERED = "DEAD_LETTERED"
    DUPLICATE_IGNORED = "DUPLICATE_IGNORED"
    RECORDED = "RECORDED"


class ProcessingRecord(AvroModel):
    """One Logboek Dataverwerkingen entry (schema ``ProcessingRecord``)."""

    avro_name: ClassVar[str] = "ProcessingRecord"
    _flat_avro: ClassVar[bool] = True

    trace_id: TraceId
    span_id: SpanId
    parent_span_id: SpanId | None = None
    name: Text
    start_time: UtcDatetime
    end_time: UtcDatetime
    status: ProcessingStatus
    processing_activity_id: Text
    data_subject_id: SubjectRef | None = None
    data_subject_id_type: Text | None = None
    outcome: DecisionOutcome
    reason_code: Text
    reason_detail: str | None = None
    legal_basis: Text | None = None
    team_id: Text | None = None
    municipality_code: MunicipalityCode | None = None
    event_id: EventId | None = None
    event_type: Text | None = None
    alert_id: EventId | None = None
    #: per kind, how many entries the step handled (a retention run: deleted per store)
    counts: dict[str, Annotated[int, Field(ge=0, le=LONG_MAX)]] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_time < self.start_time:
            raise ValueError("end_time must not be before start_time")
        return self
