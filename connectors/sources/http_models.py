"""Bodies of the HTTP ingest API: what sources send, what they get back.

- request bodies: the JSON schemas of signals and consent grants as a source sends them
  (derived from the event models in :mod:`hub.events`, so they never drift), for the
  OpenAPI document;
- :func:`build_consent`: a grant body into a :class:`~hub.events.ConsentChange`, the
  BSN pseudonymised at once (the counterpart of :func:`hub.intake.build_signal`);
- response bodies (:class:`Accepted`, :class:`Problem`), :func:`content_fingerprint`
  (an event by its pseudonymised content: the same event id with other content is a
  conflict) and :func:`fingerprint` (a request, for ``Idempotency-Key``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from hub.events import EVENT_TYPES, AvroModel, ConsentAction, ConsentChange
from hub.intake import (
    BSN_PATTERN,
    PLACEHOLDER_REF,
    FieldError,
    IntakeError,
    field_errors,
    pseudonymise_in_place,
    validate_strict,
)
from hub.pseudonym import Pseudonymiser

__all__ = [
    "CONSENT_FIELDS",
    "Accepted",
    "FieldProblem",
    "Problem",
    "build_consent",
    "content_fingerprint",
    "fingerprint",
    "input_schemas",
    "safe_field",
]

#: what a consent grant may contain
CONSENT_FIELDS = ("bsn", "municipality_code", "subject_ref", "purpose", "recipient_scope",
                  "valid_from", "valid_until", "consent_id", "event_id")
_SERVER_SET = ("source", "received_at")
_OPTIONAL = ("event_id", "occurred_at", "subject_ref")
_DIGITS = re.compile(r"\d{6,}")
_UNSAFE_CHAR = re.compile(r"[^\x20-\x7e\u00a0-\u024f]")
_BSN_DOC = (
    "The person's BSN (nine digits), with municipality_code: pseudonymised on arrival"
    " with that municipality's key and never stored, logged or echoed. Send either bsn"
    " or subject_ref."
)


class FieldProblem(BaseModel):
    """One invalid field: its name and the rule it breaks (never its value)."""

    field: str = Field(description="dotted field name, e.g. postcode or recipient_scope.0")
    message: str = Field(description="the rule the value breaks")
    index: int | None = Field(None, description="position in the batch (batch requests)")


class Problem(BaseModel):
    """An error answer: RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="URN naming the kind of problem, e.g."
                      " urn:signalhub:problem:invalid-fields")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong and what to do, in words")
    errors: list[FieldProblem] | None = Field(
        None, description="each invalid field (422; 409 for a reused event id)")
    event_id: str | None = Field(None, description="the reused event id (409)")
    trace_id: str | None = Field(None, description="id of the log line of an internal"
                                 " error (500), for the hub's operator")


class Accepted(BaseModel):
    """The events are durable on the bus (202), or were so before (a replay)."""

    event_ids: list[str] = Field(description="the event id of each event, in request order")
    consent_id: str | None = Field(None, description="the consent (consent requests)")


def safe_field(loc: Sequence[object]) -> str:
    """A dotted field name fit to echo: long digit runs masked (a key could hold a BSN),
    unsafe characters replaced, each part at most 64 characters."""
    parts = []
    for part in loc:
        text = _UNSAFE_CHAR.sub("?", _DIGITS.sub("[redacted]", str(part)))
        parts.append(text if len(text) <= 64 else text[:63] + "…")
    return ".".join(parts) or "(body)"


def build_consent(
    payload: Mapping[str, Any],
    *,
    source: str,
    pseudonymiser: Pseudonymiser | None,
    now: datetime | None = None,
) -> ConsentChange:
    """A GRANTED consent change from a grant body; raises IntakeError naming bad fields.

    ``consent_id`` and ``event_id`` are made when missing, ``valid_from`` is now by
    default; ``source`` is the source's URN, ``recorded_at`` is now.
    """
    errors = [FieldError(safe_field([k]), "not a field of a consent grant")
              for k in payload if k not in CONSENT_FIELDS]
    data = {k: v for k, v in payload.items() if k in CONSENT_FIELDS}
    errors += pseudonymise_in_place(data, pseudonymiser)
    now = now or datetime.now(UTC)
    data.setdefault("event_id", str(uuid.uuid4()))
    data.setdefault("consent_id", str(uuid.uuid4()))
    data.setdefault("valid_from", now)
    data.update(action=ConsentAction.GRANTED, source=source, recorded_at=now)
    if errors:  # go on with a placeholder, to report every bad field at once
        data["subject_ref"] = PLACEHOLDER_REF
    try:
        change = validate_strict(ConsentChange, data)
    except ValidationError as exc:
        raise IntakeError(errors + field_errors(exc, whole="(body)")) from None
    if errors:
        raise IntakeError(errors)
    return change


