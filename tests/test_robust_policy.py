"""Policy cases are merged once, when the configuration is read: deciding signals builds
no rules or conditions, so memory stays flat however many signals are routed."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.config import Condition, PolicyRule, Team, load_config
from hub.consent import ConsentCheck
from hub.consent.model import ConsentStatus
from hub.errors import SignalRejected
from hub.policy import Decision, decide
from hub.validation import validated_signal
from tests.router_cases import CASES

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"


def alive(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def test_deciding_builds_no_rules_and_keeps_nothing() -> None:
    config = load_config(EXAMPLE)
    today = datetime.now(UTC).date()
    signals = []
    for case in CASES:
        try:
            signals.append((case.event_type, validated_signal(case.event_type, case.record())))
        except SignalRejected:  # refused before the policy
            continue
    assert any(event_type == "eviction-risk" for event_type, _ in signals)

    def consent(purpose: str, team: Team) -> ConsentCheck:
        return ConsentCheck(ConsentStatus.VALID, "c-1", "ok")

    def decide_all() -> list[Decision]:
        return [decide(config.policies[event_type], event_type, data, team,  # type: ignore[index]
                       consent, today)
                for event_type, data in signals for team in config.teams]

    first = decide_all()
    conditions, rules = alive(Condition), alive(PolicyRule)
    for _ in range(200):
        assert decide_all() == first  # the same decisions, every time
    assert (alive(Condition), alive(PolicyRule)) == (conditions, rules)

    eviction = config.policies["eviction-risk"]
    record: dict[str, Any] = {"stage": "SUMMONS"}
    assert eviction.rule_for(record)[0] is eviction.rule_for(record)[0]
