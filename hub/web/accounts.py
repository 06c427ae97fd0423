"""Web accounts: users with an argon2 password hash, a role and team memberships.

:class:`UserStore` keeps them in one SQLite file (``<state_dir>/users.db``). Roles:

- ``member``: works in the inbox of the teams they belong to;
- ``operator``: runs the hub (dashboard, metrics); sees no alert contents at all and is
  no team member;
- ``admin``: manages accounts; sees the inbox of the teams they belong to.

The same file holds the web app's server-side sessions (:mod:`hub.web.sessions`):
disabling a user, changing their teams or their password ends all their sessions.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.errors import AccountError
from hub.sqlite import open_database, write_transaction
from hub.web.sessions import SESSION_TABLES, SessionStore, revoke_user_sessions

__all__ = ["ROLES", "AccountError", "User", "UserStore"]

ROLES = ("member", "operator", "admin")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TABLES = (
    "CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
    " role TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS memberships (username TEXT NOT NULL REFERENCES users (username),"
    " team_id TEXT NOT NULL, PRIMARY KEY (username, team_id))",
    *SESSION_TABLES,
)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise AccountError("a password needs at least 8 characters")


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: str
    teams: frozenset[str] = frozenset()
    disabled: bool = False


class UserStore:
    """Users and their teams in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._hasher = PasswordHasher()
        self._lock = threading.Lock()
        self._db = open_database(path)
        with write_transaction(self._db, self._lock) as db:
            for stmt in _TABLES:
                db.execute(stmt)
        self._dummy: str | None = None

    def add(self, username: str, password: str, role: str = "member",
            teams: Iterable[str] = ()) -> User:
        """Create a user; raise AccountError when the name is taken or invalid."""
        if not _USERNAME.match(username):
            raise AccountError(f"invalid username {username!r}: lowercase letters, digits, . _ -")
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        _check_password(password)
        team_set = frozenset(teams)
        if role == "operator" and team_set:
            raise AccountError("operators are no team members")
        hashed = self._hasher.hash(password)
        try:
            with write_transaction(self._db, self._lock) as db:
                db.execute(
                    "INSERT INTO users (username, password_hash, role) VALUES (?, ?, ?)",
                    (username, hashed, role),
                )
                db.executemany(
                    "INSERT INTO memberships (username, team_id) VALUES (?, ?)",
                    [(username, t) for t in sorted(team_set)],
                )
        except sqlite3.IntegrityError as exc:
            raise AccountError(f"user {username!r} exists") from exc
        return User(username, role, team_set)

    def _dummy_hash(self) -> str:
        """Verifying an unknown user costs as much as a known one (no timing oracle)."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("not-a-password")
        return self._dummy

    def get(self, username: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT role, disabled FROM users WHERE username = ?", (username,)
            ).fetchone()
            if row is None:
                return None
            teams = frozenset(t for (t,) in self._db.execute(
                "SELECT team_id FROM memberships WHERE username = ?", (username,)))
        return User(username, row[0], teams, bool(row[1]))

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches and the account is enabled, else None."""
        with self._lock:
            row = self._db.execute(
                "SELECT password_hash, disabled FROM users WHERE username = ?", (username,)
            ).fetchone()
        hashed = row[0] if row else self._dummy_hash()
        try:
            self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row[1]:
            return None
        if self._hasher.check_needs_rehash(hashed):
            rehashed = self._hasher.hash(password)
            with write_transaction(self._db, self._lock) as db:
                db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                           (rehashed, username))
        return self.get(username)

    def list(self) -> list[User]:
        with self._lock:
            names = [n for (n,) in self._db.execute("SELECT username FROM users ORDER BY 1")]
        return [u for u in map(self.get, names) if u is not None]

    def disable(self, username: str) -> None:
        """Disable ``username`` and end all their sessions."""
        with write_transaction(self._db, self._lock) as db:
            cur = db.execute("UPDATE users SET disabled = 1 WHERE username = ?", (username,))
            revoke_user_sessions(db, username, time.time())
        if cur.rowcount == 0:
            raise AccountError(f"no user {username!r}")

    def set_teams(self, username: str, teams: Iterable[str]) -> User:
        """Make ``teams`` the user's teams; a change ends all their sessions."""
        user = self.get(username)
        if user is None:
            raise AccountError(f"no user {username!r}")
        team_set = frozenset(teams)
        if user.role == "operator" and team_set:
            raise AccountError("operators are no team members")
        with write_transaction(self._db, self._lock) as db:
            db.execute("DELETE FROM memberships WHERE username = ?", (username,))
            db.executemany("INSERT INTO memberships (username, team_id) VALUES (?, ?)",
                           [(username, t) for t in sorted(team_set)])
            if team_set != user.teams:
                revoke_user_sessions(db, username, time.time())
        return User(username, user.role, team_set, user.disabled)

    def set_password(self, username: str, password: str) -> None:
        """Give ``username`` a new password and end all their sessions."""
        _check_password(password)
        hashed = self._hasher.hash(password)
        with write_transaction(self._db, self._lock) as db:
            cur = db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                             (hashed, username))
            revoke_user_sessions(db, username, time.time())
        if cur.rowcount == 0:
            raise AccountError(f"no user {username!r}")

    def sessions(self, *, idle_timeout: float, max_age: float,
                 clock: Callable[[], float] = time.time) -> SessionStore:
        """The sessions kept in this file (sharing this store's connection)."""
        return SessionStore(self._db, self._lock, idle_timeout=idle_timeout,
                            max_age=max_age, clock=clock)

    def close(self) -> None:
        with self._lock:
            self._db.close()
