"""Processing records (Logboek Dataverwerkingen): one per routing decision, on audit.v1."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from hub.events import DecisionOutcome, ProcessingRecord, ProcessingStatus, utc_millis

__all__ = ["INTAKE_ACTIVITY", "new_span_id", "new_trace_id", "processing_record"]

#: the activity under which input validation and dead letters are logged
INTAKE_ACTIVITY = "urn:signalhub:processing-activity:intake-validation"


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def processing_record(
    *,
    trace_id: str,
    name: str,
    started: datetime,
    outcome: DecisionOutcome,
    reason_code: str,
    activity: str,
    subject_ref: str | None = None,
    reason_detail: str | None = None,
    legal_basis: str | None = None,
    team_id: str | None = None,
    municipality_code: str | None = None,
    event_id: str | None = None,
    event_type: str | None = None,
    alert_id: str | None = None,
    parent_span_id: str | None = None,
    error: bool = False,
    counts: dict[str, int] | None = None,
    validate: bool = True,
) -> ProcessingRecord:
    """A processing record; ``validate=False`` skips pydantic validation and is only for
    callers whose values are known-valid (e.g. taken from a validated signal and a
    configuration whose values were validated into a record before): the result is the
    same record, built with ``model_construct``."""
    end = max(started, datetime.now(UTC))
    if not validate:
        started, end = utc_millis(started), utc_millis(end)
    fields: dict[str, Any] = dict(
        trace_id=trace_id,
        span_id=new_span_id(),
        parent_span_id=parent_span_id,
        name=name,
        start_time=started,
        end_time=end,
        status=ProcessingStatus.ERROR if error else ProcessingStatus.OK,
        processing_activity_id=activity,
        data_subject_id=subject_ref,
        data_subject_id_type="signalhub-pseudonym" if subject_ref else None,
        outcome=outcome,
        reason_code=reason_code,
        reason_detail=reason_detail,
        legal_basis=legal_basis,
        team_id=team_id,
        municipality_code=municipality_code,
        event_id=event_id,
        event_type=event_type,
        alert_id=alert_id,
        counts=counts,
    )
    if validate:
        return ProcessingRecord(**fields)
    return ProcessingRecord.model_construct(**fields)
