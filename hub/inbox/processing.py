"""Processing records (Logboek Dataverwerkingen) of the team's steps in the inbox.

The core writes them, so every caller (the web app, ``signalhub inbox case ...``)
leaves the same trace: one :class:`~hub.events.ProcessingRecord` per step and per alert
the step touches (a case's step: one for each of its signals), under
:data:`INBOX_ACTIVITY`, naming the user (``reason_detail``), the team, the alert and the
person's pseudonym (``data_subject_id``); never a note, a name or an address.
:class:`AuditLog` writes them to ``audit.v1`` (keyed by the pseudonym), as the web app's
sign-ins and alert views are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from hub.audit import processing_record
from hub.bus.base import Bus
from hub.events import DecisionOutcome, ProcessingRecord, TeamAlert
from hub.serde import AvroSerde
from hub.topics import AUDIT

__all__ = ["INBOX_ACTIVITY", "AuditLog", "Record", "step_record"]

#: the processing activity of the team's work in the inbox (the web app logs sign-ins
#: and alert views under it too: ``hub.web.auth.ACCESS_ACTIVITY``)
INBOX_ACTIVITY = "urn:signalhub:processing-activity:team-inbox-access"

#: writes one processing record (e.g. :class:`AuditLog`)
Record = Callable[[ProcessingRecord], None]


def step_record(*, name: str, reason_code: str, user: str, alert: TeamAlert,
                detail: str | None = None, started: datetime | None = None
                ) -> ProcessingRecord:
    """The record of ``user``'s step ``name`` on ``alert``; ``detail`` (no personal
    data: a case id, a kind of contact, a result) follows the user in ``reason_detail``."""
    text = f"user={user[:64]}" + (f" {detail}" if detail else "")
    return processing_record(
        trace_id=alert.trace_id, name=name, started=started or datetime.now(UTC),
        outcome=DecisionOutcome.RECORDED, reason_code=reason_code, reason_detail=text,
        activity=INBOX_ACTIVITY, subject_ref=alert.subject_ref, team_id=alert.team_id,
        municipality_code=alert.municipality_code, event_id=alert.event_id,
        event_type=alert.event_type, alert_id=alert.alert_id, legal_basis=alert.legal_basis,
    )


class AuditLog:
    """Writes processing records to ``audit.v1`` on ``bus`` (safe to share between
    threads)."""

    def __init__(self, bus: Bus, serde: AvroSerde) -> None:
        self.bus = bus
        self.serde = serde
        self._lock = threading.Lock()

    def __call__(self, record: ProcessingRecord) -> None:
        key = record.data_subject_id.encode() if record.data_subject_id else None
        with self._lock:
            self.bus.produce_one(AUDIT, self.serde.encode_model(AUDIT, record), key)
