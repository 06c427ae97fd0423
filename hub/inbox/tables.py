"""The inbox's tables in the application database (:mod:`hub.store`), as SQLAlchemy Core.

Made and changed only by the ``inbox`` branch of the migrations
(``hub/store/migrations/versions/inbox_*.py``); this module describes them for queries.

- ``inbox_alerts``: one row per alert (the :class:`~hub.events.TeamAlert` as JSON plus
  the columns the lists filter and sort on) and the team's work on it;
- ``inbox_notes``: notes, appended, never edited;
- ``inbox_cases``: the cases (vroegsignaalzaken) of the national workflow for debt
  signals: one person (``subject_ref``) per case and team, at most one open case per
  person and team (a partial unique index), with the date it was taken up and its result;
- ``inbox_case_signals``: which alert belongs to which case, with the signal's status
  (``Signaalstatus``); an alert belongs to at most one case;
- ``inbox_contact_attempts``: a case's contact attempts, appended, never edited;
- ``inbox_changes``: one row, a counter raised by every write. Each alert row carries
  the counter's value of its last change (``changed``), so "what changed since N" is
  one indexed query, and a reader in any process (another instance on the same
  PostgreSQL, or another process on the same SQLite file) sees a claim made elsewhere.
  The counter row is locked by each write until it commits, so the values become
  visible in order: a reader that saw N never later finds a change below N.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["ALERTS", "CASES", "CASE_SIGNALS", "CHANGES", "CONTACT_ATTEMPTS", "METADATA", "NOTES"]

METADATA = sa.MetaData()

ALERTS = sa.Table(
    "inbox_alerts", METADATA,
    sa.Column("alert_id", sa.Text, primary_key=True),
    sa.Column("team_id", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("urgent", sa.Integer, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("received_ms", sa.BigInteger, nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("alert", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="new"),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_ms", sa.BigInteger),
    sa.Column("outcome", sa.Text),
    sa.Column("closed_by", sa.Text),
    sa.Column("closed_ms", sa.BigInteger),
    sa.Column("changed", sa.BigInteger, nullable=False, server_default="0"),
)  # fmt: skip  # table name and metadata first, then a column a line

NOTES = sa.Table(
    "inbox_notes", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Text, sa.ForeignKey("inbox_alerts.alert_id"), nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
)  # fmt: skip  # table name and metadata first, then a column a line

CHANGES = sa.Table(
    "inbox_changes", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)  # fmt: skip  # table name and metadata first, then a column a line

CASES = sa.Table(
    "inbox_cases", METADATA,
    sa.Column("case_id", sa.Text, primary_key=True),
    sa.Column("team_id", sa.Text, nullable=False),
    sa.Column("subject_ref", sa.Text, nullable=False),
    sa.Column("municipality_code", sa.Text, nullable=False),
    sa.Column("opened_ms", sa.BigInteger, nullable=False),
    sa.Column("taken_up_on", sa.Date),
    sa.Column("taken_up_by", sa.Text),
    sa.Column("result", sa.Text),
    sa.Column("closed_by", sa.Text),
    sa.Column("closed_ms", sa.BigInteger),
    sa.Column("changed", sa.BigInteger, nullable=False, server_default="0"),
)  # fmt: skip  # table name and metadata first, then a column a line

CASE_SIGNALS = sa.Table(
    "inbox_case_signals", METADATA,
    sa.Column("alert_id", sa.Text, sa.ForeignKey("inbox_alerts.alert_id"), primary_key=True),
    sa.Column("case_id", sa.Text, sa.ForeignKey("inbox_cases.case_id"), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("joined_ms", sa.BigInteger, nullable=False),
    #: the inbox's change counter when the signal joined: the order of arrival
    sa.Column("joined_seq", sa.BigInteger, nullable=False),
)  # fmt: skip  # table name and metadata first, then a column a line

CONTACT_ATTEMPTS = sa.Table(
    "inbox_contact_attempts", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Text, sa.ForeignKey("inbox_cases.case_id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("reached", sa.Boolean, nullable=False),
    sa.Column("on_date", sa.Date, nullable=False),
    sa.Column("part_of_day", sa.Text),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_ms", sa.BigInteger, nullable=False),
)  # fmt: skip  # table name and metadata first, then a column a line
