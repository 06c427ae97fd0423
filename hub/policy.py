"""The legal-basis policy: for one signal and one team, forward or refuse, and what.

Deny by default: a team whose role the rule does not name, a block condition, a missing
covenant or a consent that is not valid right now all refuse, each with a reason code.
Refusals are decisions, not errors. Every decision can carry a trace for
``signalhub explain``.

Rules are compiled once (:func:`compile_policy`, done by :mod:`hub.routing` when the
configuration is loaded): conditions become sets of texts, role and team lists sets, the
consent purpose is resolved; deciding a signal then builds no rules or conditions and
reads no pydantic attributes. :func:`decide` is the same decision for an
:class:`~hub.config.EventPolicy` as it stands (it compiles the policy first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from hub import workdays
from hub.config import Condition, EventPolicy, PolicyRule, Team
from hub.consent import ConsentCheck

__all__ = [
    "CompiledCondition",
    "CompiledPolicy",
    "CompiledRule",
    "ConsentLookup",
    "Decision",
    "IDENTITY_FIELDS",
    "add_working_days",
    "compile_policy",
    "compile_rule",
    "decide",
    "decide_rule",
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
    """``start`` plus ``days`` working days: Monday to Friday except the Dutch public
    holidays (the hub's one working-day calendar, :mod:`hub.workdays`)."""
    return workdays.add_working_days(start, days)


def _as_text(value: Any) -> str:
    """A field value as text: booleans as true/false, lists comma-separated, dates in
    ISO form, enums as their symbols."""
    convert = _TEXT.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, str):  # a StrEnum: its value
        _TEXT[type(value)] = str  # (next time found at once)
        return str(value)
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


_TEXT: dict[type, Callable[[Any], str]] = {
    str: str, int: str, bool: {True: "true", False: "false"}.__getitem__,
    date: date.isoformat, datetime: datetime.isoformat,
}


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A :class:`~hub.config.Condition` as plain data."""

    field: str
    texts: frozenset[str]
    any_value: bool

    @classmethod
    def of(cls, condition: Condition) -> CompiledCondition:
        return cls(condition.field, condition.texts, condition.any_value)

    def holds(self, record: dict[str, Any]) -> bool:
        value = record.get(self.field)
        if value is None:
            return False
        if self.any_value:
            return True
        convert = _TEXT.get(type(value))
        return (convert(value) if convert is not None else _as_text(value)) in self.texts


def matches(condition: Condition | CompiledCondition, record: dict[str, Any]) -> bool:
    """Whether ``record`` meets ``condition`` ("*" matches any present value)."""
    compiled = condition if isinstance(condition, CompiledCondition) else (
        CompiledCondition.of(condition))
    return compiled.holds(record)


def _block_code(field_name: str) -> str:
    if field_name == "objection_recorded":
        return "OBJECTION_RECORDED"
    return f"BLOCKED_BY_{field_name.upper()}"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One :class:`~hub.config.PolicyRule` of one event type, ready to apply."""

    name: str
    event_type: str
    legal_basis: str
    processing_activity: str
    roles: frozenset[str]
    #: roles in configuration order, for the trace
    role_list: tuple[str, ...]
    teams: frozenset[str] | None
    team_list: tuple[str, ...]
    forward: bool
    #: (condition, reason code) in configuration order
    block_when: tuple[tuple[CompiledCondition, str], ...]
    urgent_when: tuple[CompiledCondition, ...]
    due_working_days: int
    #: the purpose a consent must name (the rule's, else the event type)
    consent_purpose: str
    covenant_sources: frozenset[str]
    #: per role, the fields it may see, in configuration order
    fields: dict[str, tuple[str, ...]]

    def refusal_codes(self) -> tuple[str, ...]:
        """Every reason code a refusal by this rule can carry."""
        codes = ["ROLE_NOT_ALLOWED", "TEAM_NOT_ALLOWED", "NOT_FORWARDED_BY_POLICY",
                 *(code for _, code in self.block_when), "NO_COVENANT"]
        from hub.consent.model import ConsentStatus

        codes += [f"CONSENT_{s.value}" for s in ConsentStatus if s is not ConsentStatus.VALID]
        return tuple(dict.fromkeys(codes))


