"""Account management by an admin: add, disable, enable, a new password, team membership.

:class:`AccountAdmin` is what the web app's account pages (``/beheer/accounts``) call.
Every change

- goes through :class:`~hub.accounts.users.UserStore` in one transaction that also ends
  all the affected user's sessions (the session table is shared, so on every instance
  on the same database at once);
- is written as one :class:`~hub.events.ProcessingRecord` under
  :data:`ACCOUNTS_ACTIVITY`, naming the admin and the account (``reason_detail``:
  ``user=<admin> account=<username>`` and what changed: a role, teams); never a
  password.

A new password is either typed by the admin or made here (:func:`new_password`) and
returned once to the caller, to show to the admin; it is stored only as its argon2 hash
and never logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime

from hub.accounts.users import AccountError, User, UserStore
from hub.audit import new_trace_id, processing_record
from hub.events import DecisionOutcome, ProcessingRecord

__all__ = ["ACCOUNTS_ACTIVITY", "AccountAdmin", "new_password"]

#: the processing activity under which account changes are recorded
ACCOUNTS_ACTIVITY = "urn:signalhub:processing-activity:account-management"
#: the letters of a made password (no look-alikes: 0/O, 1/l/I)
#: writes one processing record (e.g. :class:`hub.inbox.processing.AuditLog`)
Record = Callable[[ProcessingRecord], None]
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_password(length: int = 16) -> str:
    """A random password of ``length`` letters and digits, in groups of four
    (``abcd-efgh-...``) so it can be read out and typed."""
    letters = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return "-".join(letters[i:i + 4] for i in range(0, length, 4))


class AccountAdmin:
    """Account changes by an admin over ``users``; each one recorded by ``record``.

    ``teams``: the team ids an account may belong to (the configuration's teams); None
    accepts any."""

    def __init__(self, users: UserStore, record: Record,
                 teams: Collection[str] | None = None) -> None:
        self.users = users
        self._record = record
        self._teams = None if teams is None else frozenset(teams)

    def list(self) -> list[User]:
        return self.users.list()

    def get(self, username: str) -> User:
        user = self.users.get(username)
        if user is None:
            raise AccountError(f"no user {username!r}")
        return user

    def _known(self, teams: Iterable[str]) -> frozenset[str]:
        team_set = frozenset(teams)
        unknown = sorted(team_set - self._teams) if self._teams is not None else []
        if unknown:
            raise AccountError(f"unknown team {unknown[0]!r}")
        return team_set

    def add(self, admin: str, username: str, role: str, teams: Iterable[str] = (),
            password: str | None = None) -> tuple[User, str]:
        """Create ``username``; returns the user and their password (``password``, or a
        made one when None or empty)."""
        chosen = password or new_password()
        user = self.users.add(username, chosen, role, self._known(teams))
        detail = f"role={user.role}" + (f" teams={','.join(sorted(user.teams))}"
                                        if user.teams else "")
        self._write(admin, "add-account", "ACCOUNT_ADDED", username, detail)
        return user, chosen

    def disable(self, admin: str, username: str) -> User:
        """Disable ``username``: signing in fails and their sessions end. An admin
        cannot disable their own account (they would lock themselves out)."""
        if username == admin:
            raise AccountError("you cannot disable your own account")
        self.get(username)
        self.users.disable(username)
        self._write(admin, "disable-account", "ACCOUNT_DISABLED", username)
        return self.get(username)

    def enable(self, admin: str, username: str) -> User:
        """Enable ``username`` again (they sign in anew: any session stays ended)."""
        self.get(username)
        self.users.enable(username)
        self._write(admin, "enable-account", "ACCOUNT_ENABLED", username)
        return self.get(username)

    def reset_password(self, admin: str, username: str, password: str | None = None
                       ) -> str:
        """Give ``username`` a new password (``password``, or a made one when None or
        empty) and end their sessions; returns the password, to show once."""
        chosen = password or new_password()
        self.get(username)
        self.users.set_password(username, chosen)
        self._write(admin, "reset-password", "ACCOUNT_PASSWORD_RESET", username)
        return chosen

    def set_teams(self, admin: str, username: str, teams: Iterable[str]) -> User:
        """Make ``teams`` the teams of ``username``; a change ends their sessions and is
        recorded (no change: nothing happens)."""
        before = self.get(username)
        team_set = self._known(teams)
        if team_set == before.teams:
            return before
        user = self.users.set_teams(username, team_set)
        self._write(admin, "set-account-teams", "ACCOUNT_TEAMS_CHANGED", username,
                    f"teams={','.join(sorted(user.teams)) or '-'}")
        return user

    def _write(self, admin: str, name: str, reason_code: str, username: str,
               detail: str | None = None) -> None:
        text = f"user={admin[:64]} account={username[:64]}" + (f" {detail}" if detail else "")
        self._record(processing_record(
            trace_id=new_trace_id(), name=name, started=datetime.now(UTC),
            outcome=DecisionOutcome.RECORDED, reason_code=reason_code, reason_detail=text,
            activity=ACCOUNTS_ACTIVITY))
