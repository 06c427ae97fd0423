"""The accounts' tables in the application database (:mod:`hub.store`), as SQLAlchemy Core.

Made and changed only by the ``accounts`` branch of the migrations
(``hub/store/migrations/versions/accounts_*.py``); this module describes them for queries.

- ``users``: username, argon2 hash, role, disabled;
- ``memberships``: (username, team);
- ``sessions``: server-side sessions (:mod:`hub.accounts.sessions`), by the SHA-256 of their id;
- ``login_attempts``: sign-in attempts per limit key (:mod:`hub.accounts.attempts`), so the
  limits hold across every web process and instance on the same database.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["ATTEMPTS", "MEMBERSHIPS", "METADATA", "SESSIONS", "USERS"]

METADATA = sa.MetaData()

USERS = sa.Table(
    "users", METADATA,
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
)  # fmt: skip  # table name and metadata first, then a column a line

MEMBERSHIPS = sa.Table(
    "memberships", METADATA,
    sa.Column("username", sa.Text, sa.ForeignKey("users.username"), primary_key=True),
    sa.Column("team_id", sa.Text, primary_key=True),
)  # fmt: skip  # table name and metadata first, then a column a line

SESSIONS = sa.Table(
    "sessions", METADATA,
    sa.Column("id_hash", sa.Text, primary_key=True),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
    sa.Column("revoked", sa.Double),
)  # fmt: skip  # table name and metadata first, then a column a line

ATTEMPTS = sa.Table(
    "login_attempts", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)  # fmt: skip  # table name and metadata first, then a column a line
