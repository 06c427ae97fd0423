"""Server-side sessions of the web app, in the ``sessions`` table of the application
database (:mod:`hub.store`, shared with the accounts).

The browser's cookie carries only a random session id (signed, see
:mod:`hub.web.auth`); the table keeps its SHA-256 (a copy of the database holds no
usable cookie), the username, when it was made and last used, and when it was revoked.
A session is live while it is not revoked, was used within ``idle_timeout`` seconds and
is younger than ``max_age`` seconds. Signing out revokes one session; disabling an
account, changing its teams or its password revokes all of the user's sessions
(:func:`revoke_user_sessions`, called by :class:`hub.accounts.users.UserStore` in the
same transaction). Every request reads its session from the database, so another
process or instance on the same database (``signalhub users disable``, a second hub)
ends them at once. Times are wall-clock seconds (``time.time``), comparable across
machines.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

import sqlalchemy as sa

from hub.accounts.tables import SESSIONS
from hub.store import Database

__all__ = ["SessionStore", "revoke_user_sessions"]

#: ``last_seen`` is written at most this often per session (the idle timeout's precision)
_TOUCH_SECONDS = 60.0


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def revoke_user_sessions(conn: sa.Connection, username: str, at: float) -> int:
    """Revoke every live session of ``username`` (inside the caller's transaction)."""
    result = conn.execute(sa.update(SESSIONS).where(SESSIONS.c.username == username,
                                                    SESSIONS.c.revoked.is_(None))
                          .values(revoked=at))
    return int(result.rowcount)


class SessionStore:
    """Sessions in the database of a :class:`~hub.accounts.users.UserStore` (which makes
    it: :meth:`~hub.accounts.users.UserStore.sessions`)."""

    def __init__(self, db: Database, *, idle_timeout: float, max_age: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self._clock = clock
        self._touch = min(_TOUCH_SECONDS, idle_timeout / 10)

    def _dead(self, now: float) -> sa.ColumnElement[bool]:
        return sa.or_(SESSIONS.c.created < now - self.max_age,
                      SESSIONS.c.last_seen < now - self.idle_timeout)

    def create(self, username: str) -> str:
        """A new session of ``username``; returns its id (known only to the cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._db.transaction() as conn:
            conn.execute(sa.delete(SESSIONS).where(self._dead(now)))
            conn.execute(sa.insert(SESSIONS).values(id_hash=_hash(session_id),
                                                    username=username, created=now,
                                                    last_seen=now))
        return session_id

    def user_of(self, session_id: str, *, touch: bool = True) -> str | None:
        """The username of a live session, else None; ``touch`` counts this as use."""
        key, now = _hash(session_id), self._clock()
        with self._db.read() as conn:
            row = conn.execute(sa.select(SESSIONS.c.username, SESSIONS.c.created,
                                         SESSIONS.c.last_seen, SESSIONS.c.revoked)
                               .where(SESSIONS.c.id_hash == key)).first()
        if row is None:
            return None
        username, created, last_seen, revoked = row
        if (revoked is not None or now - last_seen > self.idle_timeout
                or now - created > self.max_age):
            return None
        if touch and now - last_seen >= self._touch:
            with self._db.transaction() as conn:
                conn.execute(sa.update(SESSIONS).where(SESSIONS.c.id_hash == key,
                                                       SESSIONS.c.revoked.is_(None))
                             .values(last_seen=now))
        return str(username)

    def revoke(self, session_id: str) -> None:
        """End one session (signing out)."""
        with self._db.transaction() as conn:
            conn.execute(sa.update(SESSIONS).where(SESSIONS.c.id_hash == _hash(session_id),
                                                   SESSIONS.c.revoked.is_(None))
                         .values(revoked=self._clock()))

    def revoke_user(self, username: str) -> int:
        """End every session of ``username``; returns how many were live."""
        with self._db.transaction() as conn:
            return revoke_user_sessions(conn, username, self._clock())

    def live_count(self, username: str) -> int:
        """How many sessions of ``username`` are live now."""
        now = self._clock()
        query = sa.select(sa.func.count()).select_from(SESSIONS).where(
            SESSIONS.c.username == username, SESSIONS.c.revoked.is_(None),
            SESSIONS.c.last_seen >= now - self.idle_timeout,
            SESSIONS.c.created >= now - self.max_age)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def purge(self, before: float) -> int:
        """Delete the sessions that ended before ``before`` (seconds since the epoch):
        revoked then, or idle or past their lifetime by then; return how many."""
        ended = sa.or_(SESSIONS.c.revoked < before, self._dead(before))
        with self._db.transaction() as conn:
            return int(conn.execute(sa.delete(SESSIONS).where(ended)).rowcount)
