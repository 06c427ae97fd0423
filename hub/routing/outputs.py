"""The router's outputs as plain dicts, encoded by templates compiled at load.

For every decision the router writes a ``ProcessingRecord`` to ``audit.v1`` and, for a
forward, a ``TeamAlert`` to ``alerts.<team>.v1``. Most of their fields come from the
configuration (team, municipality, rule, processing activity, reason code, legal
basis): :class:`OutputTemplates` builds one :class:`~hub.routing.writer.Template` per
combination the configuration allows, once, and validates each against its pydantic
model then (an invalid configuration value is a :class:`~hub.errors.ConfigError` at
start, not a failure mid-stream). Per signal only the rest is encoded: ids, times, the
pseudonym and the minimised fields, all taken from the validated signal or generated
valid. The bytes are the ones the models' ``to_avro`` would give (see
``tests/test_router_fast_outputs.py``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from hub.audit import INTAKE_ACTIVITY
from hub.config import HubConfig
from hub.errors import ConfigError
from hub.events import ProcessingRecord, TeamAlert
from hub.policy import CompiledPolicy
from hub.routing.writer import RecordWriter, Template
from hub.schemas import load_schema
from hub.values import field_errors, problem_text

__all__ = ["ALERT_NAMESPACE", "IdSource", "OutputTemplates", "alert_id_for"]

#: namespace of the deterministic alert ids
ALERT_NAMESPACE = uuid.UUID("6f1c8f0e-3b7a-4f55-9a43-5e1d2c7b9a10")
_NAMESPACE_BYTES = ALERT_NAMESPACE.bytes
_BASES = ("statutory", "covenant", "consent")
#: values standing in for the per-signal fields while a template is validated
_SAMPLE: dict[str, Any] = {
    "trace_id": "0" * 32, "span_id": "0" * 16, "data_subject_id": "ps1-" + "0" * 40,
    "subject_ref": "ps1-" + "0" * 40, "event_id": str(uuid.UUID(int=1)),
    "fields": {}, "prior_signals_180d": 0, "source": None, "due_date": None,
}


def alert_id_for(event_id: str, team_id: str) -> str:
    """``str(uuid.uuid5(ALERT_NAMESPACE, f"{event_id}/{team_id}"))``, computed directly."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{event_id}/{team_id}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class IdSource:
    """Random trace ids (32 hex digits) and span ids (16), drawn from one buffer of
    ``os.urandom`` bytes instead of one system call per id."""

    def __init__(self, chunk: int = 8192) -> None:
        self._chunk = chunk
        self._hex = ""
        self._at = 0

    def _take(self, n: int) -> str:
        if self._at + n > len(self._hex):
            self._hex, self._at = os.urandom(self._chunk).hex(), 0
        text = self._hex[self._at : self._at + n]
        self._at += n
        return text

    def trace_id(self) -> str:
        return self._take(32)

    def span_id(self) -> str:
        return self._take(16)


def _checked(model: type[ProcessingRecord] | type[TeamAlert], fixed: Mapping[str, Any],
             what: str) -> None:
    """Validate ``fixed`` (with sample values for the rest) through ``model``; the
    validated values must be the given ones, else the configuration is refused."""
    now = datetime.now(UTC).replace(microsecond=0)
    values = {k: v for k, v in _SAMPLE.items() if k in model.model_fields}
    values.update({"start_time": now, "end_time": now, "created_at": now, **fixed})
    values = {k: v for k, v in values.items() if k in model.model_fields}
    try:
        avro = model.model_validate(values).to_avro()
    except ValidationError as exc:
        problems = problem_text(field_errors(exc))
        raise ConfigError(f"{what} would write an invalid {model.avro_name}: {problems}"
                          ) from None
    changed = sorted(k for k, v in fixed.items() if avro[k] != v)
    if changed:
        raise ConfigError(f"{what}: {model.avro_name} would change {', '.join(changed)}")


