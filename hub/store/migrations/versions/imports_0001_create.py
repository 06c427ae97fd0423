"""imports: the batch import ledger (hub/import_ledger.py)

Tables ``import_sources`` (a number per source URN), ``import_runs`` (one per import)
and ``import_published`` (the event ids published per source, by the run that did).

Revision ID: imports_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "imports_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("imports",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_sources",
        sa.Column("source_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("urn", sa.Text(), nullable=False, unique=True),
    )
    op.create_table(
        "import_runs",
        sa.Column("run_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.Text()),
        sa.Column("rows_read", sa.Integer()),
        sa.Column("published", sa.Integer()),
        sa.Column("rejected", sa.Integer()),
    )
    op.create_index("import_runs_started_at", "import_runs", ["started_at"])
    op.create_table(
        "import_published",
        sa.Column("source_id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.LargeBinary(), primary_key=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("import_published_run", "import_published", ["run_id"])


def downgrade() -> None:
    for table in ("import_published", "import_runs", "import_sources"):
        op.drop_table(table)
