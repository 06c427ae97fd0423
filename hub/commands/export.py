"""`signalhub export ddas`: the CBS delivery (DDAS Vroegsignalering v1.2) of a municipality.

Parsing only: the choice of signals and cases, the delivery itself and its processing
record are :func:`hub.inbox.ddas_export.export_delivery`'s (the admin's export page in
the web app calls the same).
"""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

import click

from hub.commands.common import (
    bus_option,
    database_option,
    recording_connection,
    registry_option,
    settings_from,
    store_target,
)
from hub.ddas import OrganisationRecord
from hub.errors import ExportError, HubError
from hub.inbox.ddas_export import export_delivery
from hub.inbox.processing import AuditLog
from hub.store import open_database

__all__ = ["export"]

_DATE = click.DateTime(["%Y-%m-%d"])


@click.group("export")
def export() -> None:
    """Exports of what the teams' inbox holds (for now: the CBS delivery, `ddas`)."""


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


@export.command("ddas")
@bus_option
@registry_option
@database_option("the inbox")
@click.option("--municipality", "municipality_code", required=True, metavar="GM....",
              help="The municipality's CBS code, e.g. GM0344.")
@click.option("--from", "period_start", type=_DATE, required=True, metavar="YYYY-MM-DD",
              help="First day of the period (included).")
@click.option("--to", "period_end", type=_DATE, required=True, metavar="YYYY-MM-DD",
              help="Last day of the period (included).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the delivery to this file (UTF-8); default: standard output.")
@click.option("--supplier-code", default=None,
              help="codeGegevensleverancier: the code CBS knows whoever runs this hub by"
                   " (default: $HUB_DDAS_SUPPLIER_CODE).")
@click.option("--organisation", "organisation_name", default=None,
              help="Name of the delivering organisation (aanleverendeOrganisatie.naam).")
@click.option("--kvk", "kvk_number", default=None,
              help="KvK number of the delivering organisation.")
@click.option("--by", "user", default=None,
              help="Who makes the export, for the processing record (default: the local"
                   " user name).")
def ddas(bus_url: str | None, registry_url: str | None, state_dir: Path | None,
         municipality_code: str, period_start: datetime, period_end: datetime,
         output: Path | None, supplier_code: str | None, organisation_name: str | None,
         kvk_number: str | None, user: str | None) -> None:
    """Write the municipality's CBS delivery for a period, in the DDAS
    Vroegsignalering exchange format v1.2 (JSON).

    It holds the municipality's cases (vroegsignaalzaken) open at any time in the
    period, with their contact attempts and results, and their debt signals
    (vroegsignalen) that arrived by the end of the period, each with its status.
    Amounts are whole euros; the person is identified by postcode and house number,
    never by BSN (the hub keeps none). Days are Dutch days. Each export is written
    as a processing record on audit.v1 (who, the municipality, the period, how many
    signals and cases), so the command needs the bus (--bus). See docs/ddas.md.
    """
    code = supplier_code or settings_from(None).ddas_supplier_code
    if not code:
        raise click.UsageError("no supplier code: pass --supplier-code CODE or set"
                               " HUB_DDAS_SUPPLIER_CODE (the codeGegevensleverancier CBS"
                               " knows whoever runs this hub by)")
    try:
        database = open_database(store_target(state_dir))
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck HUB_DATABASE_URL.") from exc
    try:
        with recording_connection(bus_url, registry_url) as conn:
            delivery = export_delivery(
                database, AuditLog(conn.bus, conn.serde), user=user or _local_user(),
                municipality_code=municipality_code,
                period_start=period_start.date(), period_end=period_end.date(),
                supplier_code=code,
                organisation=OrganisationRecord(name=organisation_name,
                                                kvk_number=kvk_number))
    except ExportError as exc:
        lines = "\n".join(f"  {e.field}: {e.message}" for e in exc.errors)
        raise click.ClickException(f"the delivery cannot be written:\n{lines}") from exc
    finally:
        database.close()
    text = delivery.to_json()
    if output is None:
        click.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    levering = (delivery.leveringen or [])[0]
    click.echo(f"wrote {output}: {len(levering.vroegsignalen or ())} signal(s),"
               f" {len(levering.vroegsignaalzaken or ())} case(s)", err=True)