def compile_rule(rule: PolicyRule, event_type: str, name: str) -> CompiledRule:
    return CompiledRule(
        name=name,
        event_type=event_type,
        legal_basis=rule.legal_basis,
        processing_activity=rule.processing_activity,
        roles=frozenset(rule.roles),
        role_list=tuple(rule.roles),
        teams=None if rule.teams is None else frozenset(rule.teams),
        team_list=tuple(rule.teams or ()),
        forward=rule.forward,
        block_when=tuple((CompiledCondition.of(c), _block_code(c.field))
                         for c in rule.block_when),
        urgent_when=tuple(CompiledCondition.of(c) for c in rule.urgent_when),
        due_working_days=rule.due_working_days,
        consent_purpose=rule.consent_purpose or event_type,
        covenant_sources=frozenset(rule.covenant_sources),
        fields={role: tuple(names) for role, names in rule.fields.items()},
    )


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """An :class:`~hub.config.EventPolicy` with every case compiled."""

    event_type: str
    cases_by: str | None
    default: CompiledRule
    cases: dict[str, CompiledRule]
    #: the configuration's policy, for cases that did not merge into a valid rule
    source: EventPolicy

    def rule_for(self, record: dict[str, Any]) -> CompiledRule:
        """The rule that applies to ``record`` (its ``name`` names it in the trace)."""
        if self.cases_by is None:
            return self.default
        value = str(record.get(self.cases_by))
        rule = self.cases.get(value)
        if rule is not None:
            return rule
        if value in self.source.cases:  # an invalid case: raises its ValidationError
            self.source.merge_case(value)
        return self.default

    def rules(self) -> list[CompiledRule]:
        return [self.default, *self.cases.values()]


def compile_policy(event_type: str, policy: EventPolicy) -> CompiledPolicy:
    cases = {}
    for value in policy.cases:
        try:
            rule, name = policy.rule_for({policy.cases_by or "": value})
        except ValidationError:
            continue  # refused by the config checks; rule_for raises it when used
        if name != "default":
            cases[value] = compile_rule(rule, event_type, name)
    return CompiledPolicy(event_type, policy.cases_by,
                          compile_rule(policy.default, event_type, "default"), cases, policy)


def _minimise(
    rule: CompiledRule, role: str, record: dict[str, Any], explain: bool
) -> tuple[dict[str, str], tuple[str, ...]]:
    """(fields kept, fields dropped); the dropped ones only with ``explain``."""
    kept: dict[str, str] = {}
    text_of = _TEXT.get
    for f in rule.fields.get(role, ()):
        value = record.get(f)
        if value is not None:
            convert = text_of(type(value))  # (the common types without a call of ours)
            kept[f] = convert(value) if convert is not None else _as_text(value)
    if not explain:
        return kept, ()
    dropped = tuple(
        sorted(
            f
            for f, v in record.items()
            if v is not None and f not in kept and f not in IDENTITY_FIELDS
        )
    )
    return kept, dropped


def _legal_basis(
    rule: CompiledRule,
    record: dict[str, Any],
    team: Team,
    consent: ConsentLookup,
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
    purpose = rule.consent_purpose
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


def decide_rule(
    rule: CompiledRule,
    record: dict[str, Any],
    team: Team,
    consent: ConsentLookup,
    today: date,
    *,
    explain: bool = True,
) -> Decision:
    """Apply the compiled ``rule`` to ``record`` for ``team``. ``explain=False``: the
    decision is the same but its trace and ``dropped`` are empty (the routing path does
    not use them)."""
    trace = (
        [f"rule {rule.event_type}/{rule.name} applies to team {team.id} (role {team.role})"]
        if explain
        else None
    )

    def refuse(code: str, basis: str | None = None, consent_id: str | None = None) -> Decision:
        return Decision(team, False, code, rule.name, rule.processing_activity, basis,
                        consent_id=consent_id, trace=tuple(trace or ()))

    if team.role not in rule.roles:
        if trace is not None:
            trace.append(f"role {team.role} may not receive it"
                         f" (roles: {', '.join(rule.role_list)})")
        return refuse("ROLE_NOT_ALLOWED")
    if rule.teams is not None and team.id not in rule.teams:
        if trace is not None:
            trace.append(f"rule names only teams {', '.join(rule.team_list)}")
        return refuse("TEAM_NOT_ALLOWED")
    if not rule.forward:
        if trace is not None:
            trace.append("policy records this case but forwards nothing")
        return refuse("NOT_FORWARDED_BY_POLICY")
    for condition, code in rule.block_when:
        if condition.holds(record):
            if trace is not None:
                trace.append(f"blocked: {condition.field} is {_as_text(record[condition.field])}")
            return refuse(code)
    basis, code, consent_id = _legal_basis(rule, record, team, consent, trace)
    if basis is None:
        return refuse(code, consent_id=consent_id)
    kept, dropped = _minimise(rule, team.role, record, explain)
    if trace is not None:
        trace.append(f"fields kept for role {team.role}: {', '.join(kept) or '(none)'}")
        trace.append(f"fields dropped: {', '.join(dropped) or '(none)'}")
    urgent = any(c.holds(record) for c in rule.urgent_when)
    due = add_working_days(today, rule.due_working_days) if urgent else None
    if urgent and trace is not None:
        trace.append(f"urgent: due within {rule.due_working_days} working days ({due})")
    return Decision(team, True, "FORWARDED", rule.name, rule.processing_activity, basis, kept,
                    dropped, urgent, due, consent_id, tuple(trace or ()))


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
    """Apply ``policy`` to ``record`` for ``team`` (see :func:`decide_rule`; the router
    compiles its policies once instead)."""
    rule = compile_policy(event_type, policy).rule_for(record)
    return decide_rule(rule, record, team, consent, today, explain=explain)
