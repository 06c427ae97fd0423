"""The hub's configuration file (``hub.yaml``): municipalities, teams, policies.

Read once at start-up and validated as a whole; any error names the file, the path
inside it and the reason, and the hub does not start. See ``docs/config.md`` and the
documented example ``examples/hub.yaml``.

Policies are data, not code: per event type a default :class:`PolicyRule`, optionally
overridden per value of one field (``cases_by: stage`` for eviction-risk). Each case is
merged with the default once, when the configuration is read; routing a signal builds no
rules or conditions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from hub.errors import ConfigError
from hub.values import MUNICIPALITY_CODE_PATTERN, field_errors, normalise_area
from hub.webhook_targets import TargetPolicy

__all__ = [
    "Condition",
    "Deliveries",
    "EventPolicy",
    "HubConfig",
    "Municipality",
    "OverlapRule",
    "PolicyRule",
    "RuleOverride",
    "Team",
    "WebhookDelivery",
    "WebhookTargets",
    "load_config",
    "parse_config",
]

EventType = Literal["debt-signal", "eviction-risk", "youth-care-exit"]
LegalBasis = Literal["statutory", "consent", "covenant"]

_TEAM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _areas(values: list[str]) -> list[str]:
    return [normalise_area(raw) for raw in values]


class Municipality(_Strict):
    code: str = Field(pattern=MUNICIPALITY_CODE_PATTERN, description="CBS code, e.g. GM0153")
    name: str
    areas: list[str] = Field(min_length=1, description="postcode areas the municipality covers")

    @field_validator("areas")
    @classmethod
    def _area_list(cls, v: list[str]) -> list[str]:
        return _areas(v)


class WebhookDelivery(_Strict):
    url: str
    secret_env: str | None = Field(
        None,
        description="environment variable with the whsec_ secret (several, new first,"
        " separated by spaces during a rotation)",
    )
    max_attempts: int = Field(8, ge=1)


def _allow_entry(entry: str) -> str:
    TargetPolicy.from_entries([entry])  # ValueError names what is wrong
    return entry


class WebhookTargets(_Strict):
    """Internal systems a webhook may reach (``webhooks:``; see ``hub.webhook_targets``)."""

    allow_private: list[Annotated[str, AfterValidator(_allow_entry)]] = Field(
        default_factory=list,
        description="addresses, networks (10.1.2.0/24) and host names that webhooks may"
        " reach although they are private, loopback or link-local",
    )

    def policy(self) -> TargetPolicy:
        return TargetPolicy.from_entries(self.allow_private)


class Deliveries(_Strict):
    topic: bool = True
    inbox: bool = True
    webhook: WebhookDelivery | None = None


class Team(_Strict):
    id: str = Field(description="lowercase id, used in the topic name alerts.<id>.v1")
    name: str
    municipality: str
    role: str = Field(description="debt, neighbourhood, youth, or another role you name")
    areas: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list, description="exceptions to the areas")
    event_types: list[EventType] = Field(min_length=1)
    priority: int = Field(0, description="wins over a team of the same role on equal ground")
    deliveries: Deliveries = Field(default_factory=Deliveries)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _TEAM_ID.match(v):
            raise ValueError("team id must be lowercase letters, digits and '-', 2-63 long")
        return v

    @field_validator("areas", "exclude")
    @classmethod
    def _area_list(cls, v: list[str]) -> list[str]:
        return _areas(v)


class Condition(_Strict):
    """True when the signal's ``field`` has one of ``values`` (booleans as true/false)."""

    field: str
    values: list[str | bool | int] = Field(min_length=1)
    _texts: frozenset[str] = PrivateAttr(frozenset())

    def model_post_init(self, context: Any, /) -> None:
        self._texts = frozenset(
            ("true" if v else "false") if isinstance(v, bool) else str(v) for v in self.values
        )

    @property
    def texts(self) -> frozenset[str]:
        """``values`` as text (booleans as true/false), as field values are compared."""
        return self._texts

    @property
    def any_value(self) -> bool:
        """True when "*" is one of ``values``: any present value meets the condition."""
        return "*" in self._texts


