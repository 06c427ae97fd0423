"""The team's work on a case, as ``signalhub inbox case ...`` and the web's case pages
do it: :class:`CaseWorkflow`.

Each step is stored first (:class:`~hub.inbox.case_store.CaseStore`), then written as a
processing record per signal of the case (:mod:`hub.inbox.processing`), and only then,
for a close, told to the sources: each signal's coarse ``PICKED_UP`` / ``NOT_PICKED_UP``
through the same ``tell`` as the simple flow (:meth:`OutcomePublisher.tell`), never the
result. Closing again with the same result tells the sources again (same outcome ids:
they drop the duplicates), so a failed publish is mended by closing once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.ddas.codes import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.events import AlertOutcome
from hub.inbox.case_store import CaseStore
from hub.inbox.cases import Case, CaseClosing
from hub.inbox.model import Closure, InboxItem
from hub.inbox.processing import Record, step_record
from hub.inbox.store import InboxStore
from hub.inbox.workflow import Tell, Told, told_for

__all__ = ["PRIOR_WINDOW", "CaseClosed", "CaseWorkflow", "SignalTold"]

#: how far back a person's earlier signals count (``prior_signals_180d``)
PRIOR_WINDOW = timedelta(days=180)


@dataclass(frozen=True, slots=True)
class SignalTold:
    """What the source of one signal of a closed case was told."""

    closure: Closure
    told: Told
    outcome: AlertOutcome | None = None


@dataclass(frozen=True, slots=True)
class CaseClosed:
    """What :meth:`CaseWorkflow.close` did."""

    closing: CaseClosing
    told: tuple[SignalTold, ...]

    @property
    def case(self) -> Case:
        return self.closing.case


class CaseWorkflow:
    """Show, take up, record contact attempts on, and close cases in ``cases``;
    ``tell`` publishes outcomes, ``record`` writes processing records.

    ``team_id`` restricts each step to that team's cases (another team's case is
    :class:`~hub.errors.CaseNotFound`); a step that does not fit the case's state
    raises :class:`~hub.errors.InboxError`."""

    def __init__(self, cases: CaseStore, tell: Tell, record: Record) -> None:
        self.cases = cases
        self._tell = tell
        self._record = record

    def show(self, case_id: str, user: str, *, team_id: str | None = None) -> Case:
        """The case, its signals and attempts; the view is recorded (``CASE_VIEWED``)."""
        case = self.cases.get(case_id, team_id=team_id)
        self._log(case, user, "view-case", "CASE_VIEWED")
        return case

    def case_of(self, alert_id: str, user: str, *, team_id: str | None = None) -> Case:
        """The case of an alert, recorded as a view of it."""
        case = self.cases.case_of(alert_id, team_id=team_id)
        self._log(case, user, "view-case", "CASE_VIEWED")
        return case

    def earlier_signals(self, case: Case, inbox: InboxStore, user: str) -> list[InboxItem]:
        """The team's own earlier alerts of the case's person (any kind, not in the
        case): created in the :data:`PRIOR_WINDOW` before the case's newest signal, what
        ``prior_signals_180d`` counts, within the case's team only. Each one shown is
        recorded (``PERSON_HISTORY_VIEWED``)."""
        if not case.signals:
            return []
        newest = max(s.alert.created_at for s in case.signals)
        found = inbox.person_alerts(case.team_id, case.subject_ref,
                                    since=newest - PRIOR_WINDOW, until=newest,
                                    exclude=[a.alert_id for a in case.alerts])
        for item in found:
            self._record(step_record(name="view-earlier-signal",
                                     reason_code="PERSON_HISTORY_VIEWED", user=user,
                                     alert=item.alert, detail=f"case={case.case_id}"))
        return found

    def take_up(self, case_id: str, user: str, *, on: date | None = None,
                team_id: str | None = None) -> Case:
        case = self.cases.take_up(case_id, user, on=on, team_id=team_id)
        self._log(case, user, "take-up-case", "CASE_TAKEN_UP",
                  f"on={case.taken_up_on.isoformat() if case.taken_up_on else '-'}")
        return case

    def add_attempt(self, case_id: str, user: str, *, kind: Contactsoort, reached: bool,
                    on: date | None = None, part_of_day: Dagdeel | None = None,
                    team_id: str | None = None) -> Case:
        case = self.cases.add_attempt(case_id, user, kind=kind, reached=reached, on=on,
                                      part_of_day=part_of_day, team_id=team_id)
        attempt = case.contact_attempts[-1]
        self._log(case, user, "contact-attempt", "CASE_CONTACT_ATTEMPT",
                  f"kind={attempt.kind.value} reached={'yes' if attempt.reached else 'no'}")
        return case

    def set_signal_status(self, case_id: str, alert_id: str, status: Signaalstatus,
                          user: str, *, team_id: str | None = None) -> Case:
        case = self.cases.set_signal_status(case_id, alert_id, status, team_id=team_id)
        signal = next(s for s in case.signals if s.alert.alert_id == alert_id)
        self._record(step_record(name="set-signal-status", reason_code="SIGNAL_STATUS_SET",
                                 user=user, alert=signal.alert,
                                 detail=f"case={case_id} status={signal.status.value}"))
        return case

    def close(self, case_id: str, result: Eindresultaat, user: str, *,
              team_id: str | None = None) -> CaseClosed:
        """Close the case with ``result`` and tell each signal's source what it may
        know. Recorded before anything is published, so a failed publish skips
        neither."""
        closing = self.cases.close(case_id, result, user, team_id=team_id)
        if closing.newly_closed:
            self._log(closing.case, user, "close-case", "CASE_CLOSED",
                      f"result={Eindresultaat(result).value}")
        told: list[SignalTold] = []
        for closure in closing.closures:
            why = told_for(closure)
            told.append(SignalTold(closure, why, self._tell(closure)
                                   if why is Told.PUBLISHED else None))
        return CaseClosed(closing, tuple(told))

    def _log(self, case: Case, user: str, name: str, reason_code: str,
             detail: str | None = None) -> None:
        text = f"case={case.case_id}" + (f" {detail}" if detail else "")
        for alert in case.alerts:
            self._record(step_record(name=name, reason_code=reason_code, user=user,
                                     alert=alert, detail=text))
