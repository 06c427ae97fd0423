"""Server-side sessions of the web app, in the ``sessions`` table of ``users.db``.

The browser's cookie carries only a random session id (signed, see
:mod:`hub.web.auth`); the table keeps its SHA-256 (a copy of the file holds no usable
cookie), the username, when it was made and last used, and when it was revoked. A
session is live while it is not revoked, was used within ``idle_timeout`` seconds and
is younger than ``max_age`` seconds. Signing out revokes one session; disabling an
account, changing its teams or its password revokes all of the user's sessions
(:func:`revoke_user_sessions`, called by :class:`hub.web.accounts.UserStore` in the
same transaction), so another process (``signalhub users disable``) ends them at once.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable

from hub.sqlite import write_transaction

__all__ = ["SESSION_TABLES", "SessionStore", "revoke_user_sessions"]

SESSION_TABLES = (
    "CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, username TEXT NOT NULL,"
    " created REAL NOT NULL, last_seen REAL NOT NULL, revoked REAL)",
    "CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (username)",
)
#: ``last_seen`` is written at most this often per session (the idle timeout's precision)
_TOUCH_SECONDS = 60.0


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def revoke_user_sessions(db: sqlite3.Connection, username: str, at: float) -> int:
    """Revoke every live session of ``username`` (inside the caller's transaction)."""
    cur = db.execute("UPDATE sessions SET revoked = ? WHERE username = ? AND revoked IS NULL",
                     (at, username))
    return cur.rowcount


class SessionStore:
    """Sessions on a connection shared with the user store (its lock guards both)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, *, idle_timeout: float,
                 max_age: float, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._lock = lock
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self._clock = clock
        self._touch = min(_TOUCH_SECONDS, idle_timeout / 10)

    def create(self, username: str) -> str:
        """A new session of ``username``; returns its id (known only to the cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with write_transaction(self._db, self._lock) as db:
            db.execute("DELETE FROM sessions WHERE created < ? OR last_seen < ?",
                       (now - self.max_age, now - self.idle_timeout))
            db.execute("INSERT INTO sessions (id_hash, username, created, last_seen)"
                       " VALUES (?, ?, ?, ?)", (_hash(session_id), username, now, now))
        return session_id

    def user_of(self, session_id: str, *, touch: bool = True) -> str | None:
        """The username of a live session, else None; ``touch`` counts this as use."""
        key, now = _hash(session_id), self._clock()
        with self._lock:
            row = self._db.execute(
                "SELECT username, created, last_seen, revoked FROM sessions WHERE id_hash = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        username, created, last_seen, revoked = row
        if (revoked is not None or now - last_seen > self.idle_timeout
                or now - created > self.max_age):
            return None
        if touch and now - last_seen >= self._touch:
            with self._lock:
                self._db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?"
                                 " AND revoked IS NULL", (now, key))
        return str(username)

    def revoke(self, session_id: str) -> None:
        """End one session (signing out)."""
        with self._lock:
            self._db.execute("UPDATE sessions SET revoked = ? WHERE id_hash = ?"
                             " AND revoked IS NULL", (self._clock(), _hash(session_id)))

    def revoke_user(self, username: str) -> int:
        """End every session of ``username``; returns how many were live."""
        with write_transaction(self._db, self._lock) as db:
            return revoke_user_sessions(db, username, self._clock())

    def live_count(self, username: str) -> int:
        """How many sessions of ``username`` are live now."""
        now = self._clock()
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM sessions WHERE username = ? AND revoked IS NULL"
                " AND last_seen >= ? AND created >= ?",
                (username, now - self.idle_timeout, now - self.max_age),
            ).fetchone()
        return int(n)
