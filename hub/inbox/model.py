"""What the team inbox holds: an alert's status, its notes, how it was closed.

- status ``new`` → ``claimed`` (by a user) → ``closed`` (with an outcome);
- notes, appended, never edited (they stay in the inbox: a note never leaves the hub);
- :class:`CloseOutcome` ``PICKED_UP``, ``NOT_PICKED_UP`` or ``CLOSED`` (closed for
  another reason, e.g. a duplicate); only the first two are told to the source
  (:attr:`CloseOutcome.pick_up`, :mod:`hub.inbox.outcomes`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from hub.events import PickUpOutcome, TeamAlert
from hub.workdays import working_days_overdue

__all__ = ["CloseOutcome", "Closure", "InboxItem", "InboxStatus", "Note"]


class InboxStatus(enum.StrEnum):
    """Where an alert stands in the team's work."""

    NEW = "new"
    CLAIMED = "claimed"
    CLOSED = "closed"


class CloseOutcome(enum.StrEnum):
    """How a team closes an alert; only the first two are ever told to the source."""

    PICKED_UP = "PICKED_UP"
    NOT_PICKED_UP = "NOT_PICKED_UP"
    CLOSED = "CLOSED"

    @property
    def pick_up(self) -> PickUpOutcome | None:
        """The coarse outcome for the source, or None (``CLOSED``: nothing to tell)."""
        if self is CloseOutcome.CLOSED:
            return None
        return PickUpOutcome(self.value)


@dataclass(frozen=True, slots=True)
class Note:
    author: str
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One alert in the inbox and the team's work on it."""

    alert: TeamAlert
    status: InboxStatus
    received_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    outcome: CloseOutcome | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    #: filled by :meth:`InboxStore.get`; empty in lists
    notes: tuple[Note, ...] = ()
    #: the inbox's change counter at this alert's last change (see ``version()``)
    version: int = 0

    def overdue_days(self, today: date) -> int:
        """How many working days this alert is past its due date on ``today`` (Dutch
        working days, :func:`hub.workdays.working_days_overdue`); 0 when it has no due
        date, is not late yet, or is closed."""
        if self.status is InboxStatus.CLOSED:
            return 0
        return working_days_overdue(self.alert.due_date, today)


@dataclass(frozen=True, slots=True)
class Closure:
    """What :meth:`InboxStore.close_alert` returns: enough to publish the outcome."""

    alert: TeamAlert
    outcome: CloseOutcome
    closed_at: datetime
    #: False when the alert was already closed with this outcome (publish again: the
    #: outcome id is the same, so the source drops the duplicate)
    newly_closed: bool

    @property
    def pick_up(self) -> PickUpOutcome | None:
        return self.outcome.pick_up

    @property
    def source(self) -> str | None:
        return self.alert.source
