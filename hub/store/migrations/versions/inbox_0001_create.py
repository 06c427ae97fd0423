"""inbox: the team inbox's alerts, notes and change counter (hub/inbox/store.py)

Tables ``alerts`` and ``notes`` made by a version before the store layer (a SQLite
``inbox.db`` opened by path) are adopted: renamed to ``inbox_alerts`` and
``inbox_notes``, given the ``changed`` column, and counted from 0.

Revision ID: inbox_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inbox_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("inbox",)
depends_on: Sequence[str] | None = None


def _adopt(inspector: sa.Inspector) -> None:
    """Bring the tables of an older ``inbox.db`` into this revision's shape."""
    for index in ("alerts_by_team", "notes_by_alert"):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.rename_table("alerts", "inbox_alerts")
    if inspector.has_table("notes"):
        op.rename_table("notes", "inbox_notes")
    op.add_column("inbox_alerts", sa.Column("changed", sa.BigInteger(), nullable=False,
                                            server_default="0"))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("alerts") and not inspector.has_table("inbox_alerts"):
        _adopt(inspector)
    else:
        op.create_table(
            "inbox_alerts",
            sa.Column("alert_id", sa.Text(), primary_key=True),
            sa.Column("team_id", sa.Text(), nullable=False),
            sa.Column("event_id", sa.Text(), nullable=False),
            sa.Column("event_type", sa.Text(), nullable=False),
            sa.Column("urgent", sa.Integer(), nullable=False),
            sa.Column("created_ms", sa.BigInteger(), nullable=False),
            sa.Column("received_ms", sa.BigInteger(), nullable=False),
            sa.Column("source", sa.Text()),
            sa.Column("alert", sa.Text(), nullable=False),
            sa.Column("status", sa.Text(), nullable=False, server_default="new"),
            sa.Column("claimed_by", sa.Text()),
            sa.Column("claimed_ms", sa.BigInteger()),
            sa.Column("outcome", sa.Text()),
            sa.Column("closed_by", sa.Text()),
            sa.Column("closed_ms", sa.BigInteger()),
            sa.Column("changed", sa.BigInteger(), nullable=False, server_default="0"),
        )
    if not sa.inspect(op.get_bind()).has_table("inbox_notes"):
        op.create_table(
            "inbox_notes",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("alert_id", sa.Text(), sa.ForeignKey("inbox_alerts.alert_id"),
                      nullable=False),
            sa.Column("author", sa.Text(), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("at_ms", sa.BigInteger(), nullable=False),
        )
    op.create_index("inbox_alerts_by_team", "inbox_alerts",
                    ["team_id", sa.text("urgent DESC"), sa.text("created_ms DESC")])
    op.create_index("inbox_alerts_by_change", "inbox_alerts", ["team_id", "changed"])
    op.create_index("inbox_alerts_by_received", "inbox_alerts", ["event_type", "received_ms"])
    op.create_index("inbox_notes_by_alert", "inbox_notes", ["alert_id", "id"])
    changes = op.create_table(
        "inbox_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(changes, [{"id": 1, "seq": 0}])


def downgrade() -> None:
    op.drop_table("inbox_changes")
    op.drop_table("inbox_notes")
    op.drop_table("inbox_alerts")
