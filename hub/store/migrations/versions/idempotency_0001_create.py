"""idempotency: the ingest API's idempotency keys (hub/idempotency.py)

An ``idempotency`` table made by a version before the store layer (SQLite
``http-idempotency.db``, maybe without ``owner``) is adopted as it is.

Revision ID: idempotency_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "idempotency_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("idempotency",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("idempotency"):  # adopted from a file of an older version
        if "owner" not in {c["name"] for c in inspector.get_columns("idempotency")}:
            op.add_column("idempotency", sa.Column("owner", sa.Text()))
        return
    op.create_table(
        "idempotency",
        sa.Column("source_id", sa.Text(), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.Text()),
        sa.Column("response", sa.Text()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("owner", sa.Text()),
        sqlite_with_rowid=False,
    )
    op.create_index("idempotency_created_at", "idempotency", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency")
