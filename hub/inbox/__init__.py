"""The teams' inbox: alerts per team and the team's work on them.

- :mod:`~hub.inbox.model`: statuses, notes, close outcomes, closures;
- :mod:`~hub.inbox.tables`: its tables in the application database;
- :mod:`~hub.inbox.store`: :class:`InboxStore`, the alerts and the work on them;
- :mod:`~hub.inbox.workflow`: :class:`InboxWorkflow`, what pages and commands call
  (claim, note, close and tell the source);
- :mod:`~hub.inbox.outcomes`: the coarse outcome published to the source.

Filled from the teams' topics by :class:`connectors.sinks.inbox.InboxSink`.
"""

from __future__ import annotations

from hub.errors import AlertNotFound, InboxError
from hub.inbox.model import CloseOutcome, Closure, InboxItem, InboxStatus, Note
from hub.inbox.store import InboxStore
from hub.inbox.workflow import Closing, InboxWorkflow, OutcomePublisher, Told

__all__ = [
    "AlertNotFound",
    "CloseOutcome",
    "Closing",
    "Closure",
    "InboxError",
    "InboxItem",
    "InboxStatus",
    "InboxStore",
    "InboxWorkflow",
    "Note",
    "OutcomePublisher",
    "Told",
]
