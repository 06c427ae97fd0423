"""The team inbox's store: a durable record of alerts per team and the team's work on them.

:class:`InboxStore` (in the application database, :mod:`hub.store`: SQLite or
PostgreSQL) keeps every alert once (insert-or-ignore on ``alert_id``, so re-reading the
topic after a crash changes nothing) with
what the web inbox needs: a list per team with filters (event type, urgency, status,
created since), most urgent first and then newest first; one alert with its notes; and
the work on it (the states and outcomes: :mod:`hub.inbox.model`):

- a new debt alert joins its person's case in the same transaction
  (:func:`hub.inbox.case_store.assign_cases`, the national workflow of
  :mod:`hub.inbox.cases`);
- claim, append notes, close with a :class:`~hub.inbox.model.CloseOutcome`;
  :meth:`InboxStore.close_alert` returns a :class:`~hub.inbox.model.Closure` whose
  ``pick_up`` is the coarse outcome to tell the source (:mod:`hub.inbox.workflow` does
  that); ``CLOSED`` has none, so nothing is published;
- every change of an alert raises the inbox's change counter (:meth:`InboxStore.version`;
  each write takes the counter's row lock first, so writes to the inbox are serialised
  across processes and instances), and
  ``list_alerts(changed_after=N)`` finds what changed since: the web app's live updates,
  across every process and instance on the same database;
- retention: :meth:`InboxStore.purge` deletes alerts (with their notes) received before
  a cutoff per event type (:mod:`hub.retention` takes it from the policy's
  ``retention_days``).

The sink that fills it from a team's topic is :class:`connectors.sinks.inbox.InboxSink`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hub.errors import AlertNotFound, InboxError
from hub.events import AlertUrgency, TeamAlert
from hub.inbox.case_store import assign_cases, forget_alerts
from hub.inbox.changes import bump, from_ms, to_ms
from hub.inbox.model import CloseOutcome, Closure, InboxItem, InboxStatus, Note
from hub.inbox.tables import ALERTS, CHANGES, NOTES
from hub.store import Database, open_database
from hub.workdays import dutch_day_start

__all__ = ["InboxStore"]

#: what an item is read from, in this order (see :meth:`InboxStore._item`)
_COLUMNS = (ALERTS.c.alert, ALERTS.c.status, ALERTS.c.received_ms, ALERTS.c.claimed_by,
            ALERTS.c.claimed_ms, ALERTS.c.outcome, ALERTS.c.closed_by, ALERTS.c.closed_ms,
            ALERTS.c.changed)


_ms = to_ms
_dt = from_ms
_bump = bump


def _now() -> datetime:
    return datetime.now(UTC)


class InboxStore:
    """Alerts per team in the application database; safe to share between threads.

    ``target``: a :class:`~hub.store.Database` (shared with other stores), a database
    URL, or the path of a SQLite file. ``clock`` gives "now" (received, claimed,
    closed, note times)."""

    def __init__(self, target: str | os.PathLike[str] | Database, *,
                 clock: Callable[[], datetime] = _now) -> None:
        self._db = open_database(target)
        self._closed = False
        self.path: Path | None = self._db.path
        self._clock = clock

    @property
    def database(self) -> Database:
        return self._db

    @property
    def clock(self) -> Callable[[], datetime]:
        """What gives this store "now" (shared with its :class:`CaseStore`)."""
        return self._clock

    # -- filling ---------------------------------------------------------------------------

    def add_many(self, alerts: Iterable[TeamAlert]) -> int:
        """Store alerts not seen before (one transaction); return how many were new."""
        now = _ms(self._clock())
        alerts_by_id = {a.alert_id: a for a in alerts}
        rows = {
            a.alert_id: {
                "alert_id": a.alert_id, "team_id": a.team_id, "event_id": a.event_id,
                "event_type": a.event_type,
                "urgent": 1 if a.urgency is AlertUrgency.URGENT else 0,
                "created_ms": _ms(a.created_at), "received_ms": now, "source": a.source,
                "alert": a.model_dump_json(),
            }
            for a in alerts_by_id.values()
        }
        if not rows:
            return 0
        with self._db.transaction() as conn:
            seq = _bump(conn)
            insert = (postgresql.insert if self._db.backend == "postgresql" else sqlite.insert)
            stmt = (insert(ALERTS).on_conflict_do_nothing(index_elements=["alert_id"])
                    .returning(ALERTS.c.alert_id))
            added = conn.execute(stmt, [{**r, "changed": seq} for r in rows.values()]).all()
            new = {alert_id for (alert_id,) in added}
            assign_cases(conn, [a for a in alerts_by_id.values() if a.alert_id in new],
                         now, seq)
            return len(added)

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
        changed_after: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InboxItem]:
        """A team's alerts, most urgent first, then newest first (by ``created_at``).

        ``since`` keeps alerts created at or after it (a date means its start in the
        Netherlands, 00:00 Europe/Amsterdam);
        ``changed_after`` those changed after that :meth:`version`.
        """
        where: list[sa.ColumnElement[bool]] = [ALERTS.c.team_id == team_id]
        if event_type is not None:
            where.append(ALERTS.c.event_type == event_type)
        if urgency is not None:
            where.append(ALERTS.c.urgent == (1 if AlertUrgency(urgency) is AlertUrgency.URGENT
                                             else 0))
        if status is not None:
            where.append(ALERTS.c.status == InboxStatus(status).value)
        if since is not None:
            if not isinstance(since, datetime):
                since = dutch_day_start(since)
            elif since.tzinfo is None:
                raise ValueError("since must be timezone-aware")
            where.append(ALERTS.c.created_ms >= _ms(since))
        if changed_after is not None:
            where.append(ALERTS.c.changed > changed_after)
        query = (sa.select(*_COLUMNS).where(*where)
                 .order_by(ALERTS.c.urgent.desc(), ALERTS.c.created_ms.desc(),
                           ALERTS.c.alert_id).limit(limit).offset(offset))
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [self._item(tuple(row)) for row in rows]

    def person_alerts(self, team_id: str, subject_ref: str, *, since: datetime,
                      until: datetime | None = None, exclude: Iterable[str] = (),
                      limit: int = 100) -> list[InboxItem]:
        """The team's own alerts of one person (``subject_ref``) created from ``since``
        (to ``until``, both included), newest first, without the alerts ``exclude``
        names: what a team sees of the signals behind ``prior_signals_180d``. Only
        ``team_id``'s alerts, never another team's."""
        if since.tzinfo is None or (until is not None and until.tzinfo is None):
            raise ValueError("since and until must be timezone-aware")
        where: list[sa.ColumnElement[bool]] = [
            ALERTS.c.team_id == team_id, ALERTS.c.created_ms >= _ms(since),
            # a cheap first cut on the stored JSON; each row is checked below
            ALERTS.c.alert.contains(f'"subject_ref":"{subject_ref}"', autoescape=True)]
        if until is not None:
            where.append(ALERTS.c.created_ms <= _ms(until))
        skip = set(exclude)
        if skip:
            where.append(ALERTS.c.alert_id.not_in(sorted(skip)))
        query = (sa.select(*_COLUMNS).where(*where)
                 .order_by(ALERTS.c.created_ms.desc(), ALERTS.c.alert_id).limit(limit))
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        items = [self._item(tuple(row)) for row in rows]
        return [i for i in items if i.alert.subject_ref == subject_ref
                and i.alert.team_id == team_id]

    def count(self, team_id: str, status: InboxStatus | str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(ALERTS).where(ALERTS.c.team_id == team_id)
        if status is not None:
            query = query.where(ALERTS.c.status == InboxStatus(status).value)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def version(self) -> int:
        """The change counter: raised by every write to the inbox (in any process)."""
        with self._db.read() as conn:
            return int(conn.execute(sa.select(CHANGES.c.seq).where(CHANGES.c.id == 1))
                       .scalar_one())

    def get(self, alert_id: str, *, team_id: str | None = None) -> InboxItem:
        """One alert with its notes; raise :class:`AlertNotFound` (also when it belongs to
        another team than ``team_id``)."""
        with self._db.read() as conn:
            row = self._row(conn, alert_id, team_id)
            notes = tuple(
                Note(author, text, datetime.fromtimestamp(at / 1000, UTC))
                for author, text, at in conn.execute(
                    sa.select(NOTES.c.author, NOTES.c.text, NOTES.c.at_ms)
                    .where(NOTES.c.alert_id == alert_id).order_by(NOTES.c.id))
            )
        return self._item(row, notes)

    # -- working on an alert -----------------------------------------------------------------

    def claim(self, alert_id: str, user: str, *, team_id: str | None = None) -> InboxItem:
        """Mark the alert as taken by ``user`` (again by the same user: no change)."""
        with self._db.transaction() as conn:
            seq = _bump(conn)  # first: every inbox write takes the counter's lock in turn
            _, status, _, claimed_by, *_ = self._row(conn, alert_id, team_id)
            if status == InboxStatus.CLOSED:
                raise InboxError(f"alert {alert_id} is closed")
            if status == InboxStatus.CLAIMED and claimed_by != user:
                raise InboxError(f"alert {alert_id} is claimed by someone else")
            if status == InboxStatus.NEW:
                conn.execute(sa.update(ALERTS).where(ALERTS.c.alert_id == alert_id).values(
                    status=InboxStatus.CLAIMED.value, claimed_by=user,
                    claimed_ms=_ms(self._clock()), changed=seq))
        return self.get(alert_id)

    def add_note(
        self, alert_id: str, author: str, text: str, *, team_id: str | None = None
    ) -> Note:
        """Append a note; notes stay in the inbox and are never published."""
        if not text.strip():
            raise InboxError("a note needs text")
        note = Note(author, text, self._clock())
        with self._db.transaction() as conn:
            self._row(conn, alert_id, team_id)
            conn.execute(sa.insert(NOTES).values(alert_id=alert_id, author=author, text=text,
                                                 at_ms=_ms(note.at)))
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
        now = self._clock()
        with self._db.transaction() as conn:
            seq = _bump(conn)
            raw, status, *_, old_outcome, _, closed_ms, _ = self._row(conn, alert_id, team_id)
            alert = TeamAlert.model_validate_json(raw)
            if status == InboxStatus.CLOSED:
                if old_outcome != outcome.value:
                    raise InboxError(f"alert {alert_id} is already closed as {old_outcome}")
                closed_at = _dt(closed_ms) or now
                return Closure(alert, outcome, closed_at, newly_closed=False)
            conn.execute(sa.update(ALERTS).where(ALERTS.c.alert_id == alert_id).values(
                status=InboxStatus.CLOSED.value, outcome=outcome.value, closed_by=by,
                closed_ms=_ms(now), changed=seq))
            if note and note.strip():
                conn.execute(sa.insert(NOTES).values(alert_id=alert_id, author=by or "",
                                                     text=note, at_ms=_ms(now)))
        return Closure(alert, outcome, _dt(_ms(now)) or now, newly_closed=True)

    # -- retention ---------------------------------------------------------------------------

    def purge(self, before: Mapping[str, datetime], *, others: datetime | None = None
              ) -> dict[str, int]:
        """Delete the alerts received before ``before[event_type]`` with their notes
        (alerts of an event type not in ``before``: before ``others``; None keeps them).
        An expired alert leaves its case; a case left without signals goes, with its
        contact attempts. Returns ``{"inbox_alerts": n, "inbox_notes": m}`` (a dry run: inside
        :func:`hub.store.rollback_only`)."""
        conditions = [sa.and_(ALERTS.c.event_type == event_type,
                              ALERTS.c.received_ms < _ms(cutoff))
                      for event_type, cutoff in before.items()]
        if others is not None:
            conditions.append(sa.and_(ALERTS.c.event_type.not_in(list(before)),
                                      ALERTS.c.received_ms < _ms(others)))
        if not conditions:
            return {"inbox_alerts": 0, "inbox_notes": 0}
        expired = sa.or_(*conditions)
        with self._db.transaction() as conn:
            forget_alerts(conn, sa.select(ALERTS.c.alert_id).where(expired))
            notes = conn.execute(sa.delete(NOTES).where(NOTES.c.alert_id.in_(
                sa.select(ALERTS.c.alert_id).where(expired)))).rowcount
            alerts = conn.execute(sa.delete(ALERTS).where(expired)).rowcount
        return {"inbox_alerts": int(alerts), "inbox_notes": int(notes)}

    def close(self) -> None:
        """Let go of the database (once; closing again does nothing)."""
        if not self._closed:
            self._closed = True
            self._db.close()

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _row(conn: sa.Connection, alert_id: str, team_id: str | None) -> tuple[Any, ...]:
        query = sa.select(*_COLUMNS, ALERTS.c.team_id).where(ALERTS.c.alert_id == alert_id)
        row = conn.execute(query).first()
        if row is None or (team_id is not None and row[-1] != team_id):
            raise AlertNotFound(f"no alert {alert_id}" + (f" for {team_id}" if team_id else ""))
        return tuple(row[:-1])

    @staticmethod
    def _item(row: tuple[Any, ...], notes: tuple[Note, ...] = ()) -> InboxItem:
        raw, status, received, claimed_by, claimed, outcome, closed_by, closed, changed = row
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
            version=int(changed),
        )
