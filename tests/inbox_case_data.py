"""Alerts, an inbox and the case workflow over a real embedded bus, for the tests of the
national workflow and the DDAS export."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.connect import Connection, connect
from hub.events import AlertUrgency, TeamAlert
from hub.inbox import CaseStore, CaseWorkflow, InboxStore
from hub.inbox.outcomes import ensure_outcomes_topic
from hub.inbox.processing import AuditLog
from hub.inbox.workflow import OutcomePublisher
from hub.routing.outputs import alert_id_for
from hub.settings import Settings
from hub.topics import ensure_topics
from tests.bus_records import read_records

SOURCE = "urn:nld:oin:00000001234567890000"
NOW = datetime(2025, 4, 7, 9, 30, tzinfo=UTC)


def make_alert(subject: str, *, team: str = "team-a", event_type: str = "debt-signal",
               kind: str = "ARREARS", fields: dict[str, str] | None = None) -> TeamAlert:
    event_id = str(uuid.uuid4())
    return TeamAlert(
        alert_id=alert_id_for(event_id, team), event_id=event_id, event_type=event_type,
        team_id=team, municipality_code="GM0344", subject_ref=subject,
        urgency=AlertUrgency.NORMAL, fields=fields or {"creditor_type": "ENERGY",
                                                       "signal_kind": kind},
        prior_signals_180d=0, legal_basis="GDPR 6(1)(e); Wgs art. 3", created_at=NOW,
        trace_id=uuid.uuid4().hex, source=SOURCE,
    )


def subject() -> str:
    return "ps1-" + uuid.uuid4().hex + "00000000"


class Hub:
    """An inbox and its cases whose clock is :attr:`now` (settable), and the case
    workflow publishing and recording on ``conn``'s bus."""

    def __init__(self, conn: Connection, database_url: str) -> None:
        self.conn = conn
        self.now = NOW
        self.inbox = InboxStore(database_url, clock=self.clock)
        self.cases = CaseStore(self.inbox.database, clock=self.clock)
        self.workflow = CaseWorkflow(
            self.cases, OutcomePublisher(conn.bus, conn.serde).tell,
            AuditLog(conn.bus, conn.serde))

    def clock(self) -> datetime:
        return self.now

    def read(self, topic: str) -> list[dict[str, Any]]:
        """Every record on ``topic``, decoded, with UUIDs as text."""
        return [{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in record.items()}
                for record in read_records(self.conn, topic)]


@contextmanager
def open_hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    """A :class:`Hub` on ``database_url`` over an embedded bus in ``tmp_path``."""
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn:
        ensure_topics(conn.bus)
        ensure_outcomes_topic(conn.bus)
        hub = Hub(conn, database_url)
        try:
            yield hub
        finally:
            hub.inbox.close()
