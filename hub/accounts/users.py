"""Accounts: users with an argon2 password hash, a role and team memberships.

:class:`UserStore` keeps them in the application database (:mod:`hub.store`: SQLite
or PostgreSQL, shared by every instance of the hub). Roles:

- ``member``: works in the inbox of the teams they belong to;
- ``operator``: runs the hub (dashboard, metrics); sees no alert contents at all and is
  no team member;
- ``admin``: manages accounts; sees the inbox of the teams they belong to.

The same database holds the web app's server-side sessions (:mod:`hub.accounts.sessions`)
and sign-in attempts (:class:`hub.accounts.attempts.DatabaseAttemptStore`): disabling a user,
changing their teams or their password ends all their sessions, on every instance.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.accounts.attempts import DatabaseAttemptStore
from hub.accounts.sessions import SessionStore, revoke_user_sessions
from hub.accounts.tables import MEMBERSHIPS, USERS
from hub.errors import AccountError
from hub.store import Database, open_database

__all__ = ["ADMIN_ROLES", "OPERATOR_ROLES", "ROLES", "TEAM_ROLES", "AccountError", "User",
           "UserStore"]

ROLES = ("member", "operator", "admin")
#: the roles that work in a team's inbox (their own teams' alerts only)
TEAM_ROLES = ("member", "admin")
#: the roles that see the operator dashboard (no alert contents)
OPERATOR_ROLES = ("operator", "admin")
#: the roles that manage accounts (the account pages)
ADMIN_ROLES = ("admin",)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


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
    """Users and their teams in the application database; safe to share between threads.

    ``target``: a :class:`~hub.store.Database` (shared with other stores), a database
    URL, or the path of a SQLite file."""

    def __init__(self, target: str | os.PathLike[str] | Database) -> None:
        self._db = open_database(target)
        self._closed = False
        self.path: Path | None = self._db.path
        self._hasher = PasswordHasher()
        self._dummy: str | None = None

    @property
    def database(self) -> Database:
        return self._db

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
            with self._db.transaction() as conn:
                conn.execute(sa.insert(USERS).values(username=username, password_hash=hashed,
                                                     role=role))
                self._insert_teams(conn, username, team_set)
        except sa.exc.IntegrityError as exc:
            raise AccountError(f"user {username!r} exists") from exc
        return User(username, role, team_set)

    @staticmethod
    def _insert_teams(conn: sa.Connection, username: str, teams: frozenset[str]) -> None:
        if teams:
            conn.execute(sa.insert(MEMBERSHIPS),
                         [{"username": username, "team_id": t} for t in sorted(teams)])

    def _dummy_hash(self) -> str:
        """Verifying an unknown user costs as much as a known one (no timing oracle)."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("not-a-password")
        return self._dummy

    def get(self, username: str) -> User | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(USERS.c.role, USERS.c.disabled)
                               .where(USERS.c.username == username)).first()
            if row is None:
                return None
            teams = frozenset(conn.execute(sa.select(MEMBERSHIPS.c.team_id)
                                           .where(MEMBERSHIPS.c.username == username))
                              .scalars())
        return User(username, row[0], teams, bool(row[1]))

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches and the account is enabled, else None."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(USERS.c.password_hash, USERS.c.disabled)
                               .where(USERS.c.username == username)).first()
        hashed = row[0] if row else self._dummy_hash()
        try:
            self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row[1]:
            return None
        if self._hasher.check_needs_rehash(hashed):
            rehashed = self._hasher.hash(password)
            with self._db.transaction() as conn:
                conn.execute(sa.update(USERS).where(USERS.c.username == username)
                             .values(password_hash=rehashed))
        return self.get(username)

    def list(self) -> list[User]:
        with self._db.read() as conn:
            names = list(conn.execute(sa.select(USERS.c.username).order_by(USERS.c.username))
                         .scalars())
        return [u for u in map(self.get, names) if u is not None]

    def disable(self, username: str) -> None:
        """Disable ``username`` and end all their sessions."""
        with self._db.transaction() as conn:
            found = conn.execute(sa.update(USERS).where(USERS.c.username == username)
                                 .values(disabled=1)).rowcount
            revoke_user_sessions(conn, username, time.time())
        if found == 0:
            raise AccountError(f"no user {username!r}")

    def enable(self, username: str) -> None:
        """Enable ``username`` again; any session of theirs stays ended (revoked again,
        for one made meanwhile), so they sign in anew."""
        with self._db.transaction() as conn:
            found = conn.execute(sa.update(USERS).where(USERS.c.username == username)
                                 .values(disabled=0)).rowcount
            revoke_user_sessions(conn, username, time.time())
        if found == 0:
            raise AccountError(f"no user {username!r}")

    def set_teams(self, username: str, teams: Iterable[str]) -> User:
        """Make ``teams`` the user's teams; a change ends all their sessions."""
        user = self.get(username)
        if user is None:
            raise AccountError(f"no user {username!r}")
        team_set = frozenset(teams)
        if user.role == "operator" and team_set:
            raise AccountError("operators are no team members")
        with self._db.transaction() as conn:
            conn.execute(sa.delete(MEMBERSHIPS).where(MEMBERSHIPS.c.username == username))
            self._insert_teams(conn, username, team_set)
            if team_set != user.teams:
                revoke_user_sessions(conn, username, time.time())
        return User(username, user.role, team_set, user.disabled)

    def set_password(self, username: str, password: str) -> None:
        """Give ``username`` a new password and end all their sessions."""
        _check_password(password)
        hashed = self._hasher.hash(password)
        with self._db.transaction() as conn:
            found = conn.execute(sa.update(USERS).where(USERS.c.username == username)
                                 .values(password_hash=hashed)).rowcount
            revoke_user_sessions(conn, username, time.time())
        if found == 0:
            raise AccountError(f"no user {username!r}")

    def sessions(self, *, idle_timeout: float, max_age: float,
                 clock: Callable[[], float] = time.time) -> SessionStore:
        """The sessions kept in this database."""
        return SessionStore(self._db, idle_timeout=idle_timeout, max_age=max_age, clock=clock)

    def attempts(self, clock: Callable[[], float] = time.time) -> DatabaseAttemptStore:
        """The sign-in attempts kept in this database (for the sign-in limits)."""
        return DatabaseAttemptStore(self._db, clock=clock)

    def close(self) -> None:
        """Let go of the database (once; closing again does nothing)."""
        if not self._closed:
            self._closed = True
            self._db.close()
