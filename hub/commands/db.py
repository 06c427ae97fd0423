"""`signalhub db ...`: the application database's schema version."""

from __future__ import annotations

from pathlib import Path

import click

from hub.commands.common import settings_from, to_json
from hub.errors import HubError
from hub.store import Database, open_from_settings
from hub.store.migrate import state, upgrade

__all__ = ["db"]

_state_dir_option = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="State directory whose store.db is the database when HUB_DATABASE_URL is unset"
    " (default: $HUB_STATE_DIR, else var/state).",
)


def _open(state_dir: Path | None) -> Database:
    settings = settings_from(None)
    if state_dir is not None:
        settings = settings.model_copy(update={"state_dir": state_dir})
    try:
        return open_from_settings(settings, migrate=False)
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck HUB_DATABASE_URL.") from exc


@click.group("db")
def db() -> None:
    """The application database (HUB_DATABASE_URL; default SQLite <state_dir>/store.db):
    its schema version. Every process that opens the database upgrades it too."""


@db.command("upgrade")
@_state_dir_option
def db_upgrade(state_dir: Path | None) -> None:
    """Bring the schema of every store to the newest version (safe to run again, and
    while the hub runs)."""
    database = _open(state_dir)
    try:
        applied = upgrade(database)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        database.close()
    click.echo(f"{database.url}: " + (f"applied {', '.join(applied)}" if applied
                                      else "already at the newest version"))


@db.command("current")
@_state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def db_current(state_dir: Path | None, as_json: bool) -> None:
    """Show the database (without its password) and each store's schema revision;
    exit 1 when one is behind (run `signalhub db upgrade`)."""
    database = _open(state_dir)
    try:
        branches = state(database)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        database.close()
    behind = [b for b in branches if not b.up_to_date]
    if as_json:
        click.echo(to_json({"database": database.url, "stores": [
            {"store": b.branch, "current": b.current, "head": b.head,
             "up_to_date": b.up_to_date} for b in branches]}))
    else:
        click.echo(f"database: {database.url}")
        for b in branches:
            mark = "up to date" if b.up_to_date else f"behind (newest {b.head})"
            click.echo(f"  {b.branch:<14} {b.current or '(none)':<14} {mark}")
    if behind:
        raise SystemExit(1)
