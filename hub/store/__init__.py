"""The store layer of the application stores: one database, SQLite or PostgreSQL.

* :func:`open_database` / :class:`Database`: a URL (``HUB_DATABASE_URL``) or a SQLite
  path, its schema brought to the newest version; ``transaction()`` and ``read()``;
* :func:`database_target`: what the settings name (``HUB_DATABASE_URL``, else
  ``<state_dir>/store.db``);
* :mod:`hub.store.migrate`: the Alembic environment, one branch per store;
* :func:`safe_url`: a URL without its password, the only way one is shown.

How a store uses it: docs/store.md.
"""

from __future__ import annotations

from hub.store.database import Backend, Database, open_database, rollback_only, unavailable
from hub.store.settings import database_target, open_from_settings
from hub.store.urls import redact, safe_url, sqlite_url

__all__ = [
    "Backend",
    "Database",
    "database_target",
    "open_database",
    "open_from_settings",
    "redact",
    "rollback_only",
    "safe_url",
    "sqlite_url",
    "unavailable",
]
