"""The pure evaluator: a signal, a consent view, a history view and a time in; what the
router decides out. No bus, no files, no clock of its own.

:class:`Evaluator` compiles the configuration once (the team directory's index, every
policy rule with its cases merged and its conditions as sets); :meth:`Evaluator.evaluate`
validates one decoded signal (a plain dict, as the serde decodes it), resolves its
municipality and teams, applies the rule per team (asking the consent view where the
rule needs consent) and counts the person's earlier signals in the history view. The
router calls it for every signal; ``signalhub explain`` calls it with ``explain=True``
for the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.config import HubConfig, Team
from hub.consent import ConsentCheck
from hub.directory import UNKNOWN_MUNICIPALITY, Resolution, TeamDirectory
from hub.errors import SignalRejected
from hub.policy import CompiledPolicy, Decision, compile_policy, decide_rule
from hub.routing.views import ConsentView, HistoryView
from hub.validation import validated_signal
from hub.workdays import dutch_date

__all__ = ["Evaluation", "Evaluator"]


@dataclass
class Evaluation:
    """What the router would do with one signal (also what ``explain`` prints)."""

    event_type: str
    event_id: str | None
    subject_ref: str | None
    resolution: Resolution | None = None
    decisions: list[Decision] = field(default_factory=list)
    rejected: SignalRejected | None = None
    trace: list[str] = field(default_factory=list)
    #: the validated signal (its model's fields), when it validated
    data: dict[str, Any] | None = field(default=None, repr=False)
    #: earlier signals of the person (the history view's count), when routed
    prior_signals: int = 0


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class Evaluator:
    """The configuration, compiled once; :meth:`evaluate` per signal."""

    def __init__(self, config: HubConfig, directory: TeamDirectory | None = None) -> None:
        self.config = config
        self.directory = directory or TeamDirectory(config)
        self.policies: dict[str, CompiledPolicy] = {
            event_type: compile_policy(event_type, policy)
            for event_type, policy in config.policies.items()
        }
        #: the last ``now`` asked about and its Dutch date (a batch shares one ``now``)
        self._today: tuple[datetime, date] | None = None

    def evaluate(
        self,
        event_type: str,
        record: dict[str, Any],
        consent: ConsentView,
        history: HistoryView,
        now: datetime,
        *,
        explain: bool = False,
    ) -> Evaluation:
        """Validate, resolve, decide for every team and count earlier signals.

        ``explain=True`` also fills ``trace`` (what ``signalhub explain`` prints).
        """
        ev = Evaluation(event_type, _text(record.get("event_id")), _text(record.get("subject_ref")))
        trace = ev.trace if explain else None
        try:
            data = ev.data = validated_signal(event_type, record)
        except SignalRejected as exc:
            ev.rejected = exc
            ev.trace.append(f"rejected: {exc}")
            return ev
        if trace is not None:
            trace.append(f"valid {event_type} {ev.event_id}")
        postcode = data.get("postcode")
        if postcode is None:
            ev.rejected = SignalRejected("signal has no postcode to route by", "NO_TEAM")
            ev.trace.append("rejected: no postcode")
            return ev
        house, municipality = int(data.get("house_number") or 0), data.get("municipality_code")
        if trace is not None:
            resolution = self.directory.resolve(postcode, house, event_type, municipality)
            trace.extend(resolution.trace)
        else:
            resolution = self.directory.route(postcode, house, event_type, municipality)
        ev.resolution = resolution
        if resolution.reason is not None:
            what = "municipality" if resolution.reason == UNKNOWN_MUNICIPALITY else "team"
            ev.rejected = SignalRejected(
                f"{resolution.reason}: no configured {what} covers postcode area"
                f" {str(postcode)[:4]} for {event_type}; fix the configuration, then replay",
                resolution.reason,
            )
            return ev
        subject, event_id = str(data["subject_ref"]), str(data["event_id"])
        ev.prior_signals = history.earlier_signals(subject, event_id)
        policy = self.policies.get(event_type)
        if policy is None:
            if trace is not None:
                trace.append(f"no policy for {event_type}: nothing is forwarded")
            return ev

        def ask(purpose: str, team: Team) -> ConsentCheck:
            return consent.check(subject, purpose, team.id, team.municipality, now)

        rule = policy.rule_for(data)
        known = self._today  # a due date counts Dutch working days from today
        if known is not None and known[0] is now:
            today = known[1]
        else:
            today = dutch_date(now)
            self._today = (now, today)
        for team in resolution.teams:
            decision = decide_rule(rule, data, team, ask, today, explain=explain)
            ev.decisions.append(decision)
            if trace is not None:
                trace.extend(decision.trace)
                trace.append(f"=> {team.id}: {decision.reason_code}")
        return ev
