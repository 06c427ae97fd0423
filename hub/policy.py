"""The legal-basis policy: for one signal and one team, forward or refuse, and what.

Deny by default: a team whose role the rule does not name, a block condition, a missing
covenant or a consent that is not valid right now all refuse, each with a reason code.
Refusals are decisions, not errors. Every decision carries a trace for
``signalhub explain`` and for the processing record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hub.config import Condition, EventPolicy, PolicyRule, Team
from hub.consent import ConsentCheck

__all__ = [
    "ConsentLookup",
    "Decision",
    "IDENTITY_FIELDS",
    "add_working_days",
    "decide",
    "matches",
]

#: fields every alert carries anyway (in TeamAlert's own fields), never in ``fields``
IDENTITY_FIELDS = frozenset(
    {"event_id", "subject_ref", "municipality_code", "source", "occurred_at", "received_at"}
)

ConsentLookup = Callable[[str, Team], ConsentCheck]
"""(purpose, team) -> the ledger's answer for this signal's subject, now."""


@dataclass(frozen=True, slots=True)
class Decision:
    team: Team
    forwarded: bool
    reason_code: str
    rule_name: str
    processing_activity: str
    legal_basis: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    urgent: bool = False
    due_date: date | None = None
    consent_id: str | None = None
    trace: tuple[str, ...] = ()


def add_working_days(start: date, days: int) -> date:
    """``start`` plus ``days`` working days (Monday to Friday; public holidays are not
    known to the hub, so a due date may fall on one: documented in docs/policy.md)."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def matches(condition: Condition, record: dict[str, Any]) -> bool:
    """Whether ``record`` meets ``condition`` ("*" matches any present value)."""
    value = record.get(condition.field)
    if value is None:
        return False
    return condition.any_value or _as_text(value) in condition.texts


def _minimise(
    rule: PolicyRule, role: str, record: dict[str, Any]
) -> tuple[dict[str, str], tuple[str, ...]]:
    allowed = rule.fields.get(role, [])
    kept = {f: _as_text(record[f]) for f in allowed if record.get(f) is not None}
    dropped = tuple(
        sorted(
            f
            for f in record
            if f not in kept and f not in IDENTITY_FIELDS and record.get(f) is not None
        )
    )
    return kept, dropped


def _legal_basis(
    rule: PolicyRule,
    record: dict[str, Any],
    team: Team,
    consent: ConsentLookup,
    event_type: str,
    trace: list[str] | None,
) -> tuple[str | None, str, str | None]:
    """(basis, reason code, consent id); basis None means refused. ``trace`` None: no
    trace lines are built."""
    if rule.legal_basis == "statutory":
        if trace is not None:
            trace.append("legal basis: statutory (no consent needed)")
        return "statutory", "FORWARDED", None
    source = str(record.get("source", ""))
    if source in rule.covenant_sources:
        if trace is not None:
            trace.append(f"legal basis: covenant with source {source}")
        return "covenant", "FORWARDED", None
    if rule.legal_basis == "covenant":
        if trace is not None:
            trace.append(f"no covenant with source {source}: refused")
        return None, "NO_COVENANT", None
    purpose = rule.consent_purpose or event_type
    check = consent(purpose, team)
    if check.status == "VALID":
        if trace is not None:
            trace.append(f"consent {check.consent_id} for purpose {purpose!r} covers {team.id}")
        return "consent", "FORWARDED", check.consent_id
    if trace is not None:
        trace.append(
            f"consent for purpose {purpose!r} and {team.id}: {check.status} ({check.detail}):"
            " refused"
        )
    return None, f"CONSENT_{check.status}", check.consent_id


def decide(
    policy: EventPolicy,
    event_type: str,
    record: dict[str, Any],
    team: Team,
    consent: ConsentLookup,
    today: date,
    *,
    explain: bool = True,
) -> Decision:
    """Apply ``policy`` to ``record`` for ``team``. ``explain=False``: the decision is the
    same but its trace is empty (the routing path does not use it)."""
    rule, rule_name = policy.rule_for(record)
    trace = (
        [f"rule {event_type}/{rule_name} applies to team {team.id} (role {team.role})"]
        if explain
        else None
    )

    def refuse(code: str, basis: str | None = None, consent_id: str | None = None) -> Decision:
        return Decision(
            team,
            False,
            code,
            rule_name,
            rule.processing_activity,
            basis,
            consent_id=consent_id,
            trace=tuple(trace or ()),
        )

    if team.role not in rule.roles:
        if trace is not None:
            trace.append(f"role {team.role} may not receive it (roles: {', '.join(rule.roles)})")
        return refuse("ROLE_NOT_ALLOWED")
    if rule.teams is not None and team.id not in rule.teams:
        if trace is not None:
            trace.append(f"rule names only teams {', '.join(rule.teams)}")
        return refuse("TEAM_NOT_ALLOWED")
    if not rule.forward:
        if trace is not None:
            trace.append("policy records this case but forwards nothing")
        return refuse("NOT_FORWARDED_BY_POLICY")
    for condition in rule.block_when:
        if matches(condition, record):
            if trace is not None:
                trace.append(f"blocked: {condition.field} is {_as_text(record[condition.field])}")
            code = (
                "OBJECTION_RECORDED"
                if condition.field == "objection_recorded"
                else f"BLOCKED_BY_{condition.field.upper()}"
            )
            return refuse(code)
    basis, code, consent_id = _legal_basis(rule, record, team, consent, event_type, trace)
    if basis is None:
        return refuse(code, consent_id=consent_id)
    kept, dropped = _minimise(rule, team.role, record)
    if trace is not None:
        trace.append(f"fields kept for role {team.role}: {', '.join(kept) or '(none)'}")
        trace.append(f"fields dropped: {', '.join(dropped) or '(none)'}")
    urgent = any(matches(c, record) for c in rule.urgent_when)
    due = add_working_days(today, rule.due_working_days) if urgent else None
    if urgent and trace is not None:
        trace.append(f"urgent: due within {rule.due_working_days} working days ({due})")
    return Decision(
        team,
        True,
        "FORWARDED",
        rule_name,
        rule.processing_activity,
        basis,
        kept,
        dropped,
        urgent,
        due,
        consent_id,
        tuple(trace or ()),
    )
