"""sources: the source registry and its API keys (hub/sources/registry.py)

A ``sources`` table made by a version before the store layer (SQLite ``sources.db``,
maybe without the consent columns) is adopted as it is: missing columns are added.

Revision ID: sources_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sources_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("sources",)
depends_on: Sequence[str] | None = None

_LISTS = ("consent_purposes", "consent_scopes")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("sources"):  # adopted from a file of an older version
        have = {c["name"] for c in inspector.get_columns("sources")}
        for column in _LISTS:
            if column not in have:
                op.add_column("sources", sa.Column(column, sa.Text(), nullable=False,
                                                   server_default="[]"))
        return
    op.create_table(
        "sources",
        sa.Column("source_id", sa.Text(), primary_key=True),
        sa.Column("urn", sa.Text(), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False, unique=True),
        sa.Column("kdf", sa.Text(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.Text()),
        *(sa.Column(c, sa.Text(), nullable=False, server_default="[]") for c in _LISTS),
    )


def downgrade() -> None:
    op.drop_table("sources")
