"""`signalhub deadletters list|replay`: look at dead letters and send them through again."""

from __future__ import annotations

import click

from hub.commands.common import bus_option, open_connection, registry_option
from hub.deadletters import read_deadletters, replay_deadletters


@click.group("deadletters")
def deadletters() -> None:
    """Dead letters on deadletter.v1: list them (metadata and reason only), replay them."""


@deadletters.command("list")
@bus_option
@registry_option
@click.option("--reason", default=None, help="Only this reason code (e.g. NO_TEAM).")
def list_deadletters(bus_url: str | None, registry_url: str | None, reason: str | None) -> None:
    """List dead letters: offset, reason, origin, error (never the original content)."""
    with open_connection(bus_url, registry_url) as conn:
        shown = 0
        for letter in read_deadletters(conn):
            dl = letter.record
            if reason and dl["reason_code"] != reason:
                continue
            shown += 1
            click.echo(
                f"{letter.offset}\t{dl['reason_code']}\t{dl['topic']}/{dl['partition']}/"
                f"{dl['offset']}\tstage={dl['stage']}\t{dl['error_class']}: "
                f"{dl['error_message'][:160]}"
            )
        click.echo(f"{shown} dead letter(s)")


@deadletters.command("replay")
@bus_option
@registry_option
@click.option("--reason", default=None, help="Only dead letters with this reason code.")
def replay(bus_url: str | None, registry_url: str | None, reason: str | None) -> None:
    """Send dead-lettered signals through the router again (after a config fix), and
    undelivered alerts (DELIVERY_FAILED) to their team's sinks (after a receiver fix).

    Each original message goes back to its signal topic, or alerts.<team>.v1, unchanged
    (key, value, headers, plus dl_replayed_from). Progress is kept in the consumer group
    signalhub-deadletter-replay, so a dead letter is replayed once; one that fails
    again becomes a new dead letter. Idempotency on event_id means a replay never
    forwards a signal twice; sinks and webhook receivers drop alerts by alert_id.
    """
    with open_connection(bus_url, registry_url) as conn:
        replayed, skipped = replay_deadletters(conn, reason)
        click.echo(
            f"replayed {replayed} dead letter(s) to their signal or alert topics; "
            f"skipped {skipped} (not replayable, or another reason)"
        )
