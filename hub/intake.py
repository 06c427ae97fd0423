"""Intake: turn what a source sends into a signal on the bus.

Shared by every source connector (HTTP API, batch files, the Python client):

- :func:`build_signal` validates a payload (a dict of the signal's fields, with either a
  ``bsn`` plus ``municipality_code`` or an already pseudonymised ``subject_ref``) into
  the event type's model. The BSN is turned into the pseudonym at once and dropped; it
  never reaches the bus, a log or an error message. ``event_id`` is kept when the source
  sends one (idempotency), else made; ``source`` is the source's identity, not what the
  payload says; ``received_at`` is now.
- :class:`SignalPublisher` produces signals to their topics, keyed by the pseudonym
  (order per person), with CloudEvents headers, once they are durable.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.bus.base import Bus, Record
from hub.errors import ConfigError, HubError
from hub.events import EVENT_TYPES
from hub.pseudonym import PLACEHOLDER_REF, InvalidBsn, PseudonymMaker
from hub.serde import AvroSerde
from hub.topics import SIGNAL_TOPICS
from hub.validation import meaning_problems

__all__ = [
    "FieldError",
    "IntakeError",
    "SignalPublisher",
    "build_signal",
    "cloudevent_headers",
    "pseudonymise_in_place",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class IntakeError(HubError):
    """A payload is not a valid signal; ``errors`` name each field (never its value)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


def pseudonymise_in_place(data: dict[str, Any], pseudonymiser: PseudonymMaker | None
                          ) -> list[FieldError]:
    """Replace ``data["bsn"]`` by ``data["subject_ref"]`` (the municipality's pseudonym);
    return the problems, naming fields only. The BSN is gone from ``data`` either way."""
    bsn = data.pop("bsn", None)
    if bsn is None:
        return []
    if "subject_ref" in data:
        return [FieldError("bsn", "send either bsn or subject_ref, not both")]
    if pseudonymiser is None:
        return [FieldError("bsn", "this hub has no pseudonym secrets configured")]
    try:
        data["subject_ref"] = pseudonymiser.subject_ref(
            str(bsn), str(data.get("municipality_code", "")).upper())
    except InvalidBsn as exc:
        return [FieldError("bsn", str(exc))]
    except ConfigError:
        return [FieldError("municipality_code", "no pseudonym secret for this municipality:"
                           " a BSN needs a configured municipality_code")]
    return []


def build_signal(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    source: str,
    pseudonymiser: PseudonymMaker | None,
    now: datetime | None = None,
) -> BaseModel:
    """Validate ``payload`` into the signal model of ``event_type`` (see module doc)."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise IntakeError([FieldError("event_type", f"unknown event type {event_type!r}")])
    data = {k: v for k, v in payload.items() if v is not None and v != ""}
    errors = pseudonymise_in_place(data, pseudonymiser)
    now = now or datetime.now(UTC)
    data.setdefault("event_id", str(uuid.uuid4()))
    data.setdefault("occurred_at", now)
    data["received_at"] = now
    data["source"] = source
    if errors:  # go on with a placeholder, to report every bad field at once
        data["subject_ref"] = PLACEHOLDER_REF
    try:
        signal = model.model_validate(data)
    except ValidationError as exc:
        raise IntakeError(errors + [
            FieldError(".".join(str(p) for p in e["loc"]) or "(body)", e["msg"])
            for e in exc.errors()
        ]) from None
    if errors:
        raise IntakeError(errors)
    problems = meaning_problems(event_type, signal.model_dump())
    if problems:
        raise IntakeError([FieldError(*p.split(": ", 1)) for p in problems])
    return signal


def cloudevent_headers(event_type: str, signal: BaseModel) -> tuple[tuple[str, bytes], ...]:
    """CloudEvents 1.0 Kafka binding (binary mode) attributes of a signal."""
    data = signal.model_dump()
    return (
        ("ce_specversion", b"1.0"),
        ("ce_id", str(data["event_id"]).encode()),
        ("ce_source", str(data["source"]).encode()),
        ("ce_type", f"nl.signalhub.{event_type}.v1".encode()),
        ("ce_time", data["occurred_at"].isoformat().encode()),
        ("ce_subject", str(data["subject_ref"]).encode()),
        ("content-type", b"application/avro"),
    )


class SignalPublisher:
    """Produces validated signals to their topics (durably, before returning)."""

    def __init__(self, bus: Bus, serde: AvroSerde) -> None:
        self.bus = bus
        self.serde = serde

    def record(self, event_type: str, signal: BaseModel) -> Record:
        topic = SIGNAL_TOPICS[event_type]
        subject = str(getattr(signal, "subject_ref"))  # noqa: B009 - every signal has one
        return Record(topic, self.serde.encode_model(topic, signal), subject.encode(),
                      cloudevent_headers(event_type, signal))

    def publish(self, signals: Sequence[tuple[str, BaseModel]]) -> list[str]:
        """Publish (event_type, signal) pairs; return their event ids."""
        if signals:
            self.bus.produce([self.record(t, s) for t, s in signals])
        return [str(getattr(s, "event_id")) for _, s in signals]  # noqa: B009
