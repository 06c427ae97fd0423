"""The cases of the national workflow in the application database (:mod:`hub.inbox.cases`).

:func:`assign_cases` runs inside the inbox's insert of new alerts
(:meth:`hub.inbox.store.InboxStore.add_many`, same transaction): each new alert that
follows the national workflow joins the open case of its person and team, else opens a
new one. :class:`CaseStore` reads cases and records the team's steps on them; every step
raises the inbox's change counter (:func:`hub.inbox.changes.bump`) first, so steps on
the inbox are serialised across processes and instances. A step that does not fit the
case's state raises :class:`~hub.errors.InboxError`; an unknown case (or another team's)
:class:`~hub.errors.CaseNotFound`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.ddas.codes import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.errors import CaseNotFound, InboxError
from hub.events import TeamAlert
from hub.inbox.cases import (
    NOT_TAKEN_UP,
    Case,
    CaseClosing,
    CaseSignal,
    ContactAttempt,
    joins_a_case,
    pick_up_for,
    signal_status_for,
)
from hub.inbox.changes import bump, from_ms, to_ms
from hub.inbox.model import CloseOutcome, Closure, InboxStatus
from hub.inbox.tables import ALERTS, CASE_SIGNALS, CASES, CONTACT_ATTEMPTS
from hub.store import Database
from hub.workdays import dutch_date, dutch_day_start

__all__ = ["CaseStore", "assign_cases", "forget_alerts"]


def _now() -> datetime:
    return datetime.now(UTC)


def assign_cases(conn: sa.Connection, alerts: Iterable[TeamAlert], now_ms: int, seq: int
                 ) -> None:
    """Put each of ``alerts`` (new in the inbox) that follows the national workflow into
    the open case of its person and team, or into a new case."""
    for alert in alerts:
        if not joins_a_case(alert):
            continue
        case_id = conn.execute(sa.select(CASES.c.case_id).where(
            CASES.c.team_id == alert.team_id, CASES.c.subject_ref == alert.subject_ref,
            CASES.c.result.is_(None))).scalar()
        if case_id is None:
            case_id = str(uuid.uuid4())
            conn.execute(sa.insert(CASES).values(
                case_id=case_id, team_id=alert.team_id, subject_ref=alert.subject_ref,
                municipality_code=alert.municipality_code, opened_ms=now_ms, changed=seq))
        else:
            conn.execute(sa.update(CASES).where(CASES.c.case_id == case_id)
                         .values(changed=seq))
        conn.execute(sa.insert(CASE_SIGNALS).values(
            alert_id=alert.alert_id, case_id=case_id,
            status=Signaalstatus.NOG_NIET_OPGEPAKT.value, joined_ms=now_ms,
            joined_seq=seq))


def forget_alerts(conn: sa.Connection, alert_ids: sa.Select[Any]) -> None:
    """Take the alerts ``alert_ids`` selects out of their cases (before they are
    deleted); a case left without signals goes too, with its contact attempts."""
    conn.execute(sa.delete(CASE_SIGNALS).where(CASE_SIGNALS.c.alert_id.in_(alert_ids)))
    empty = sa.select(CASES.c.case_id).where(~sa.exists().where(
        CASE_SIGNALS.c.case_id == CASES.c.case_id))
    conn.execute(sa.delete(CONTACT_ATTEMPTS).where(CONTACT_ATTEMPTS.c.case_id.in_(empty)))
    conn.execute(sa.delete(CASES).where(CASES.c.case_id.in_(empty)))


class CaseStore:
    """The cases in ``database`` (shared with :class:`~hub.inbox.store.InboxStore`);
    ``clock`` gives "now" (and "today", the Dutch date, for dates not given)."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = _now) -> None:
        self._db = database
        self._clock = clock

    def today(self) -> date:
        return dutch_date(self._clock())

    # -- reading ---------------------------------------------------------------------------

    def get(self, case_id: str, *, team_id: str | None = None) -> Case:
        with self._db.read() as conn:
            return self._case(conn, case_id, team_id)

    def case_of(self, alert_id: str, *, team_id: str | None = None) -> Case:
        """The case an alert belongs to; :class:`CaseNotFound` when it belongs to none."""
        with self._db.read() as conn:
            case_id = conn.execute(sa.select(CASE_SIGNALS.c.case_id)
                                   .where(CASE_SIGNALS.c.alert_id == alert_id)).scalar()
            if case_id is None:
                raise CaseNotFound(f"alert {alert_id} belongs to no case")
            return self._case(conn, str(case_id), team_id)

    def list_cases(self, team_id: str, *, open_only: bool = False) -> list[Case]:
        """A team's cases, newest first."""
        where: list[sa.ColumnElement[bool]] = [CASES.c.team_id == team_id]
        if open_only:
            where.append(CASES.c.result.is_(None))
        with self._db.read() as conn:
            cases = _load(conn, sa.and_(*where))
        return sorted(cases, key=lambda c: (-c.opened_at.timestamp(), c.case_id))

    def cases_in(self, municipality_code: str, start: date, end: date) -> list[Case]:
        """The municipality's cases open at any time from ``start`` to ``end`` (both
        included, Dutch days): opened before the day after ``end``, and not closed
        before ``start``; oldest first."""
        after_end = to_ms(dutch_day_start(end + timedelta(days=1)))
        begin = to_ms(dutch_day_start(start))
        with self._db.read() as conn:
            cases = _load(conn, sa.and_(
                CASES.c.municipality_code == municipality_code, CASES.c.opened_ms < after_end,
                sa.or_(CASES.c.closed_ms.is_(None), CASES.c.closed_ms >= begin)))
        return sorted(cases, key=lambda c: (c.opened_at, c.case_id))

    # -- the team's steps ------------------------------------------------------------------

    def take_up(self, case_id: str, user: str, *, on: date | None = None,
                team_id: str | None = None) -> Case:
        """Record that ``user`` took the case up ``on`` (default today): its signals not
        yet taken up become ``Opgepakt``, its new alerts claimed by ``user``. Taking up
        a case taken up before changes nothing."""
        with self._db.transaction() as conn:
            seq = bump(conn)
            case = self._open_case(conn, case_id, team_id)
            if case.taken_up_on is not None:
                return case
            conn.execute(sa.update(CASES).where(CASES.c.case_id == case_id).values(
                taken_up_on=on or self.today(), taken_up_by=user, changed=seq))
            conn.execute(sa.update(CASE_SIGNALS).where(
                CASE_SIGNALS.c.case_id == case_id,
                CASE_SIGNALS.c.status == Signaalstatus.NOG_NIET_OPGEPAKT.value,
            ).values(status=Signaalstatus.OPGEPAKT.value))
            conn.execute(sa.update(ALERTS).where(
                ALERTS.c.alert_id.in_(self._alert_ids(case)),
                ALERTS.c.status == InboxStatus.NEW.value,
            ).values(status=InboxStatus.CLAIMED.value, claimed_by=user,
                     claimed_ms=to_ms(self._clock()), changed=seq))
            return self._case(conn, case_id, None)

    def add_attempt(self, case_id: str, user: str, *, kind: Contactsoort, reached: bool,
                    on: date | None = None, part_of_day: Dagdeel | None = None,
                    team_id: str | None = None) -> Case:
        """Append a contact attempt to a case taken up and still open."""
        with self._db.transaction() as conn:
            seq = bump(conn)
            case = self._open_case(conn, case_id, team_id)
            if case.taken_up_on is None:
                raise InboxError(f"case {case_id} is not taken up yet: take it up first")
            conn.execute(sa.insert(CONTACT_ATTEMPTS).values(
                case_id=case_id, kind=Contactsoort(kind).value, reached=reached,
                on_date=on or self.today(),
                part_of_day=Dagdeel(part_of_day).value if part_of_day else None,
                recorded_by=user, recorded_ms=to_ms(self._clock())))
            conn.execute(sa.update(CASES).where(CASES.c.case_id == case_id)
                         .values(changed=seq))
            return self._case(conn, case_id, None)

    def set_signal_status(self, case_id: str, alert_id: str, status: Signaalstatus, *,
                          team_id: str | None = None) -> Case:
        """Give one signal of an open case its own status (e.g. ``Niet opgepakt:
        herhaalde melding`` for a repeated report); a "not taken up" status stays at
        the close."""
        status = Signaalstatus(status)
        with self._db.transaction() as conn:
            seq = bump(conn)
            case = self._open_case(conn, case_id, team_id)
            if alert_id not in self._alert_ids(case):
                raise InboxError(f"alert {alert_id} is no signal of case {case_id}")
            conn.execute(sa.update(CASE_SIGNALS).where(CASE_SIGNALS.c.alert_id == alert_id)
                         .values(status=status.value))
            conn.execute(sa.update(CASES).where(CASES.c.case_id == case_id)
                         .values(changed=seq))
            return self._case(conn, case_id, None)

    def close(self, case_id: str, result: Eindresultaat, user: str, *,
              team_id: str | None = None) -> CaseClosing:
        """Close the case with ``result``: each signal gets its final status, each of its
        alerts still open is closed as ``PICKED_UP`` or ``NOT_PICKED_UP`` (from that
        status). Closing again with the same result changes nothing (the closures come
        back with ``newly_closed`` False); with another result it raises InboxError. A
        result that says the case was worked on needs the case taken up first."""
        result = Eindresultaat(result)
        now = self._clock()
        with self._db.transaction() as conn:
            seq = bump(conn)
            case = self._case(conn, case_id, team_id)
            if case.result is not None:
                if case.result is not result:
                    raise InboxError(f"case {case_id} is already closed as {case.result}")
                return CaseClosing(case, self._closures(case, set()), newly_closed=False)
            final = signal_status_for(result)
            if final is Signaalstatus.OPGEPAKT and case.taken_up_on is None:
                raise InboxError(f"case {case_id} is not taken up yet: take it up before"
                                 f" closing it as {result}")
            closing: set[str] = set()
            for signal in case.signals:
                status = signal.status if signal.status in NOT_TAKEN_UP else final
                alert_id = signal.alert.alert_id
                conn.execute(sa.update(CASE_SIGNALS).where(CASE_SIGNALS.c.alert_id == alert_id)
                             .values(status=status.value))
                if signal.outcome is None:
                    closing.add(alert_id)
                    conn.execute(sa.update(ALERTS).where(ALERTS.c.alert_id == alert_id).values(
                        status=InboxStatus.CLOSED.value,
                        outcome=CloseOutcome(pick_up_for(status).value).value, closed_by=user,
                        closed_ms=to_ms(now), changed=seq))
            conn.execute(sa.update(CASES).where(CASES.c.case_id == case_id).values(
                result=result.value, closed_by=user, closed_ms=to_ms(now), changed=seq))
            closed = self._case(conn, case_id, None)
        return CaseClosing(closed, self._closures(closed, closing), newly_closed=True)

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _alert_ids(case: Case) -> list[str]:
        return [s.alert.alert_id for s in case.signals]

    @staticmethod
    def _closures(case: Case, new: set[str]) -> tuple[Closure, ...]:
        """The closure of each signal's alert (closed before: its own outcome)."""
        at = case.closed_at or _now()
        return tuple(Closure(s.alert, s.outcome, at, newly_closed=s.alert.alert_id in new)
                     for s in case.signals if s.outcome is not None)

    def _open_case(self, conn: sa.Connection, case_id: str, team_id: str | None) -> Case:
        case = self._case(conn, case_id, team_id)
        if not case.is_open:
            raise InboxError(f"case {case_id} is closed")
        return case

    @staticmethod
    def _case(conn: sa.Connection, case_id: str, team_id: str | None) -> Case:
        found = _load(conn, CASES.c.case_id == case_id)
        if not found or (team_id is not None and found[0].team_id != team_id):
            raise CaseNotFound(f"no case {case_id}" + (f" for {team_id}" if team_id else ""))
        return found[0]