class PolicyRule(_Strict):
    legal_basis: LegalBasis
    processing_activity: str = Field(
        description="URI in the register of processing activities (Logboek Dataverwerkingen)"
    )
    roles: list[str] = Field(min_length=1, description="team roles that may receive it")
    fields: dict[str, list[str]] = Field(description="per role, the fields it may see")
    block_when: list[Condition] = Field(default_factory=list)
    urgent_when: list[Condition] = Field(default_factory=list)
    due_working_days: int = Field(
        3, ge=1, description="response time of an urgent alert, in Dutch working days")
    consent_purpose: str | None = None
    covenant_sources: list[str] = Field(
        default_factory=list, description="sources with a covenant: no consent needed"
    )
    teams: list[str] | None = Field(None, description="only these team ids (optional)")
    retention_days: int = Field(540, ge=1)
    forward: bool = Field(True, description="false: record and refuse (e.g. RESOLVED)")


class RuleOverride(_Strict):
    """A partial rule; what it leaves out comes from the event type's default."""

    legal_basis: LegalBasis | None = None
    processing_activity: str | None = None
    roles: list[str] | None = None
    fields: dict[str, list[str]] | None = None
    block_when: list[Condition] | None = None
    urgent_when: list[Condition] | None = None
    urgent: bool | None = Field(None, description="true: always urgent")
    due_working_days: int | None = None
    consent_purpose: str | None = None
    covenant_sources: list[str] | None = None
    teams: list[str] | None = None
    retention_days: int | None = None
    forward: bool | None = None


class EventPolicy(_Strict):
    default: PolicyRule
    cases_by: str | None = Field(None, description="field whose value selects a case")
    cases: dict[str, RuleOverride] = Field(default_factory=dict)
    #: per case: its rule (the default with the case's override), merged once
    _merged: dict[str, PolicyRule] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        for value in self.cases:
            try:
                self._merged[value] = self.merge_case(value)
            except ValidationError:
                continue  # reported by the config checks (merge_case again), never loaded

    def merge_case(self, value: str) -> PolicyRule:
        """The default rule with the override of case ``value`` applied; raises
        ValidationError when the result is not a valid rule."""
        data = self.default.model_dump()
        changes = self.cases[value].model_dump(exclude_none=True)
        if changes.pop("urgent", False):
            changes["urgent_when"] = [{"field": "event_id", "values": ["*"]}]
        data.update(changes)
        return PolicyRule.model_validate(data)

    def rule_for(self, record: dict[str, Any]) -> tuple[PolicyRule, str]:
        """The rule that applies to ``record`` and a name for it (for the trace)."""
        if self.cases_by is None:
            return self.default, "default"
        value = str(record.get(self.cases_by))
        rule = self._merged.get(value)
        if rule is None:
            if value in self.cases:  # an invalid case: raises its ValidationError
                rule = self.merge_case(value)
            else:
                return self.default, "default"
        return rule, f"{self.cases_by}={value}"


class OverlapRule(_Strict):
    """Two or more teams of one role that may share ground: all of them receive."""

    teams: list[str] = Field(min_length=2)
    resolve: Literal["all", "priority"] = "all"


class HubConfig(_Strict):
    municipalities: list[Municipality] = Field(min_length=1)
    teams: list[Team] = Field(min_length=1)
    policies: dict[EventType, EventPolicy]
    overlaps: list[OverlapRule] = Field(default_factory=list)
    history_days: int = Field(180, ge=1, description="window for 'earlier signals' counts")
    webhooks: WebhookTargets = Field(default_factory=WebhookTargets)

    def team(self, team_id: str) -> Team:
        for team in self.teams:
            if team.id == team_id:
                return team
        raise KeyError(team_id)


def parse_config(data: Any, source: str = "<config>") -> HubConfig:
    """Validate ``data`` (parsed YAML) into a HubConfig; raise ConfigError naming the
    file, the path and the reason of every problem."""
    try:
        config = HubConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {e.field}: {e.message}"
                 for e in field_errors(exc, whole="(top)", style="path")]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from exc
    from hub.config_checks import cross_check

    problems = cross_check(config)
    if problems:
        raise ConfigError(
            "invalid configuration:\n  " + "\n  ".join(f"{source}: {p}" for p in problems)
        )
    return config


def load_config(path: str | Path) -> HubConfig:
    """Read and validate ``hub.yaml``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, str(path))
