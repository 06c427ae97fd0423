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

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hub import cloudevents
from hub.bus.base import Bus, Record
from hub.errors import ConfigError, FieldError, IntakeError
from hub.events import EVENT_TYPES
from hub.pseudonym import InvalidBsn, PseudonymMaker
from hub.serde import AvroSerde
from hub.topics import SIGNAL_TOPICS
from hub.validation import meaning_problems
from hub.values import FROM_SOURCE, compact_code, field_errors

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "BSN_PATTERN",
    "MAX_VALUE_DEPTH",
    "FieldError",
    "PLACEHOLDER_REF",
    "SERVER_SET",
    "IntakeError",
    "SignalPublisher",
    "build_signal",
    "cloudevent_headers",
    "field_errors",
    "pseudonymise_in_place",
    "validate_strict",
]


#: the form of a BSN as a source sends it (the 11-test is checked too)
BSN_PATTERN = "^[0-9]{8,9}$"
#: what a source may not send: the hub sets these
SERVER_SET = ("source", "received_at")
_BSN_TEXT = re.compile(BSN_PATTERN.strip("^$"))
#: a valid pseudonym standing in for a bad one while the other fields are checked
PLACEHOLDER_REF = "ps1-" + "0" * 40


def pseudonymise_in_place(data: dict[str, Any], pseudonymiser: PseudonymMaker | None
                          ) -> list[FieldError]:
    """Replace ``data["bsn"]`` by ``data["subject_ref"]`` (the municipality's pseudonym);
    return the problems, naming fields only. The BSN is gone from ``data`` either way."""
    if "bsn" not in data:
        return []
    bsn = data.pop("bsn")
    if not isinstance(bsn, str) or not _BSN_TEXT.fullmatch(bsn):
        return [FieldError("bsn", "must be a string of nine digits (or eight, when the"
                           " leading zero was dropped)")]
    if "subject_ref" in data:
        return [FieldError("bsn", "send either bsn or subject_ref, not both")]
    if pseudonymiser is None:
        return [FieldError("bsn", "this hub has no pseudonym secrets configured")]
    code = data.get("municipality_code")
    try:
        data["subject_ref"] = pseudonymiser.subject_ref(
            bsn, compact_code(code) if isinstance(code, str) else "")
    except InvalidBsn as exc:
        return [FieldError("bsn", str(exc))]
    except ConfigError:
        return [FieldError("municipality_code", "no pseudonym secret for this municipality:"
                           " a BSN needs a configured municipality_code")]
    return []


def _json_value(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _not_unicode(data: Mapping[str, Any]) -> list[FieldError]:
    """Fields holding text that is not valid Unicode (lone surrogates)."""
    bad = []
    for key, value in data.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str) and not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    bad.append(FieldError(key, "is not valid Unicode text"))
                    break
    return bad


#: how deeply a field's value may nest (a list of texts is 1; JSON text from anywhere may
#: nest deeper than Python's recursion allows, which would be no field error but a crash)
MAX_VALUE_DEPTH = 8


def _nests_deeper(value: Any, limit: int) -> bool:
    """True when ``value`` holds lists or objects more than ``limit`` deep (iteratively)."""
    todo = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            todo.extend((child, depth + 1) for child in children)
    return False


def _integral(value: Any) -> Any:
    """``value`` with every integral float as an int: JSON (and JSON Schema's
    ``integer``) has one number type, so ``4.0`` is the integer 4 (as ``4`` is)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def validate_strict(model: type[M], data: Mapping[str, Any]) -> M:
    """``data`` as ``model``, with JSON's types taken strictly: a number is not a
    boolean, a string is not a number (an integral number such as ``4.0`` is an
    integer, as JSON Schema has it), a date is an ISO string (or a date object) in
    exactly the form the schema's pattern states (see :data:`hub.values.FROM_SOURCE`).

    Raises pydantic's ValidationError, or IntakeError for values nested deeper than
    :data:`MAX_VALUE_DEPTH`."""
    deep = [k for k, v in data.items() if _nests_deeper(v, MAX_VALUE_DEPTH)]
    if deep:
        raise IntakeError([FieldError(str(k), f"nested deeper than {MAX_VALUE_DEPTH} levels")
                           for k in deep])
    text = json.dumps(_integral(dict(data)), default=_json_value)
    return model.model_validate_json(text, strict=True, context={FROM_SOURCE: True})


def build_signal(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    source: str,
    pseudonymiser: PseudonymMaker | None,
    now: datetime | None = None,
) -> BaseModel:
    """Validate ``payload`` into the signal model of ``event_type`` (see module doc).

    Types are JSON's, strictly (``true`` is no number, ``"12"`` no house number); a
    ``null`` is an absent optional field. ``source`` and ``received_at`` are the hub's
    to set: a payload that holds them is refused.
    """
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise IntakeError([FieldError("event_type", f"unknown event type {event_type!r}")])
    data = dict(payload)
    errors = [FieldError(k, "is set by the hub; leave it out") for k in SERVER_SET if k in data]
    errors += _not_unicode(data)
    errors += pseudonymise_in_place(data, pseudonymiser)
    now = now or datetime.now(UTC)
    data.setdefault("event_id", str(uuid.uuid4()))
    data.setdefault("occurred_at", now)
    data["received_at"] = now
    data["source"] = source
    bad = {e.field for e in errors}
    if errors:  # go on with placeholders, to report every bad field at once
        data["subject_ref"] = PLACEHOLDER_REF
        for key in bad & set(data):
            if key not in ("subject_ref", "source", "received_at"):
                del data[key]
    try:
        signal = validate_strict(model, data)
    except ValidationError as exc:
        raise IntakeError(errors + field_errors(exc, whole="(body)", skip=bad)) from None
    if errors:
        raise IntakeError(errors)
    problems = meaning_problems(event_type, signal.model_dump())
    if problems:
        raise IntakeError([FieldError(*p.split(": ", 1)) for p in problems])
    return signal


def cloudevent_headers(event_type: str, signal: BaseModel) -> cloudevents.Headers:
    """CloudEvents 1.0 Kafka binding (binary mode) attributes of a signal."""
    data = signal.__dict__
    return cloudevents.headers(
        id=str(data["event_id"]), source=str(data["source"]),
        type=f"nl.signalhub.{event_type}.v1", time=data["occurred_at"],
        subject=str(data["subject_ref"]),
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