def _load(conn: sa.Connection, where: sa.ColumnElement[bool]) -> list[Case]:
    """The cases ``where`` selects, each with its signals and contact attempts (three
    queries, whatever their number)."""
    ids = sa.select(CASES.c.case_id).where(where)
    signals: dict[str, list[CaseSignal]] = {}
    for case_id, *row in conn.execute(
            sa.select(CASE_SIGNALS.c.case_id, ALERTS.c.alert, CASE_SIGNALS.c.status,
                      CASE_SIGNALS.c.joined_ms, ALERTS.c.outcome)
            .join(ALERTS, ALERTS.c.alert_id == CASE_SIGNALS.c.alert_id)
            .where(CASE_SIGNALS.c.case_id.in_(ids))
            .order_by(CASE_SIGNALS.c.joined_seq, ALERTS.c.created_ms,
                      CASE_SIGNALS.c.alert_id)):
        signals.setdefault(case_id, []).append(_signal(row))
    attempts: dict[str, list[ContactAttempt]] = {}
    for case_id, kind, reached, on_date, part, by, ms in conn.execute(
            sa.select(CONTACT_ATTEMPTS.c.case_id, CONTACT_ATTEMPTS.c.kind,
                      CONTACT_ATTEMPTS.c.reached, CONTACT_ATTEMPTS.c.on_date,
                      CONTACT_ATTEMPTS.c.part_of_day, CONTACT_ATTEMPTS.c.recorded_by,
                      CONTACT_ATTEMPTS.c.recorded_ms)
            .where(CONTACT_ATTEMPTS.c.case_id.in_(ids)).order_by(CONTACT_ATTEMPTS.c.id)):
        attempts.setdefault(case_id, []).append(ContactAttempt(
            Contactsoort(kind), bool(reached), on_date, Dagdeel(part) if part else None, by,
            from_ms(ms) or _now()))
    return [
        Case(
            case_id=row["case_id"], team_id=row["team_id"], subject_ref=row["subject_ref"],
            municipality_code=row["municipality_code"],
            opened_at=from_ms(row["opened_ms"]) or _now(),
            signals=tuple(signals.get(row["case_id"], ())),
            contact_attempts=tuple(attempts.get(row["case_id"], ())),
            taken_up_on=row["taken_up_on"], taken_up_by=row["taken_up_by"],
            result=Eindresultaat(row["result"]) if row["result"] else None,
            closed_by=row["closed_by"], closed_at=from_ms(row["closed_ms"]),
            version=int(row["changed"]),
        )
        for row in conn.execute(sa.select(CASES).where(where)).mappings()
    ]


def _signal(row: Sequence[Any]) -> CaseSignal:
    raw, status, joined, outcome = row
    return CaseSignal(TeamAlert.model_validate_json(raw), Signaalstatus(status),
                      from_ms(joined) or _now(), CloseOutcome(outcome) if outcome else None)
