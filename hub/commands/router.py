"""`signalhub router` and `signalhub explain`: route signals, or show how one would be."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click

from hub.commands.common import bus_option, hub_config, registry_option, settings_from
from hub.connect import connect
from hub.consent import ConsentLedger, ConsentLedgerError, ledger_path
from hub.errors import HubError
from hub.router import Router
from hub.routing import ConsentView, Evaluator, NoConsents, NoHistory

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The hub's configuration file (default: $HUB_CONFIG, else hub.yaml). "
    "See examples/hub.yaml.",
)
state_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Router state: consent ledger and history (default: $HUB_STATE_DIR, else var/state).",
)


def _router(
    bus_url: str | None,
    registry_url: str | None,
    config_path: Path | None,
    state_dir: Path | None,
    group: str = "router",
) -> Router:
    settings = settings_from(bus_url, registry_url)
    try:
        config = hub_config(config_path, settings)
        conn = connect(settings)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    return Router(conn, config, state_dir or settings.state_dir, group=group,
                  guarantee=settings.processing_guarantee)


@click.command("router")
@bus_option
@registry_option
@config_option
@state_option
@click.option(
    "--idle-exit",
    type=float,
    default=None,
    help="Stop after this many seconds without signals (for batch runs).",
)
@click.option(
    "--group",
    default="router",
    show_default=True,
    help="Consumer group of the signal topics (routers of one hub share it).",
)
def router(
    bus_url: str | None,
    registry_url: str | None,
    config_path: Path | None,
    state_dir: Path | None,
    idle_exit: float | None,
    group: str,
) -> None:
    """Run a consent-checking router until SIGTERM or Ctrl-C.

    Reads signals.debt.v1, signals.eviction.v1 and signals.youth-care-exit.v1 in the
    consumer group `router` (start several for more throughput on Kafka), writes alerts to
    alerts.<team>.v1, a processing record per decision to audit.v1 and dead letters to
    deadletter.v1. A stop finishes the current batch and commits it.
    """
    hub_router = _router(bus_url, registry_url, config_path, state_dir, group)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        hub_router.run(stop, idle_exit=idle_exit)
    finally:
        hub_router.close()
        hub_router.conn.close()
    click.echo("router stopped: " + json.dumps(hub_router.counts, sort_keys=True))


@click.command("explain")
@bus_option
@registry_option
@config_option
@state_option
@click.argument("signal_file", type=click.File("r"))
@click.option(
    "--type",
    "event_type",
    required=True,
    type=click.Choice(["debt-signal", "eviction-risk", "youth-care-exit"]),
    help="The signal's event type.",
)
def explain(
    bus_url: str | None,
    registry_url: str | None,
    config_path: Path | None,
    state_dir: Path | None,
    signal_file: TextIO,
    event_type: str,
) -> None:
    """Print the whole decision trace for SIGNAL_FILE (JSON) without forwarding anything.

    Shows the area match, the rule, the consent found or missing, and the fields kept
    and dropped per team. Creates and changes nothing: it reads the configuration and
    the router's consent ledger in --state-dir as it stands (a running hub keeps it
    caught up with consent.v1; without one every consent counts as missing), and no
    bus (--bus and --registry are accepted and not used). Earlier signals are not
    counted.

    \b
    Example (from the repository root):
      signalhub explain --config examples/hub.yaml --type debt-signal \\
          examples/signals/debt.json
    """
    try:
        record = json.load(signal_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{signal_file.name}: not JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise click.ClickException(f"{signal_file.name}: not a JSON object")
    settings = settings_from(bus_url, registry_url)
    try:
        evaluator = Evaluator(hub_config(config_path, settings))
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    path = ledger_path(state_dir or settings.state_dir)
    consents: ConsentView
    try:
        consents = ConsentLedger.read_only(path)
    except ConsentLedgerError as exc:
        click.echo(f"  ({exc}: every consent counts as missing)")
        consents = NoConsents(f"no consent ledger at {path}")
    try:
        ev = evaluator.evaluate(
            event_type, record, consents, NoHistory(), datetime.now(UTC), explain=True
        )
    finally:
        if isinstance(consents, ConsentLedger):
            consents.close()
    for line in ev.trace:
        click.echo(f"  {line}")
    if ev.rejected is not None:
        click.echo(f"result: dead letter ({ev.rejected.reason_code}) — {ev.rejected}")
        return
    for d in ev.decisions:
        verdict = "FORWARD" if d.forwarded else "REFUSE"
        extra = f", urgent, due {d.due_date}" if d.urgent else ""
        click.echo(
            f"result: {verdict} to {d.team.id} ({d.reason_code}"
            f"{', basis ' + d.legal_basis if d.legal_basis else ''}{extra})"
        )
    if not ev.decisions:
        click.echo("result: nothing forwarded (no policy or no team decision)")