class OutputTemplates:
    """Every processing-record and alert template the configuration allows."""

    def __init__(self, config: HubConfig, policies: Mapping[str, CompiledPolicy]) -> None:
        self._record = RecordWriter(load_schema("ProcessingRecord"))
        self._alert = RecordWriter(load_schema("TeamAlert"))
        self.decisions: dict[tuple[str, str, str, str, str | None], Template] = {}
        self.alerts: dict[tuple[str, str, str, bool], Template] = {}
        self.no_policy: dict[tuple[str, str | None], Template] = {}
        for event_type in ("debt-signal", "eviction-risk", "youth-care-exit"):
            if event_type not in policies:
                for m in config.municipalities:
                    self.no_policy_template(event_type, m.code)
        for event_type, policy in policies.items():
            teams = [t for t in config.teams if event_type in t.event_types]
            for rule in policy.rules():
                for team in teams:
                    for code in rule.refusal_codes():
                        self.decision_template(event_type, team.id, team.municipality,
                                               rule.name, rule.processing_activity, code, None)
                    for basis in _BASES:
                        self.decision_template(event_type, team.id, team.municipality,
                                               rule.name, rule.processing_activity,
                                               "FORWARDED", basis)
                        for urgent in (False, True):
                            self.alert_template(event_type, team.id, team.municipality,
                                                basis, urgent)

    def decision_template(self, event_type: str, team_id: str, municipality: str,
                          rule_name: str, activity: str, reason_code: str,
                          legal_basis: str | None) -> Template:
        """The ProcessingRecord of one decision (made and validated on first use)."""
        key = (event_type, team_id, rule_name, reason_code, legal_basis)
        found = self.decisions.get(key)
        if found is None:
            forwarded = reason_code == "FORWARDED"
            fixed: dict[str, Any] = {
                "parent_span_id": None, "name": f"route-signal:{team_id}", "status": "OK",
                "processing_activity_id": activity,
                "data_subject_id_type": "signalhub-pseudonym",
                "outcome": "FORWARDED" if forwarded else "REFUSED", "reason_code": reason_code,
                "reason_detail": f"rule {rule_name}", "legal_basis": legal_basis,
                "team_id": team_id, "municipality_code": municipality, "event_type": event_type,
                "counts": None,
            }
            sample = {**fixed, "alert_id": str(uuid.UUID(int=2)) if forwarded else None}
            _checked(ProcessingRecord, sample, f"rule {event_type}/{rule_name} for team {team_id}")
            found = self.decisions[key] = self._record.template(fixed)
        return found

    def alert_template(self, event_type: str, team_id: str, municipality: str,
                       legal_basis: str, urgent: bool) -> Template:
        """The TeamAlert of one forward (made and validated on first use)."""
        key = (event_type, team_id, legal_basis, urgent)
        found = self.alerts.get(key)
        if found is None:
            fixed: dict[str, Any] = {
                "event_type": event_type, "team_id": team_id, "municipality_code": municipality,
                "urgency": "URGENT" if urgent else "NORMAL", "legal_basis": legal_basis,
            }
            _checked(TeamAlert, {**fixed, "alert_id": str(uuid.UUID(int=2))},
                     f"{event_type} alerts for team {team_id}")
            found = self.alerts[key] = self._alert.template(fixed)
        return found

    def no_policy_template(self, event_type: str, municipality: str | None) -> Template:
        """The ProcessingRecord of a signal whose event type has no policy."""
        key = (event_type, municipality)
        found = self.no_policy.get(key)
        if found is None:
            fixed: dict[str, Any] = {
                "parent_span_id": None, "name": "route-signal", "status": "OK",
                "processing_activity_id": INTAKE_ACTIVITY,
                "data_subject_id_type": "signalhub-pseudonym", "outcome": "REFUSED",
                "reason_code": "NO_POLICY", "reason_detail": None, "legal_basis": None,
                "team_id": None, "municipality_code": municipality, "event_type": event_type,
                "alert_id": None, "counts": None,
            }
            _checked(ProcessingRecord, fixed, f"{event_type} without a policy")
            found = self.no_policy[key] = self._record.template(fixed)
        return found