def content_fingerprint(payload: Mapping[str, Any], model: BaseModel) -> str:
    """SHA-256 of the model's fields that the source sent (the BSN stands as the
    pseudonym it became): equal for the same event sent again, without holding anything
    that is not on the bus anyway."""
    sent = {"subject_ref" if k == "bsn" else k for k in payload}
    dump = model.model_dump(mode="json")
    text = json.dumps({k: dump[k] for k in sorted(sent) if k in dump}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(route: str, contents: Sequence[str]) -> str:
    """SHA-256 of a request: its route and the content fingerprint of each event."""
    return hashlib.sha256(json.dumps([route, list(contents)]).encode()).hexdigest()


# --- request schemas for the OpenAPI document ------------------------------------------


#: a BSN as sources send it; format "bsn": nine digits passing the 11-test
_BSN_SCHEMA = {"type": "string", "format": "bsn", "pattern": BSN_PATTERN, "writeOnly": True,
               "description": _BSN_DOC}
#: the person is named by exactly one of bsn (with a municipality_code, not null: its
#: key makes the pseudonym) and subject_ref
_PERSON: dict[str, Any] = {
    "oneOf": [{"required": ["bsn", "municipality_code"],
               "properties": {"municipality_code": {"type": "string"}},
               "not": {"required": ["subject_ref"]}},
              {"required": ["subject_ref"], "not": {"required": ["bsn"]}}],
    "dependentRequired": {"bsn": ["municipality_code"]},
}
#: rules across fields that a JSON schema cannot state (hub.validation.meaning_problems)
_MEANING = {
    "DebtSignal": "arrears_since not after signal_date; supply_end_date not before"
    " signal_date; occurred_at at most 5 minutes in the future",
    "EvictionRisk": "eviction_date not before stage_date; occurred_at at most 5 minutes"
    " in the future",
    "YouthCareExit": "planned_end_date at most a year before turns_18_on; occurred_at at"
    " most 5 minutes in the future",
    "ConsentGrant": "valid_until after valid_from; purpose and every recipient_scope entry"
    " among those the source may record (else 403)",
}


def _ref_template() -> str:
    return "#/components/schemas/{model}"


def _signal_input(model: type[AvroModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema, its $defs) of a signal as a source sends it."""
    schema = model.model_json_schema(ref_template=_ref_template())
    defs: dict[str, Any] = schema.pop("$defs", {})
    props: dict[str, Any] = schema["properties"]
    required = [r for r in schema.get("required", []) if r not in (*_SERVER_SET, *_OPTIONAL)]
    for name in _SERVER_SET:
        props.pop(name, None)
    props["event_id"]["description"] = (
        "UUID of the event; send it to make retries safe (the same id is accepted once)."
        " Made by the hub when missing.")
    props["occurred_at"]["description"] = "When it happened at the source (default: now)."
    props["subject_ref"]["description"] = (
        "The person's pseudonym, when the source pseudonymises itself (instead of bsn).")
    props["bsn"] = _BSN_SCHEMA
    schema.update(title=f"{model.__name__}In", required=required, **_PERSON,
                  description=f"A {model.__name__} as a source sends it. Rules across"
                  f" fields: {_MEANING.get(model.__name__, 'none')}.")
    return schema, defs


def _consent_input() -> tuple[dict[str, Any], dict[str, Any]]:
    full = ConsentChange.model_json_schema(ref_template=_ref_template())
    defs: dict[str, Any] = full.pop("$defs", {})
    defs.pop("ConsentAction", None)
    props = {k: full["properties"][k] for k in CONSENT_FIELDS if k in full["properties"]}
    props["bsn"] = _BSN_SCHEMA
    props["consent_id"]["description"] = "Id of the consent (default: a new UUID)."
    props["event_id"]["description"] = "UUID of this change; the same id is accepted once."
    props["valid_from"]["description"] = "Start of validity (default: now)."
    props["valid_until"]["description"] = "End of validity, exclusive (default: none)."
    props["recipient_scope"]["description"] = (
        "Who may receive: team ids, or municipality codes for every team there.")
    props["recipient_scope"]["minItems"] = 1  # a grant names at least one recipient
    props["purpose"]["description"] = "Purpose code, e.g. youth-care-exit-handover."
    schema = {"title": "ConsentGrant", "type": "object", "additionalProperties": False,
              "description": "A consent granted by the person (send bsn or subject_ref)."
              f" Rules across fields: {_MEANING['ConsentGrant']}.",
              "properties": {k: props[k] for k in CONSENT_FIELDS},
              "required": ["purpose", "recipient_scope"], **_PERSON}
    return schema, defs


def input_schemas() -> dict[str, Any]:
    """Component schemas of every request body, by name: ``<Model>In``,
    ``<Model>Batch`` and ``ConsentGrant`` (plus the enums they use)."""
    out: dict[str, Any] = {}
    for model in EVENT_TYPES.values():
        schema, defs = _signal_input(model)
        out.update(defs)
        out[f"{model.__name__}In"] = schema
        out[f"{model.__name__}Batch"] = {
            "title": f"{model.__name__}Batch", "type": "object",
            "additionalProperties": False, "required": ["signals"],
            "properties": {"signals": {
                "type": "array", "minItems": 1,
                "items": {"$ref": _ref_template().format(model=f"{model.__name__}In")},
                "description": "The signals; all are accepted, or none (422).",
            }},
        }
    schema, defs = _consent_input()
    out.update(defs)
    out["ConsentGrant"] = schema
    return out
