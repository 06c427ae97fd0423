"""retention: when the last retention run started (hub/retention.py), one row shared by
every instance, so a run is due once per interval however many instances run.

Revision ID: retention_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "retention_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("retention",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    runs = op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_started", sa.Double(), nullable=False),
    )
    op.bulk_insert(runs, [{"id": 1, "last_started": 0.0}])


def downgrade() -> None:
    op.drop_table("retention_runs")
