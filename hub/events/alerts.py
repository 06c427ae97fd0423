"""What a team receives (:class:`TeamAlert`) and what is told back to the source
(:class:`AlertOutcome`)."""

from __future__ import annotations

import enum
from typing import ClassVar

from hub.events.base import AvroModel
from hub.values import (
    Count,
    EventId,
    MunicipalityCode,
    SignalDate,
    SubjectRef,
    Text,
    TraceId,
    UtcDatetime,
)

__all__ = [
    "AlertOutcome",
    "AlertUrgency",
    "PickUpOutcome",
    "TeamAlert",
]


class AlertUrgency(enum.StrEnum):
    """How quickly a team must act (``nl.signalhub.v1.AlertUrgency``)."""

    NORMAL = "NORMAL"
    URGENT = "URGENT"


class TeamAlert(AvroModel):
    """What a team receives after a forward (schema ``TeamAlert``)."""

    avro_name: ClassVar[str] = "TeamAlert"
    _flat_avro: ClassVar[bool] = True

    alert_id: EventId
    event_id: EventId
    event_type: Text
    team_id: Text
    municipality_code: MunicipalityCode
    subject_ref: SubjectRef
    urgency: AlertUrgency
    due_date: SignalDate | None = None
    fields: dict[str, str]
    prior_signals_180d: Count
    legal_basis: Text
    created_at: UtcDatetime
    trace_id: TraceId
    source: Text | None = None


class PickUpOutcome(enum.StrEnum):
    """Whether a team picked an alert up (``nl.signalhub.v1.PickUpOutcome``)."""

    PICKED_UP = "PICKED_UP"
    NOT_PICKED_UP = "NOT_PICKED_UP"


class AlertOutcome(AvroModel):
    """Picked up or not, told back to the alert's source (schema ``AlertOutcome``).

    Deliberately no reason or note: the source learns nothing else of the team's work.
    """

    avro_name: ClassVar[str] = "AlertOutcome"

    outcome_id: EventId
    alert_id: EventId
    event_id: EventId
    team_id: Text
    outcome: PickUpOutcome
    recorded_at: UtcDatetime
    source: Text
