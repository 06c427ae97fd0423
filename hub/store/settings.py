"""Which application database the settings name."""

from __future__ import annotations

from hub.settings import Settings
from hub.state_layout import StateLayout
from hub.store.database import Database, open_database
from hub.store.urls import sqlite_url

__all__ = ["database_target", "open_from_settings"]


def database_target(settings: Settings) -> str:
    """``HUB_DATABASE_URL``, else the SQLite file ``<state_dir>/store.db``. Secret (it may
    hold a password): show it only through :func:`hub.store.safe_url`."""
    if settings.database_url is not None and settings.database_url.get_secret_value():
        return settings.database_url.get_secret_value()
    return sqlite_url(StateLayout.of(settings.state_dir).store_database)


def open_from_settings(settings: Settings, *, migrate: bool = True) -> Database:
    """Open (and migrate) the application database the settings name."""
    return open_database(database_target(settings), migrate=migrate)
