"""inbox: cases, their signals and contact attempts (the national workflow, hub/inbox/cases.py)

Alerts already in the inbox join no case: cases are made for debt signals that arrive
from this version on.

Revision ID: inbox_0002
Revises: inbox_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inbox_0002"
down_revision: str | None = "inbox_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_cases",
        sa.Column("case_id", sa.Text(), primary_key=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("subject_ref", sa.Text(), nullable=False),
        sa.Column("municipality_code", sa.Text(), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("taken_up_on", sa.Date()),
        sa.Column("taken_up_by", sa.Text()),
        sa.Column("result", sa.Text()),
        sa.Column("closed_by", sa.Text()),
        sa.Column("closed_ms", sa.BigInteger()),
        sa.Column("changed", sa.BigInteger(), nullable=False, server_default="0"),
    )
    # at most one open case per person and team: the alert of a person joins it
    op.create_index("inbox_cases_open_per_subject", "inbox_cases", ["team_id", "subject_ref"],
                    unique=True, sqlite_where=sa.text("result IS NULL"),
                    postgresql_where=sa.text("result IS NULL"))
    op.create_index("inbox_cases_by_municipality", "inbox_cases",
                    ["municipality_code", "opened_ms"])
    op.create_table(
        "inbox_case_signals",
        sa.Column("alert_id", sa.Text(), sa.ForeignKey("inbox_alerts.alert_id"),
                  primary_key=True),
        sa.Column("case_id", sa.Text(), sa.ForeignKey("inbox_cases.case_id"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("joined_ms", sa.BigInteger(), nullable=False),
        sa.Column("joined_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("inbox_case_signals_by_case", "inbox_case_signals", ["case_id"])
    op.create_table(
        "inbox_contact_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Text(), sa.ForeignKey("inbox_cases.case_id"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("part_of_day", sa.Text()),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("inbox_contact_attempts_by_case", "inbox_contact_attempts",
                    ["case_id", "id"])


def downgrade() -> None:
    op.drop_table("inbox_contact_attempts")
    op.drop_table("inbox_case_signals")
    op.drop_table("inbox_cases")
