"""`signalhub retention run [--dry-run]`: delete what is past its retention, once.

`signalhub run` does the same every HUB_RETENTION_INTERVAL_HOURS; this command is for a
scheduler of one's own, and with --dry-run for a look at what would go.
"""

from __future__ import annotations

from pathlib import Path

import click

from hub.commands.common import (
    bus_option,
    database_option,
    hub_config,
    open_connection,
    registry_option,
    settings_from,
    to_json,
)
from hub.errors import HubError
from hub.retention import RetentionRun, StoreRetention, audit_publisher
from hub.store import database_target, open_database
from hub.topics import ensure_topics

__all__ = ["retention"]


@click.group("retention")
def retention() -> None:
    """Retention: inbox alerts after their policy's retention_days, ended sessions, old
    sign-in attempts, idempotency entries, import ledger rows and long-revoked sources."""


@retention.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Configuration file (default: $HUB_CONFIG, else hub.yaml).")
@database_option("the stores")
@bus_option
@registry_option
@click.option("--dry-run", is_flag=True,
              help="Only count what would be deleted: nothing is deleted or recorded.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def retention_run(config_path: Path | None, state_dir: Path | None, bus_url: str | None,
                  registry_url: str | None, dry_run: bool, as_json: bool) -> None:
    """Delete (or with --dry-run: count) what is past its retention, and write one
    processing record with the counts to audit.v1 (not for a dry run)."""
    settings = settings_from(bus_url, registry_url)
    if state_dir is not None:
        settings = settings.model_copy(update={"state_dir": state_dir})
    try:
        config = hub_config(config_path, settings)
        database = open_database(database_target(settings))
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        stores = StoreRetention(database, config, settings)
        try:
            if dry_run:
                result = stores.run(dry_run=True)
            else:
                with open_connection(bus_url, registry_url) as conn:
                    ensure_topics(conn.bus)
                    result = stores.run(publish=audit_publisher(conn))
        except HubError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            stores.close()
    finally:
        database.close()
    _report(result, as_json)


def _report(result: RetentionRun, as_json: bool) -> None:
    if as_json:
        click.echo(to_json({"dry_run": result.dry_run, "at": result.now.isoformat(),
                            "counts": result.counts}))
        return
    verb = "would delete" if result.dry_run else "deleted"
    for kind, n in sorted(result.counts.items()):
        click.echo(f"{kind}\t{n}")
    click.echo(f"{verb} {result.total} entr{'y' if result.total == 1 else 'ies'}"
               + ("" if result.dry_run else "; processing record written to audit.v1"))
