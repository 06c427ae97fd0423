"""The team inbox: a durable SQLite store of alerts per team, and the sink that fills it.

:class:`InboxStore` (``<state_dir>/inbox.db``) keeps every alert once (``INSERT OR
IGNORE`` on ``alert_id``, so re-reading the topic after a crash changes nothing) with
what the web inbox needs: a list per team with filters (event type, urgency, status,
created since), most urgent first and then newest first; one alert with its notes; and
the work on it:

- status ``new`` → ``claimed`` (by a user) → ``closed`` (with an outcome);
- notes, appended, never edited (they stay in the inbox: a note never leaves the hub);
- close with :class:`CloseOutcome` ``PICKED_UP``, ``NOT_PICKED_UP`` or ``CLOSED``
  (closed for another reason, e.g. a duplicate). :meth:`InboxStore.close_alert` returns
  a :class:`Closure` whose ``pick_up`` is the coarse outcome the caller may publish to
  the source (see ``outcomes.py``); ``CLOSED`` has none, so nothing is published.

:class:`InboxSink` is the :class:`~connectors.sinks.base.BatchingSink` that writes alerts
into the store (one transaction per batch).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from connectors.sinks.base import BatchingSink, SinkItem
from hub.errors import AlertNotFound, InboxError
from hub.events import AlertUrgency, PickUpOutcome, TeamAlert
from hub.sqlite import open_database, write_transaction

__all__ = [
    "AlertNotFound",
    "CloseOutcome",
    "Closure",
    "InboxError",
    "InboxItem",
    "InboxSink",
    "InboxStatus",
    "InboxStore",
    "Note",
]

_TABLES = (
    "CREATE TABLE IF NOT EXISTS alerts ("
    " alert_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, event_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL, urgent INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " received_ms INTEGER NOT NULL, source TEXT, alert TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'new', claimed_by TEXT, claimed_ms INTEGER,"
    " outcome TEXT, closed_by TEXT, closed_ms INTEGER)",
    "CREATE INDEX IF NOT EXISTS alerts_by_team ON alerts (team_id, urgent DESC,"
    " created_ms DESC)",
    "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL"
    " REFERENCES alerts (alert_id), author TEXT NOT NULL, text TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS notes_by_alert ON notes (alert_id, id)",
)
_COLUMNS = (
    "alert, status, received_ms, claimed_by, claimed_ms, outcome, closed_by, closed_ms"
)


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


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class InboxStore:
    """Alerts per team in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self._lock = threading.Lock()
        # FULL: the runner commits topic offsets after a write, so it must survive power loss
        self._db = open_database(path, synchronous="NORMAL" if synchronous == "NORMAL" else "FULL")
        with write_transaction(self._db, self._lock) as db:
            for stmt in _TABLES:
                db.execute(stmt)

    # -- filling ---------------------------------------------------------------------------

    def add_many(self, alerts: Iterable[TeamAlert]) -> int:
        """Store alerts not seen before (one transaction); return how many were new."""
        now = _ms(_now())
        rows = [
            (
                a.alert_id, a.team_id, a.event_id, a.event_type,
                1 if a.urgency is AlertUrgency.URGENT else 0, _ms(a.created_at), now,
                a.source, a.model_dump_json(),
            )
            for a in alerts
        ]  # fmt: skip
        if not rows:
            return 0
        with write_transaction(self._db, self._lock) as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO alerts (alert_id, team_id, event_id, event_type,"
                " urgent, created_ms, received_ms, source, alert)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def add(self, alert: TeamAlert) -> bool:
        """Store one alert; False when it was there already."""
        return self.add_many([alert]) == 1

    # -- reading ---------------------------------------------------------------------------

    def list_alerts(
        self,
        team_id: str,
        *,
        event_type: str | None = None,
        urgency: AlertUrgency | str | None = None,
        status: InboxStatus | str | None = None,
        since: date | datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InboxItem]:
        """A team's alerts, most urgent first, then newest first (by ``created_at``).

        ``since`` keeps alerts created at or after it (a date means 00:00 UTC).
        """
        where: list[str] = ["team_id = ?"]
        args: list[str | int] = [team_id]
        if event_type is not None:
            where.append("event_type = ?")
            args.append(event_type)
        if urgency is not None:
            where.append("urgent = ?")
            args.append(1 if AlertUrgency(urgency) is AlertUrgency.URGENT else 0)
        if status is not None:
            where.append("status = ?")
            args.append(InboxStatus(status).value)
        if since is not None:
            if not isinstance(since, datetime):
                since = datetime.combine(since, time(0), UTC)
            elif since.tzinfo is None:
                raise ValueError("since must be timezone-aware")
            where.append("created_ms >= ?")
            args.append(_ms(since))
        sql = (
            f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)}"
            " ORDER BY urgent DESC, created_ms DESC, alert_id LIMIT ? OFFSET ?"
        )
        with self._lock:
            rows = self._db.execute(sql, [*args, limit, offset]).fetchall()
        return [self._item(row) for row in rows]

    def count(self, team_id: str, status: InboxStatus | str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM alerts WHERE team_id = ?", [team_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(InboxStatus(status).value)
        with self._lock:
            (n,) = self._db.execute(sql, args).fetchone()
        return int(n)

    def get(self, alert_id: str, *, team_id: str | None = None) -> InboxItem:
        """One alert with its notes; raise :class:`AlertNotFound` (also when it belongs to
        another team than ``team_id``)."""
        with self._lock:
            row = self._row(alert_id, team_id)
            notes = tuple(
                Note(author, text, datetime.fromtimestamp(at / 1000, UTC))
                for author, text, at in self._db.execute(
                    "SELECT author, text, at_ms FROM notes WHERE alert_id = ? ORDER BY id",
                    (alert_id,),
                )
            )
        return self._item(row, notes)

    # -- working on an alert -----------------------------------------------------------------

    def claim(self, alert_id: str, user: str, *, team_id: str | None = None) -> InboxItem:
        """Mark the alert as taken by ``user`` (again by the same user: no change)."""
        with write_transaction(self._db, self._lock) as db:
            _, status, _, claimed_by, *_ = self._row(alert_id, team_id)
            if status == InboxStatus.CLOSED:
                raise InboxError(f"alert {alert_id} is closed")
            if status == InboxStatus.CLAIMED and claimed_by != user:
                raise InboxError(f"alert {alert_id} is claimed by someone else")
            if status == InboxStatus.NEW:
                db.execute(
                    "UPDATE alerts SET status = ?, claimed_by = ?, claimed_ms = ?"
                    " WHERE alert_id = ?",
                    (InboxStatus.CLAIMED.value, user, _ms(_now()), alert_id),
                )
        return self.get(alert_id)

    def add_note(
        self, alert_id: str, author: str, text: str, *, team_id: str | None = None
    ) -> Note:
        """Append a note; notes stay in the inbox and are never published."""
        if not text.strip():
            raise InboxError("a note needs text")
        note = Note(author, text, _now())
        with write_transaction(self._db, self._lock) as db:
            self._row(alert_id, team_id)
            db.execute(
                "INSERT INTO notes (alert_id, author, text, at_ms) VALUES (?, ?, ?, ?)",
                (alert_id, author, text, _ms(note.at)),
            )
        return note

    def close_alert(
        self,
        alert_id: str,
        outcome: CloseOutcome | str,
        *,
        by: str | None = None,
        note: str | None = None,
        team_id: str | None = None,
    ) -> Closure:
        """Close the alert with ``outcome`` (and an optional note, kept in the inbox).

        Closing again with the same outcome changes nothing and returns the first
        closure (``newly_closed`` False); with another outcome it raises InboxError.
        """
        outcome = CloseOutcome(outcome)
        now = _now()
        with write_transaction(self._db, self._lock) as db:
            raw, status, *_, old_outcome, _, closed_ms = self._row(alert_id, team_id)
            alert = TeamAlert.model_validate_json(raw)
            if status == InboxStatus.CLOSED:
                if old_outcome != outcome.value:
                    raise InboxError(f"alert {alert_id} is already closed as {old_outcome}")
                closed_at = _dt(closed_ms) or now
                return Closure(alert, outcome, closed_at, newly_closed=False)
            db.execute(
                "UPDATE alerts SET status = ?, outcome = ?, closed_by = ?, closed_ms = ?"
                " WHERE alert_id = ?",
                (InboxStatus.CLOSED.value, outcome.value, by, _ms(now), alert_id),
            )
            if note and note.strip():
                db.execute(
                    "INSERT INTO notes (alert_id, author, text, at_ms) VALUES (?, ?, ?, ?)",
                    (alert_id, by or "", note, _ms(now)),
                )
        return Closure(alert, outcome, _dt(_ms(now)) or now, newly_closed=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- helpers -----------------------------------------------------------------------------

    def _row(self, alert_id: str, team_id: str | None) -> tuple[Any, ...]:
        row = self._db.execute(
            f"SELECT {_COLUMNS}, team_id FROM alerts WHERE alert_id = ?", (alert_id,)
        ).fetchone()
        if row is None or (team_id is not None and row[-1] != team_id):
            raise AlertNotFound(f"no alert {alert_id}" + (f" for {team_id}" if team_id else ""))
        return tuple(row[:-1])

    @staticmethod
    def _item(row: tuple[Any, ...], notes: tuple[Note, ...] = ()) -> InboxItem:
        raw, status, received, claimed_by, claimed, outcome, closed_by, closed = row
        return InboxItem(
            alert=TeamAlert.model_validate_json(raw),
            status=InboxStatus(status),
            received_at=_dt(received) or _now(),
            claimed_by=claimed_by,
            claimed_at=_dt(claimed),
            outcome=CloseOutcome(outcome) if outcome else None,
            closed_by=closed_by,
            closed_at=_dt(closed),
            notes=notes,
        )


class InboxSink(BatchingSink):
    """Writes alerts into an :class:`InboxStore` (idempotent on ``alert_id``)."""

    def __init__(self, store: InboxStore) -> None:
        super().__init__()
        self.store = store
        self.stored = 0

    def write(self, batch: list[SinkItem]) -> None:
        self.stored += self.store.add_many(item.alert for item in batch)
