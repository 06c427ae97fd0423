"""The team's work on an alert, as the web inbox and ``signalhub inbox`` both do it.

:class:`InboxWorkflow` is what pages and commands call: claim an alert, add a note,
close it with an outcome and tell the source. It checks that the alert is the team's
(``team_id``), decides whether anything is told (only ``PICKED_UP`` / ``NOT_PICKED_UP``
of an alert that names its source) and hands the :class:`~hub.inbox.model.Closure` to
its ``tell`` function, e.g. :meth:`OutcomePublisher.tell` (an
:class:`~hub.events.AlertOutcome` on ``outcomes.v1``, :mod:`hub.inbox.outcomes`).
Closing again with the same outcome tells the source again (same outcome id: the source
drops the duplicate), so a failed publish is mended by closing once more.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from hub.bus.base import Bus
from hub.events import AlertOutcome
from hub.inbox.model import CloseOutcome, Closure, InboxItem, Note
from hub.inbox.outcomes import ensure_outcomes_topic, publish_outcome
from hub.inbox.store import InboxStore
from hub.serde import AvroSerde

__all__ = ["Closing", "InboxWorkflow", "OutcomePublisher", "Tell", "Told", "told_for"]

#: tells the source about a closure (publishes its outcome) and returns the record
Tell = Callable[[Closure], AlertOutcome]


class Told(enum.StrEnum):
    """What the source was told about a closure."""

    #: the outcome was published to the source
    PUBLISHED = "published"
    #: closed for another reason (``CLOSED``): there is nothing to tell
    NOTHING_TO_TELL = "nothing-to-tell"
    #: the alert names no source (made before alerts carried one): nobody to tell
    NO_SOURCE = "no-source"


@dataclass(frozen=True, slots=True)
class Closing:
    """What :meth:`InboxWorkflow.close` did: the closure and what the source was told."""

    closure: Closure
    told: Told
    #: the published outcome (``told`` is ``PUBLISHED``), else None
    outcome: AlertOutcome | None = None


class OutcomePublisher:
    """Tells sources their outcomes on the bus (``outcomes.v1``, keyed by source URN)."""

    def __init__(self, bus: Bus, serde: AvroSerde, *, ensure_topic: bool = False) -> None:
        self.bus = bus
        self.serde = serde
        self._ensure = ensure_topic

    def tell(self, closure: Closure) -> AlertOutcome:
        pick_up, source = closure.pick_up, closure.source
        if pick_up is None or source is None:
            raise ValueError("this closure has nothing to tell its source")
        if self._ensure:
            ensure_outcomes_topic(self.bus)
            self._ensure = False
        return publish_outcome(self.bus, self.serde, closure.alert, pick_up, source,
                               recorded_at=closure.closed_at)


def told_for(closure: Closure) -> Told:
    """Whether ``closure`` is told to the source (``PUBLISHED``), and if not, why not."""
    if closure.pick_up is None:
        return Told.NOTHING_TO_TELL
    if closure.source is None:
        return Told.NO_SOURCE
    return Told.PUBLISHED


class InboxWorkflow:
    """Claim, note and close alerts in ``store``; ``tell`` publishes outcomes.

    ``team_id`` restricts each step to that team's alerts (another team's alert is
    :class:`~hub.errors.AlertNotFound`); a step that does not fit the alert's state
    raises :class:`~hub.errors.InboxError`."""

    def __init__(self, store: InboxStore, tell: Tell) -> None:
        self.store = store
        self._tell = tell

    def claim(self, alert_id: str, user: str, *, team_id: str | None = None) -> InboxItem:
        return self.store.claim(alert_id, user, team_id=team_id)

    def add_note(self, alert_id: str, user: str, text: str, *, team_id: str | None = None
                 ) -> Note:
        return self.store.add_note(alert_id, user, text, team_id=team_id)

    def close(
        self,
        alert_id: str,
        outcome: CloseOutcome | str,
        *,
        by: str | None = None,
        note: str | None = None,
        team_id: str | None = None,
        on_closed: Callable[[Closure], None] | None = None,
    ) -> Closing:
        """Close the alert (again with the same outcome: no change) and tell the source
        what it may know. The closure is stored first; ``on_closed`` (e.g. an access
        record) runs then, before anything is published, so a failed publish skips
        neither."""
        closure = self.store.close_alert(alert_id, outcome, by=by, note=note, team_id=team_id)
        if on_closed is not None:
            on_closed(closure)
        told = told_for(closure)
        if told is not Told.PUBLISHED:
            return Closing(closure, told)
        return Closing(closure, told, self._tell(closure))
