"""Validation of a decoded signal: its schema model (types, postcode, amounts) and its
meaning (dates in order). Errors name the field and the rule, never the value."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.errors import SignalRejected
from hub.events import EVENT_TYPES
from hub.fast_validation import Unsure, compile_validator
from hub.values import field_errors, problem_text

__all__ = ["meaning_problems", "validated_signal"]

#: how far a source's clock may run ahead of ours
_CLOCK_SKEW = timedelta(minutes=5)


def meaning_problems(event_type: str, data: dict[str, Any]) -> list[str]:
    """Rules a schema cannot express."""
    problems = []
    occurred, received = data.get("occurred_at"), data.get("received_at")
    if occurred and received and occurred > received + _CLOCK_SKEW:
        problems.append("occurred_at: lies after received_at")
    if event_type == "debt-signal":
        if data["arrears_since"] > data["signal_date"]:
            problems.append("arrears_since: lies after signal_date")
        end = data.get("supply_end_date")
        if end is not None and end < data["signal_date"]:
            problems.append("supply_end_date: lies before signal_date")
    elif event_type == "eviction-risk":
        when = data.get("eviction_date")
        if when is not None and when < data["stage_date"]:
            problems.append("eviction_date: lies before stage_date")
    elif event_type == "youth-care-exit" and data["planned_end_date"] < data[
        "turns_18_on"
    ] - timedelta(days=366):
        problems.append("planned_end_date: lies more than a year before turns_18_on")
    return problems


#: the signal models' validation compiled (hub.fast_validation), by event type
_COMPILED = {event_type: compile_validator(model) for event_type, model in EVENT_TYPES.items()}


def validated_signal(event_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """A decoded signal record of ``event_type`` validated by its model and for its
    meaning, as a plain dict of the model's fields (the signal models are flat: their
    values as validated, enums as members); SignalRejected(VALIDATION_FAILED) naming each
    bad field (UNKNOWN_EVENT_TYPE for a type without a model).

    A record as the serde decodes it is checked by the model's compiled validator (the
    same validators, without pydantic's calls into them); whatever that cannot vouch
    for is validated by the model itself."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise SignalRejected(f"unknown event type {event_type!r}", "UNKNOWN_EVENT_TYPE")
    compiled = _COMPILED.get(event_type)
    try:
        if compiled is None:
            raise Unsure
        data = compiled(record)
    except Unsure:
        data = _validated_by_model(model, event_type, record)
    problems = meaning_problems(event_type, data)
    if problems:
        raise _invalid(event_type, "; ".join(problems))
    return data


def _invalid(event_type: str, problems: str) -> SignalRejected:
    return SignalRejected(f"invalid {event_type}: {problems}", "VALIDATION_FAILED")


def _validated_by_model(model: type[BaseModel], event_type: str, record: dict[str, Any]
                        ) -> dict[str, Any]:
    try:
        return dict(model.model_validate(record).__dict__)  # the fields, as validated
    except ValidationError as exc:
        raise _invalid(event_type, problem_text(field_errors(exc))) from None
