"""The hub's topics (naming: dots, lowercase, versioned) and how to create them."""

from __future__ import annotations

from hub.bus.base import Bus, TopicSpec

__all__ = [
    "AUDIT",
    "CONSENT",
    "DEADLETTER",
    "SEALED_INTAKE",
    "SIGNAL_TOPICS",
    "alerts_topic",
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


def alerts_topic(team_id: str) -> str:
    return f"alerts.{team_id}.v1"


def core_topics(partitions: int = 3) -> list[TopicSpec]:
    """Every topic the hub needs besides the per-team alert topics."""
    specs = [TopicSpec(t, partitions) for t in SIGNAL_TOPICS.values()]
    specs.append(TopicSpec(CONSENT, partitions, cleanup_policy="compact"))
    specs.append(TopicSpec(AUDIT, partitions))
    specs.append(TopicSpec(DEADLETTER, 1))
    specs.append(TopicSpec(SEALED_INTAKE, partitions))
    return specs


def ensure_topics(bus: Bus, partitions: int = 3) -> None:
    """Create the core topics if missing."""
    for spec in core_topics(partitions):
        bus.create_topic(spec)
