"""The hub's topics (naming: dots, lowercase, versioned) and how to create them.

Every topic name the hub uses is spelled here. These are the hub's own names: with
``HUB_TOPIC_PREFIX`` set, the bus puts the prefix in front of each of them on the broker
(:class:`hub.bus.prefixed.PrefixedBus`), so no other module knows about prefixes. What
each topic keeps and for how long (:class:`TopicPolicy`, from the policy's
``retention_days``): docs/operations.md, "Topics and retention".
"""

from __future__ import annotations

from hub.bus.base import Bus, TopicSpec
from hub.config import EventPolicy, HubConfig, PolicyRule

__all__ = [
    "AUDIT",
    "CONSENT",
    "DEADLETTER",
    "OUTCOMES",
    "SEALED_INTAKE",
    "SIGNAL_TOPICS",
    "TopicPolicy",
    "alerts_topic",
    "changelog_topic",
    "core_topics",
    "ensure_topics",
]

SIGNAL_TOPICS = {
    "debt-signal": "signals.debt.v1",
    "eviction-risk": "signals.eviction.v1",
    "youth-care-exit": "signals.youth-care-exit.v1",
}
#: which record each signal topic carries
SIGNAL_RECORDS = {
    "signals.debt.v1": "DebtSignal",
    "signals.eviction.v1": "EvictionRisk",
    "signals.youth-care-exit.v1": "YouthCareExit",
}
CONSENT = "consent.v1"
AUDIT = "audit.v1"
DEADLETTER = "deadletter.v1"
#: signals sealed to the hub's intake key by systems that produce directly (hub.sealed)
SEALED_INTAKE = "intake.sealed.v1"
#: whether teams picked alerts up, keyed by source URN (hub.inbox.outcomes writes,
#: hub.outcome_feed reads per source)
OUTCOMES = "outcomes.v1"
#: the first part of every changelog topic's name (:func:`changelog_topic`)
CHANGELOG_PREFIX = "changelog."


def alerts_topic(team_id: str) -> str:
    return f"alerts.{team_id}.v1"


def changelog_topic(group: str) -> str:
    """The changelog of the router group ``group`` (``changelog.router.v1``)."""
    return f"{CHANGELOG_PREFIX}{group}.v1"


DAY_MS = 86_400_000


def _rules(policy: EventPolicy) -> list[PolicyRule]:
    rules = [policy.default]
    for value in policy.cases:
        try:
            rules.append(policy.merge_case(value))
        except ValueError:  # an invalid case: the config checks report it
            continue
    return rules


class TopicPolicy:
    """What every topic is created with: partitions, cleanup policy and, from the
    ``retention_days`` of the policy's rules (``config``), ``retention.ms``.

    - ``audit.v1`` keeps processing records as long as the *longest* rule of any event
      type asks (they are the hub's account of what it did);
    - a signal topic keeps its signals as long as the *shortest* rule of its event type,
      ``alerts.<team>.v1`` as long as the shortest rule of the team's event types, and
      ``intake.sealed.v1``, ``deadletter.v1`` and ``outcomes.v1`` as long as the shortest
      rule of all: they carry personal data on its way, and a topic cannot keep one
      record longer than another;
    - ``consent.v1`` and the changelogs are compacted (a tombstone forgets a consent or a
      person), with no time limit.

    A topic with ``retention.ms`` rolls a new segment at least daily (``segment.ms``), so
    a record goes at most a day after its retention. Without ``config`` (a command that
    has no hub.yaml) topics are made without ``retention.ms``: the broker's default.
    """

    def __init__(self, config: HubConfig | None) -> None:
        self.config = config

    def _days(self, event_types: list[str] | None, longest: bool) -> int | None:
        if self.config is None:
            return None
        policies = self.config.policies
        chosen = [p for t, p in policies.items() if event_types is None or t in event_types]
        days = [r.retention_days for p in chosen or policies.values() for r in _rules(p)]
        if not days:
            return None
        return max(days) if longest else min(days)

    def _spec(self, name: str, partitions: int, days: int | None) -> TopicSpec:
        if days is None:
            return TopicSpec(name, partitions)
        ms = days * DAY_MS
        return TopicSpec(name, partitions, retention_ms=ms,
                         config={"segment.ms": str(min(ms, DAY_MS))})

    def retention_days(self, topic: str) -> int | None:
        """The ``retention_days`` behind ``topic``'s retention (None: not limited by the
        policy: compacted, unknown, or no config)."""
        if topic == AUDIT:
            return self._days(None, longest=True)
        for event_type, name in SIGNAL_TOPICS.items():
            if topic == name:
                return self._days([event_type], longest=False)
        if topic in (SEALED_INTAKE, DEADLETTER, OUTCOMES):
            return self._days(None, longest=False)
        if self.config is not None:
            for team in self.config.teams:
                if topic == alerts_topic(team.id):
                    return self._days([str(t) for t in team.event_types], longest=False)
        return None

    def spec(self, topic: str, partitions: int = 3) -> TopicSpec:
        """How ``topic`` is created."""
        if topic == CONSENT or topic.startswith(CHANGELOG_PREFIX):
            return TopicSpec(topic, partitions, cleanup_policy="compact")
        if topic == DEADLETTER:
            partitions = 1  # replayed in order
        return self._spec(topic, partitions, self.retention_days(topic))

    def core(self, partitions: int = 3) -> list[TopicSpec]:
        """Every topic the hub needs besides the per-team ones and the changelogs."""
        names = [*SIGNAL_TOPICS.values(), CONSENT, AUDIT, DEADLETTER, SEALED_INTAKE]
        return [self.spec(name, partitions) for name in names]

    def team_topics(self, partitions: int = 3) -> list[TopicSpec]:
        """``outcomes.v1`` and every configured team's alert topic."""
        teams = self.config.teams if self.config is not None else []
        names = [OUTCOMES, *(alerts_topic(team.id) for team in teams)]
        return [self.spec(name, partitions) for name in names]


def core_topics(partitions: int = 3, config: HubConfig | None = None) -> list[TopicSpec]:
    """Every topic the hub needs besides the per-team alert topics; with ``config``, each
    with the retention its policy asks for."""
    return TopicPolicy(config).core(partitions)


def ensure_topics(bus: Bus, partitions: int = 3, config: HubConfig | None = None) -> None:
    """Create the core topics if missing; with ``config`` also ``outcomes.v1`` and every
    team's alert topic, all with the retention the policy asks for."""
    policy = TopicPolicy(config)
    specs = policy.core(partitions)
    if config is not None:
        specs += policy.team_topics(partitions)
    for spec in specs:
        bus.create_topic(spec)
