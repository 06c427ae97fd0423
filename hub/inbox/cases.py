"""The national workflow for debt signals (DDAS Vroegsignalering): cases, their signals,
contact attempts and results, and what the source is told.

- a **case** (vroegsignaalzaak, :class:`Case`) groups one or more debt signals of the same
  person (``subject_ref``) for one team: an alert of a person with an open case of the
  team joins it, else it opens a new case (:data:`CASE_EVENT_TYPES`);
- per case the team records **contact attempts** (:class:`ContactAttempt`: kind
  ``Contactsoort``, reached yes/no, date, part of day ``Dagdeel``), the date it was
  **taken up**, and **closes** it with one ``Eindresultaat``;
- each signal of a case has a **status** (``Signaalstatus``): ``Nog niet opgepakt`` when
  it arrives, ``Opgepakt`` when the case is taken up, and at the close the status the
  result implies (:func:`signal_status_for`), unless the team gave that signal a
  "not taken up" status of its own before;
- the **source** learns only ``PICKED_UP`` or ``NOT_PICKED_UP`` per signal, derived from
  the signal's final status (:func:`pick_up_for`, the table :data:`PICK_UP_BY_RESULT`),
  never the result itself.

Eviction and youth alerts keep the simple flow of :mod:`hub.inbox.workflow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from hub.ddas.codes import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.events import PickUpOutcome, TeamAlert
from hub.inbox.model import CloseOutcome, Closure

__all__ = [
    "CASE_EVENT_TYPES",
    "NOT_TAKEN_UP",
    "PICK_UP_BY_RESULT",
    "Case",
    "CaseClosing",
    "CaseSignal",
    "ContactAttempt",
    "joins_a_case",
    "pick_up_for",
    "signal_status_for",
]

#: the event types whose alerts follow the national workflow (cases)
CASE_EVENT_TYPES = frozenset({"debt-signal"})
#: debt signals of these kinds are no signal of their own (docs/ddas.md)
_NOT_A_SIGNAL = frozenset({"ARREARS_RESOLVED"})

#: the signal statuses that say the signal was not taken up (kept at the close)
NOT_TAKEN_UP = frozenset(set(Signaalstatus) - {Signaalstatus.NOG_NIET_OPGEPAKT,
                                               Signaalstatus.OPGEPAKT})


def joins_a_case(alert: TeamAlert) -> bool:
    """Whether ``alert`` follows the national workflow (is grouped into a case)."""
    return (alert.event_type in CASE_EVENT_TYPES
            and alert.fields.get("signal_kind") not in _NOT_A_SIGNAL)


def signal_status_for(result: Eindresultaat) -> Signaalstatus:
    """The status a signal of a case closed with ``result`` ends with: the status of the
    same name where the model has one (e.g. ``Niet opgepakt: herhaalde melding``,
    ``Inwoner al bekend bij schuldhulpverlening``), else ``Opgepakt``: the team worked on
    it (also when it then could not reach the person)."""
    try:
        return Signaalstatus(result.value)
    except ValueError:
        return Signaalstatus.OPGEPAKT


def pick_up_for(status: Signaalstatus) -> PickUpOutcome:
    """The coarse feedback of a signal with its final ``status``: ``PICKED_UP`` only for
    ``Opgepakt``."""
    if status is Signaalstatus.OPGEPAKT:
        return PickUpOutcome.PICKED_UP
    return PickUpOutcome.NOT_PICKED_UP


#: the documented table (docs/sinks.md): a case's result → what the source of each of
#: its signals is told (a signal the team marked "not taken up" itself: NOT_PICKED_UP)
PICK_UP_BY_RESULT: Mapping[Eindresultaat, PickUpOutcome] = {
    result: pick_up_for(signal_status_for(result)) for result in Eindresultaat
}


@dataclass(frozen=True, slots=True)
class ContactAttempt:
    """One attempt of the team to reach the person of a case."""

    kind: Contactsoort
    reached: bool
    on: date
    part_of_day: Dagdeel | None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class CaseSignal:
    """A signal (alert) of a case with its status."""

    alert: TeamAlert
    status: Signaalstatus
    joined_at: datetime
    #: the alert's own close outcome in the inbox (None while open)
    outcome: CloseOutcome | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """A case (vroegsignaalzaak) of one person for one team."""

    case_id: str
    team_id: str
    subject_ref: str
    municipality_code: str
    opened_at: datetime
    signals: tuple[CaseSignal, ...]
    contact_attempts: tuple[ContactAttempt, ...] = ()
    taken_up_on: date | None = None
    taken_up_by: str | None = None
    result: Eindresultaat | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    #: the inbox's change counter at the case's last change
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.result is None

    @property
    def alerts(self) -> tuple[TeamAlert, ...]:
        return tuple(s.alert for s in self.signals)


@dataclass(frozen=True, slots=True)
class CaseClosing:
    """What closing a case did: the case as closed, and one closure per signal (its
    coarse outcome for the source; ``newly_closed`` False for a signal closed before)."""

    case: Case
    closures: tuple[Closure, ...]
    #: False when the case was already closed with this result
    newly_closed: bool
