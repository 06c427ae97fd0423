"""`signalhub inbox list|close`: a team's alerts in the hub's inbox, and closing one.

Closing an alert as picked up or not picked up publishes an AlertOutcome (only that
verdict, never the note) to outcomes.v1, keyed by the signal's source.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from hub.commands.common import (
    bus_option,
    database_option,
    open_connection,
    registry_option,
    store_target,
)
from hub.commands.common import to_json as _to_json
from hub.errors import HubError
from hub.events import AlertOutcome
from hub.inbox import CloseOutcome, Closure, InboxError, InboxStore, InboxWorkflow, Told
from hub.inbox.workflow import OutcomePublisher
from hub.topics import OUTCOMES

__all__ = ["inbox"]

_OUTCOMES = {
    "picked-up": CloseOutcome.PICKED_UP,
    "not-picked-up": CloseOutcome.NOT_PICKED_UP,
    "closed": CloseOutcome.CLOSED,
}

state_option = database_option("the inbox")


def _store(state_dir: Path | None) -> InboxStore:
    try:
        return InboxStore(store_target(state_dir))
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck HUB_DATABASE_URL.") from exc


@click.group("inbox")
def inbox() -> None:
    """The team inbox: alerts per team, filled by the sinks, in the application database
    (HUB_DATABASE_URL, else <state-dir>/store.db)."""


@inbox.command("list")
@state_option
@click.option("--team", "team_id", required=True, help="Team id, e.g. schuldhulp-centrum.")
@click.option("--status", type=click.Choice(["new", "claimed", "closed"]), default=None,
              help="Only alerts with this status.")
@click.option("--urgency", type=click.Choice(["NORMAL", "URGENT"], case_sensitive=False),
              default=None, help="Only alerts of this urgency.")
@click.option("--event-type", default=None, help="Only this event type, e.g. debt-signal.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only alerts created on or after this date (YYYY-MM-DD, UTC).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
def list_alerts(
    state_dir: Path | None, team_id: str, status: str | None, urgency: str | None,
    event_type: str | None, since: datetime | None, limit: int, as_json: bool,
) -> None:
    """List a team's alerts, most urgent first, then newest first.

    Columns: alert id, created (UTC), urgency, due date, event type, status, claimed by.
    """
    store = _store(state_dir)
    try:
        since_day: date | None = since.date() if since else None
        items = store.list_alerts(
            team_id, event_type=event_type, urgency=urgency.upper() if urgency else None,
            status=status, since=since_day, limit=limit,
        )
    finally:
        store.close()
    for item in items:
        a = item.alert
        if as_json:
            click.echo(_to_json({
                "alert": a.model_dump(mode="json"), "status": item.status.value,
                "claimed_by": item.claimed_by,
                "outcome": item.outcome.value if item.outcome else None,
            }))
            continue
        click.echo("\t".join([
            a.alert_id, a.created_at.strftime("%Y-%m-%d %H:%M"), a.urgency.value,
            a.due_date.isoformat() if a.due_date else "-", a.event_type, item.status.value,
            item.claimed_by or "-",
        ]))
    if not as_json:
        click.echo(f"{len(items)} alert(s)")


@inbox.command("close")
@bus_option
@registry_option
@state_option
@click.argument("alert_id")
@click.option("--outcome", "outcome_name", type=click.Choice(list(_OUTCOMES)), required=True,
              help="picked-up / not-picked-up: told to the source (only that);"
                   " closed: closed for another reason, nothing is told.")
@click.option("--note", default=None, help="A note for the team; it never leaves the inbox.")
@click.option("--by", "user", default=None, help="Who closes it.")
@click.option("--team", "team_id", default=None, help="Refuse unless the alert is this team's.")
def close_alert(
    bus_url: str | None, registry_url: str | None, state_dir: Path | None, alert_id: str,
    outcome_name: str, note: str | None, user: str | None, team_id: str | None,
) -> None:
    """Close ALERT_ID with an outcome and publish it to the signal's source.

    The AlertOutcome on outcomes.v1 (keyed by the source URN) says PICKED_UP or
    NOT_PICKED_UP and nothing else. If publishing fails, run the same command again:
    the alert stays closed and the outcome (same outcome id) is published again.
    """
    def tell(closure: Closure) -> AlertOutcome:
        with open_connection(bus_url, registry_url) as conn:
            return OutcomePublisher(conn.bus, conn.serde, ensure_topic=True).tell(closure)

    store = _store(state_dir)
    try:
        closing = InboxWorkflow(store, tell).close(
            alert_id, _OUTCOMES[outcome_name], by=user, note=note, team_id=team_id
        )
    except InboxError as exc:  # AlertNotFound included
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    closure = closing.closure
    state = "closed" if closure.newly_closed else "already closed"
    click.echo(f"{state}: {alert_id} as {closure.outcome.value}")
    if closing.outcome is not None:
        click.echo(f"published {closing.outcome.outcome.value} to {OUTCOMES} for {closure.source}")
    elif closing.told is Told.NOTHING_TO_TELL:
        click.echo("nothing is told to the source")
    else:
        click.echo("this alert carries no source (made before alerts named one): not published")
