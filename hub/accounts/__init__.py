"""Accounts in the application database: users, their sessions, sign-in attempts.

- :mod:`~hub.accounts.users`: :class:`UserStore` (argon2 hashes, roles, teams);
- :mod:`~hub.accounts.sessions`: server-side sessions;
- :mod:`~hub.accounts.attempts`: sign-in attempts per key (for the sign-in limits);
- :mod:`~hub.accounts.tables`: their tables;
- :mod:`~hub.accounts.admin`: :class:`AccountAdmin`, an admin's changes, each a
  processing record.

The web app (:mod:`hub.web`) signs users in over these and lets admins manage them
(``/beheer/accounts``); ``signalhub users`` manages them too; the retention run purges
ended sessions and old attempts.
"""

from __future__ import annotations

from hub.accounts.users import (
    ADMIN_ROLES,
    OPERATOR_ROLES,
    ROLES,
    TEAM_ROLES,
    AccountError,
    User,
    UserStore,
)

__all__ = ["ADMIN_ROLES", "OPERATOR_ROLES", "ROLES", "TEAM_ROLES", "AccountError", "User",
           "UserStore"]
