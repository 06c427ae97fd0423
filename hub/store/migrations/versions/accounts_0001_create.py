"""accounts: web users, team memberships, sessions and sign-in attempts (hub/web/)

Tables ``users``, ``memberships`` and ``sessions`` made by a version before the store
layer (a SQLite ``users.db`` opened by path) are adopted as they are.

Revision ID: accounts_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounts_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("accounts",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "users" not in have:
        op.create_table(
            "users",
            sa.Column("username", sa.Text(), primary_key=True),
            sa.Column("password_hash", sa.Text(), nullable=False),
            sa.Column("role", sa.Text(), nullable=False),
            sa.Column("disabled", sa.Integer(), nullable=False, server_default="0"),
        )
    if "memberships" not in have:
        op.create_table(
            "memberships",
            sa.Column("username", sa.Text(), sa.ForeignKey("users.username"),
                      primary_key=True),
            sa.Column("team_id", sa.Text(), primary_key=True),
        )
    if "sessions" not in have:
        op.create_table(
            "sessions",
            sa.Column("id_hash", sa.Text(), primary_key=True),
            sa.Column("username", sa.Text(), nullable=False),
            sa.Column("created", sa.Double(), nullable=False),
            sa.Column("last_seen", sa.Double(), nullable=False),
            sa.Column("revoked", sa.Double()),
        )
        op.create_index("sessions_by_user", "sessions", ["username"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
    )
    op.create_index("login_attempts_by_key", "login_attempts", ["key", "at"])
    op.create_index("login_attempts_by_time", "login_attempts", ["at"])


def downgrade() -> None:
    op.drop_table("login_attempts")
    op.drop_table("sessions")
    op.drop_table("memberships")
    op.drop_table("users")
