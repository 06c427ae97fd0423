"""Schema versions of the application database, with Alembic.

One Alembic environment, shipped inside the package (``hub/store/migrations``). Each
store has its own **branch** of revisions, labelled with the store's name (``sources``,
``idempotency``, ``imports``, ...): its first revision has ``down_revision = None`` and
``branch_labels = ("<store>",)``, later ones follow it. Branches never depend on each
other, so stores gain revisions independently; the database is at the newest version
when every branch is at its head (``alembic_version`` holds one row per branch).

:func:`upgrade` runs inside one write transaction of the database (on SQLite under its
write lock, on PostgreSQL under a transaction-scoped advisory lock), so two processes
that start at once do not migrate twice. It runs whenever a process opens the database
(:func:`hub.store.open_database`) and as ``signalhub db upgrade``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from hub.store.database import Database

__all__ = ["MIGRATIONS", "BranchState", "heads", "state", "upgrade"]

log = structlog.get_logger(__name__)
# Alembic's own lines (its dialect, each step) are noise next to the line upgrade() logs
logging.getLogger("alembic").setLevel(logging.WARNING)

#: the Alembic environment (env.py, versions/)
MIGRATIONS = Path(__file__).with_name("migrations")
#: the key of PostgreSQL's advisory lock held while migrating
_PG_LOCK = 0x5169_6E61_6C48_7562 & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True, slots=True)
class BranchState:
    """One store's branch: the revision the database has (None: not made yet) and the
    newest one this version of the hub knows."""

    branch: str
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def heads() -> dict[str, str]:
    """The newest revision of each store's branch: branch label -> revision."""
    scripts = _scripts()
    found: dict[str, str] = {}
    for head in scripts.get_revisions("heads"):
        assert head is not None
        labels = set(head.branch_labels)
        for rev in scripts.iterate_revisions(head.revision, "base"):
            if rev is not None:
                labels |= set(rev.branch_labels)
        for label in labels:
            found[label] = head.revision
    return dict(sorted(found.items()))


def state(db: Database) -> list[BranchState]:
    """Each branch's revision in ``db`` against the newest one."""
    with db.read() as conn:
        have = set(MigrationContext.configure(conn).get_current_heads())
    scripts = _scripts()
    result = []
    for branch, head in heads().items():
        chain = {rev.revision for rev in scripts.iterate_revisions(head, "base") if rev}
        current = next(iter(have & chain), None)
        result.append(BranchState(branch, current, head))
    return result


def upgrade(db: Database) -> list[str]:
    """Bring every branch to its head; return the revisions applied (oldest first)."""
    applied: list[str] = []
    with db.transaction() as conn:
        if db.backend == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        before = set(MigrationContext.configure(conn).get_current_heads())
        wanted = set(heads().values())
        if before == wanted:
            return applied
        config = _config(conn)
        config.attributes["applied"] = applied
        command.upgrade(config, "heads")
    log.info("database schema upgraded", database=db.url, applied=applied)
    return applied
