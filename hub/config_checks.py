"""Checks across the whole configuration, after pydantic has checked each part.

:func:`cross_check` returns every problem as ``"path: reason"`` (``parse_config`` puts
the file name in front), for example::

    teams[2].municipality: unknown municipality 'GM0001' (known: GM9999)

What is checked: municipality codes and team ids are unique; area ranges run forwards;
a team's municipality exists and its areas lie inside that municipality's areas; no two
municipalities claim the same ground at the same specificity; every field a policy names
exists in the event type's schema, and condition values and case keys are valid symbols
of enum fields; every team and role a policy or overlaps rule names exists; a consent
rule names its purpose and a covenant rule its sources; no two teams of one
municipality and role that receive the same event type overlap at the same specificity
with equal priority, unless an ``overlaps`` rule says they share that ground; and every
webhook URL is an https URL of a public host or of one ``webhooks.allow_private`` lists
(:mod:`hub.webhook_targets`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from hub.config import Condition, EventPolicy, HubConfig, PolicyRule, RuleOverride, Team
from hub.directory import HOUSE, LEVEL_NAMES, Area, parse_area
from hub.events import EVENT_TYPES
from hub.values import field_errors

__all__ = ["cross_check"]

#: a pseudo-field: ``urgent: true`` in a case becomes ``{field: event_id, values: ["*"]}``
_ANY_EVENT = ("event_id", "*")


def cross_check(config: HubConfig) -> list[str]:
    """Every problem of ``config`` as ``"path: reason"``; an empty list when it is sound."""
    problems: list[str] = []
    mun_areas = _municipalities(config, problems)
    team_areas = _teams(config, mun_areas, problems)
    _overlap_rules(config, problems)
    for event_type, policy in config.policies.items():
        _policy(config, event_type, policy, problems)
    _team_overlaps(config, team_areas, problems)
    _webhook_urls(config, problems)
    return problems


def _webhook_urls(config: HubConfig, problems: list[str]) -> None:
    targets = config.webhooks.policy()
    for i, team in enumerate(config.teams):
        webhook = team.deliveries.webhook
        problem = None if webhook is None else targets.url_problem(webhook.url)
        if problem is not None:
            problems.append(
                f"teams[{i}].deliveries.webhook.url: team '{team.id}': {problem}"
            )


# --- areas -------------------------------------------------------------------------------


def _parsed(texts: list[str], path: str, problems: list[str]) -> list[tuple[int, Area]]:
    out: list[tuple[int, Area]] = []
    for k, text in enumerate(texts):
        try:
            out.append((k, parse_area(text)))
        except ValueError as exc:
            problems.append(f"{path}[{k}]: {exc}")
    return out


def _first_gap(lo: int, hi: int, covered: Iterable[tuple[int, int]]) -> int | None:
    """The lowest value in ``lo..hi`` outside every interval, or None."""
    at = lo
    for start, end in sorted(covered):
        if start > at:
            break
        at = max(at, end + 1)
        if at > hi:
            return None
    return at if at <= hi else None


def _uncovered(area: Area, by: Iterable[Area]) -> str | None:
    """An example address of ``area`` that no area in ``by`` contains, or None."""
    by = list(by)
    whole_pc4 = [(b.pc4_lo, b.pc4_hi) for b in by if b.letters is None]
    gap = _first_gap(area.pc4_lo, area.pc4_hi, whole_pc4)
    if gap is None:
        return None
    if area.letters is None:
        return str(gap)
    house = [(b.hn_lo, b.hn_hi) for b in by if b.pc4_lo == gap and b.letters == area.letters]
    number = _first_gap(area.hn_lo, area.hn_hi, house)
    if number is None:
        return None
    if area.level < HOUSE and number == 1:
        return f"{gap}{area.letters}"
    return f"{gap}{area.letters} {number}"


def _overlap(a: Area, b: Area, excluded: list[Area]) -> str | None:
    """An example address that lies in both ``a`` and ``b`` and in no ``excluded`` area."""
    if a.letters is not None and b.letters is not None and a.letters != b.letters:
        return None
    lo, hi = max(a.pc4_lo, b.pc4_lo), min(a.pc4_hi, b.pc4_hi)
    hn_lo, hn_hi = max(a.hn_lo, b.hn_lo), min(a.hn_hi, b.hn_hi)
    if lo > hi or hn_lo > hn_hi:
        return None
    letters = a.letters if a.letters is not None else b.letters
    level = max(a.level, b.level)
    both = Area("", level, lo, hi, letters, hn_lo, hn_hi)
    return _uncovered(both, excluded)


# --- municipalities and teams ------------------------------------------------------------


def _municipalities(config: HubConfig, problems: list[str]) -> dict[str, list[Area]]:
    seen: dict[str, int] = {}
    areas: dict[str, list[Area]] = {}
    # (level, PC4) -> areas claimed so far: (code, path, area); one report per pair
    claimed: dict[tuple[int, int], list[tuple[str, str, Area]]] = {}
    for i, mun in enumerate(config.municipalities):
        if mun.code in seen:
            problems.append(
                f"municipalities[{i}].code: duplicate municipality {mun.code}"
                f" (also municipalities[{seen[mun.code]}])"
            )
            continue
        seen[mun.code] = i
        parsed = _parsed(mun.areas, f"municipalities[{i}].areas", problems)
        areas[mun.code] = [area for _, area in parsed]
        for k, area in parsed:
            path = f"municipalities[{i}].areas[{k}]"
            reported: set[str] = set()
            for pc4 in range(area.pc4_lo, area.pc4_hi + 1):
                bucket = claimed.setdefault((area.level, pc4), [])
                for other_code, other_path, other in bucket:
                    if other_code == mun.code or other_path in reported:
                        continue
                    example = _overlap(area, other, [])
                    if example is None:
                        continue
                    reported.add(other_path)
                    problems.append(
                        f"{path}: {mun.code} area {area.text} overlaps {other_code} area"
                        f" {other.text} ({other_path}) at the same specificity"
                        f" ({LEVEL_NAMES[area.level]}), e.g. {example}; give the shared"
                        " ground to one of them, or list its PC6 codes under the"
                        " municipality they belong to (the more specific area wins)"
                    )
                bucket.append((mun.code, path, area))
    return areas


def _teams(
    config: HubConfig, mun_areas: dict[str, list[Area]], problems: list[str]
) -> dict[str, list[tuple[int, Area]]]:
    seen: dict[str, int] = {}
    known = ", ".join(m.code for m in config.municipalities)
    team_areas: dict[str, list[tuple[int, Area]]] = {}
    for i, team in enumerate(config.teams):
        if team.id in seen:
            problems.append(
                f"teams[{i}].id: duplicate team id '{team.id}' (also teams[{seen[team.id]}])"
            )
        else:
            seen[team.id] = i
        parsed = _parsed(team.areas, f"teams[{i}].areas", problems)
        excludes = _parsed(team.exclude, f"teams[{i}].exclude", problems)
        if team.id not in team_areas:
            team_areas[team.id] = parsed
        if team.municipality not in mun_areas:
            problems.append(
                f"teams[{i}].municipality: unknown municipality '{team.municipality}'"
                f" (known: {known})"
            )
            continue
        municipality = mun_areas[team.municipality]
        for k, area in parsed:
            outside = _uncovered(area, municipality)
            if outside is not None:
                problems.append(
                    f"teams[{i}].areas[{k}]: {area.text} is not inside the areas of"
                    f" {team.municipality} (e.g. {outside} is outside them)"
                )
        for k, ex in excludes:
            if all(_overlap(ex, area, []) is None for _, area in parsed):
                problems.append(
                    f"teams[{i}].exclude[{k}]: {ex.text} is not inside the team's areas,"
                    " so it excludes nothing"
                )
    return team_areas


def _overlap_rules(config: HubConfig, problems: list[str]) -> None:
    teams = {team.id: team for team in config.teams}
    known = ", ".join(teams)
    for n, rule in enumerate(config.overlaps):
        first: Team | None = None
        for k, team_id in enumerate(rule.teams):
            path = f"overlaps[{n}].teams[{k}]"
            if team_id in rule.teams[:k]:
                problems.append(f"{path}: team '{team_id}' is listed twice")
                continue
            team = teams.get(team_id)
            if team is None:
                problems.append(f"{path}: unknown team '{team_id}' (known: {known})")
            elif first is None:
                first = team
            elif (team.role, team.municipality) != (first.role, first.municipality):
                problems.append(
                    f"{path}: team '{team_id}' ({team.role}, {team.municipality}) is not of the"
                    f" role and municipality of '{first.id}' ({first.role},"
                    f" {first.municipality}); an overlaps rule is for teams of one role"
                )


def _team_overlaps(
    config: HubConfig, team_areas: dict[str, list[tuple[int, Area]]], problems: list[str]
) -> None:
    """Two teams of one municipality and role, receiving a common event type, that claim
    the same ground at the same specificity with equal priority."""
    index = {team.id: i for i, team in reversed(list(enumerate(config.teams)))}
    groups: dict[tuple[str, str, int], list[Team]] = {}
    for i in sorted(index.values()):
        team = config.teams[i]
        groups.setdefault((team.municipality, team.role, team.priority), []).append(team)
    pairs = [(a, b) for teams in groups.values() for j, b in enumerate(teams) for a in teams[:j]]
    for a, b in sorted(pairs, key=lambda pair: (index[pair[1].id], index[pair[0].id])):
        common = [t for t in a.event_types if t in b.event_types]
        if not common:
            continue
        rules = [n for n, r in enumerate(config.overlaps) if {a.id, b.id} <= set(r.teams)]
        if any(config.overlaps[n].resolve == "all" for n in rules):
            continue
        rule = rules[0] if rules else None
        excluded = _parsed_quiet(a.exclude) + _parsed_quiet(b.exclude)
        found = _first_overlap(team_areas[a.id], team_areas[b.id], excluded)
        if found is None:
            continue
        ka, kb, level, example = found
        where = (
            f"teams[{index[b.id]}].areas[{kb}]: team '{b.id}' overlaps team '{a.id}'"
            f" (teams[{index[a.id]}].areas[{ka}]) for role {b.role} in {b.municipality}:"
            f" both receive {', '.join(common)} at the same specificity"
            f" ({LEVEL_NAMES[level]}) with priority {a.priority}, e.g. postcode {example}"
        )
        if rule is None:
            problems.append(
                f"{where}; give one a higher priority, add an exclude, or add an overlaps"
                " rule listing both"
            )
        else:
            problems.append(
                f"{where}; overlaps[{rule}] lists both with resolve: priority, but their"
                " priorities are equal: give one a higher priority, or use resolve: all"
            )


def _parsed_quiet(texts: list[str]) -> list[Area]:
    return [area for _, area in _parsed(texts, "", [])]


def _first_overlap(
    a: list[tuple[int, Area]], b: list[tuple[int, Area]], excluded: list[Area]
) -> tuple[int, int, int, str] | None:
    # PC6-level areas can only meet areas of the same PC6: look those up, scan the rest
    pc6: dict[tuple[int, int, str | None], list[tuple[int, Area]]] = {}
    pc4: dict[int, list[tuple[int, Area]]] = {}
    for kb, area_b in b:
        if area_b.letters is None:
            pc4.setdefault(area_b.level, []).append((kb, area_b))
        else:
            pc6.setdefault((area_b.level, area_b.pc4_lo, area_b.letters), []).append((kb, area_b))
    for ka, area_a in a:
        if area_a.letters is None:
            same = pc4.get(area_a.level, [])
        else:
            same = pc6.get((area_a.level, area_a.pc4_lo, area_a.letters), [])
        for kb, area_b in same:
            example = _overlap(area_a, area_b, excluded)
            if example is not None:
                return ka, kb, area_a.level, example
    return None


# --- policies ----------------------------------------------------------------------------


def _enum_of(annotation: Any) -> type[enum.Enum] | None:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation
    for arg in get_args(annotation):
        found = _enum_of(arg)
        if found is not None:
            return found
    return None


def _policy(config: HubConfig, event_type: str, policy: EventPolicy, problems: list[str]) -> None:
    model: type[BaseModel] = EVENT_TYPES[event_type]
    base = f"policies.{event_type}"
    _rule(config, model, policy.default, f"{base}.default", problems)
    if policy.cases_by is None:
        if policy.cases:
            problems.append(f"{base}.cases: cases need cases_by (the field that selects one)")
    else:
        field = model.model_fields.get(policy.cases_by)
        kind = None if field is None else _enum_of(field.annotation)
        if field is None:
            problems.append(f"{base}.cases_by: {_unknown_field(model, policy.cases_by)}")
        elif kind is not None:
            symbols = [str(m.value) for m in kind]
            for key in (key for key in policy.cases if key not in symbols):
                problems.append(
                    f"{base}.cases.{key}: '{key}' is not a value of {policy.cases_by}"
                    f" (one of {', '.join(symbols)})"
                )
        for key, override in policy.cases.items():
            path = f"{base}.cases.{key}"
            _rule(config, model, override, path, problems)
            try:
                rule = policy.merge_case(key)
            except ValidationError as exc:
                problems += [f"{path}.{e.field}: {e.message}"
                             for e in field_errors(exc, style="path")]
                continue
            _basis(rule, path, problems, set(override.model_dump(exclude_none=True)))
    _basis(policy.default, f"{base}.default", problems, None)


def _rule(
    config: HubConfig,
    model: type[BaseModel],
    rule: PolicyRule | RuleOverride,
    path: str,
    problems: list[str],
) -> None:
    """Names in one rule or override: roles, teams, fields, conditions."""
    roles = sorted({team.role for team in config.teams})
    role_list = ", ".join(roles)
    team_ids = [team.id for team in config.teams]
    for k, role in enumerate(rule.roles or []):
        if role not in roles:
            problems.append(f"{path}.roles[{k}]: unknown role '{role}' (teams have: {role_list})")
    for role, names in (rule.fields or {}).items():
        if role not in roles:
            problems.append(
                f"{path}.fields.{role}: unknown role '{role}' (teams have: {role_list})"
            )
        for k, name in enumerate(names):
            if name not in model.model_fields:
                problems.append(f"{path}.fields.{role}[{k}]: {_unknown_field(model, name)}")
    for k, team_id in enumerate(rule.teams or []):
        if team_id not in team_ids:
            problems.append(
                f"{path}.teams[{k}]: unknown team '{team_id}' (known: {', '.join(team_ids)})"
            )
    for key in ("block_when", "urgent_when"):
        conditions: list[Condition] = getattr(rule, key) or []
        for k, condition in enumerate(conditions):
            _condition(model, condition, f"{path}.{key}[{k}]", problems)


def _condition(
    model: type[BaseModel], condition: Condition, path: str, problems: list[str]
) -> None:
    if (condition.field, condition.values) == (_ANY_EVENT[0], [_ANY_EVENT[1]]):
        return
    field = model.model_fields.get(condition.field)
    if field is None:
        problems.append(f"{path}.field: {_unknown_field(model, condition.field)}")
        return
    kind = _enum_of(field.annotation)
    for k, value in enumerate(condition.values):
        if field.annotation is bool and not isinstance(value, bool):
            problems.append(
                f"{path}.values[{k}]: {value!r} is not true or false"
                f" ({condition.field} is a boolean)"
            )
        elif kind is not None and str(value) not in {str(m.value) for m in kind}:
            problems.append(
                f"{path}.values[{k}]: {value!r} is not a {kind.__name__}"
                f" (one of {', '.join(str(m.value) for m in kind)})"
            )


def _basis(rule: PolicyRule, path: str, problems: list[str], touched: set[str] | None) -> None:
    """What a legal basis needs, and roles that would receive no fields. For a case,
    ``touched`` are the keys its override sets: what it inherits is checked at the default."""

    def sets(*keys: str) -> bool:
        return touched is None or not touched.isdisjoint(keys)

    if (
        rule.legal_basis == "consent"
        and not rule.consent_purpose
        and sets("legal_basis", "consent_purpose")
    ):
        problems.append(
            f"{path}.consent_purpose: legal_basis consent needs the consent_purpose to check"
        )
    if (
        rule.legal_basis == "covenant"
        and not rule.covenant_sources
        and sets("legal_basis", "covenant_sources")
    ):
        problems.append(
            f"{path}.covenant_sources: legal_basis covenant needs the sources that have one"
        )
    if rule.forward and sets("roles", "fields", "forward"):
        for k, role in enumerate(rule.roles):
            if role not in rule.fields:
                problems.append(
                    f"{path}.roles[{k}]: role '{role}' has no entry in fields, so it would"
                    f" receive no data; add fields.{role}"
                )


def _unknown_field(model: type[BaseModel], name: str) -> str:
    known = ", ".join(model.model_fields)
    return f"unknown field '{name}' (not in the {model.__name__} schema; known: {known})"
