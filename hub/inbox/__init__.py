"""The teams' inbox: alerts per team and the team's work on them.

- :mod:`~hub.inbox.model`: statuses, notes, close outcomes, closures;
- :mod:`~hub.inbox.tables`: its tables in the application database;
- :mod:`~hub.inbox.store`: :class:`InboxStore`, the alerts and the work on them;
- :mod:`~hub.inbox.workflow`: :class:`InboxWorkflow`, what pages and commands call
  (claim, note, close and tell the source);
- :mod:`~hub.inbox.outcomes`: the coarse outcome published to the source;
- :mod:`~hub.inbox.cases`: the national workflow for debt signals (cases, contact
  attempts, results, signal statuses, and the coarse outcome derived from them);
- :mod:`~hub.inbox.case_store`: :class:`CaseStore`, the cases in the database;
- :mod:`~hub.inbox.case_workflow`: :class:`CaseWorkflow`, what pages and commands call
  for a case;
- :mod:`~hub.inbox.processing`: the processing record of each step;
- :mod:`~hub.inbox.ddas_export`: the inbox's cases and signals as a DDAS delivery.

Filled from the teams' topics by :class:`connectors.sinks.inbox.InboxSink`.
"""

from __future__ import annotations

from hub.errors import AlertNotFound, CaseNotFound, InboxError
from hub.inbox.case_store import CaseStore
from hub.inbox.case_workflow import CaseClosed, CaseWorkflow
from hub.inbox.cases import Case, CaseClosing, CaseSignal, ContactAttempt
from hub.inbox.model import CloseOutcome, Closure, InboxItem, InboxStatus, Note
from hub.inbox.store import InboxStore
from hub.inbox.workflow import Closing, InboxWorkflow, OutcomePublisher, Told

__all__ = [
    "AlertNotFound",
    "Case",
    "CaseClosed",
    "CaseClosing",
    "CaseNotFound",
    "CaseSignal",
    "CaseStore",
    "CaseWorkflow",
    "CloseOutcome",
    "Closing",
    "Closure",
    "ContactAttempt",
    "InboxError",
    "InboxItem",
    "InboxStatus",
    "InboxStore",
    "InboxWorkflow",
    "Note",
    "OutcomePublisher",
    "Told",
]
