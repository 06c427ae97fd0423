"""`signalhub run` (the main job) and `signalhub demo` (everything, with synthetic traffic)."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import threading
import time
from pathlib import Path

import click
from pydantic import SecretStr

import hub
from hub.app import HubProcess
from hub.commands.common import hub_config, registry_option, settings_from
from hub.commands.demo_view import Account, Summary, SummaryView, banner
from hub.config import load_config
from hub.demo import DemoTraffic
from hub.errors import HubError
from hub.logging import configure_logging
from hub.settings import Settings

_TYPES = ["debt-signal", "eviction-risk", "youth-care-exit", "consent"]


def examples_dir() -> Path:
    """The shipped examples: next to the package in a checkout, inside it in a wheel."""
    for candidate in (Path(hub.__file__).parent.parent / "examples",
                      Path(hub.__file__).parent / "_examples"):
        if candidate.is_dir():
            return candidate
    raise click.ClickException("the shipped examples are missing from this installation")


def _on_signals(process: HubProcess) -> None:
    """SIGTERM and Ctrl-C ask every component to finish its batch and stop."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: process.stop_event.set())


def _wait(process: HubProcess, duration: float | None, tick: float,
          report: object = None) -> None:
    stop = process.stop_event
    started = time.monotonic()
    while not stop.wait(tick):
        if report is not None:
            report()  # type: ignore[operator]
        if duration is not None and time.monotonic() - started >= duration:
            break


@click.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Configuration file (default: $HUB_CONFIG, else hub.yaml).")
@click.option("--bus", "bus_url", default=None, metavar="URL",
              help="embedded:<file.db> (default) or kafka://host:9092.")
@registry_option
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local state (router state, keys; store.db unless HUB_DATABASE_URL);"
                   " default $HUB_STATE_DIR or var/state.")
@click.option("--host", default=None,
              help="Ingest API and web app address (default $HUB_HOST, else 127.0.0.1).")
@click.option("--port", type=int, default=None,
              help="Ingest API port, 0: any (default $HUB_PORT, else 8080).")
@click.option("--web-port", type=int, default=None,
              help="Web app (team inbox) port on --host, 0: any (default $HUB_WEB_PORT,"
              " else 8081).")
@click.option("--routers", default=1, show_default=True,
              help="Router threads (one consumer group; on Kafka also run more processes).")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
def run(config_path: Path | None, bus_url: str | None, registry_url: str | None,
        state_dir: Path | None, host: str | None, port: int | None, web_port: int | None,
        routers: int, duration: float | None) -> None:
    """Run the hub: ingest API, router(s) and sinks in one process, until SIGTERM.

    Prometheus metrics are served on their own listener, $HUB_METRICS__ADDRESS
    (default 127.0.0.1:9464; empty: off). On SIGTERM or Ctrl-C every component finishes
    its batch, commits and closes. A component that fails (the broker or the registry
    is gone) is restarted with a backoff; only a configuration error stops the hub.
    Retention runs every $HUB_RETENTION_INTERVAL_HOURS (default 24; see `signalhub
    retention run`). The stores live in $HUB_DATABASE_URL (else <state-dir>/store.db).

    \b
    Example:
      signalhub run --config examples/hub.yaml --bus kafka://localhost:9092
    """
    settings = settings_from(bus_url, registry_url)
    if state_dir is not None:
        settings = settings.model_copy(update={"state_dir": state_dir})
    try:
        config = hub_config(config_path, settings)
        process = HubProcess(
            settings, config, host=settings.host if host is None else host,
            port=settings.port if port is None else port, routers=routers,
            web_port=settings.web_port if web_port is None else web_port)
        _on_signals(process)
        process.start()
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"signalhub running: ingest API {process.url} (OpenAPI {process.url}/openapi.json)"
               f", web app {process.web_url} (accounts: signalhub users add)"
               f", metrics {process.metrics_url or 'off'}"
               f", bus {settings.bus}; Ctrl-C or SIGTERM stops it")
    try:
        _wait(process, duration, 1.0)
    finally:
        process.stop()
    click.echo("stopped: " + json.dumps(process.counts(), sort_keys=True))
    if process.failure is not None:
        raise click.ClickException(f"a component stopped the hub: {process.failure}")


@click.command("demo")
@click.option("--dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/demo"), show_default=True,
              help="Where the demo keeps its bus file, state and log (wiped at start).")
@click.option("--port", default=8080, show_default=True, help="Ingest API port (0: any).")
@click.option("--web-port", default=8081, show_default=True,
              help="Web app (team inbox, operator dashboard) port (0: any).")
@click.option("--rate", default=5.0, show_default=True, help="Signals per second.")
@click.option("--duration", type=float, default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
def demo(demo_dir: Path, port: int, web_port: int, rate: float,
         duration: float | None) -> None:
    """Run the whole hub on the embedded bus with a fictional municipality, four teams
    and synthetic signals, and print where to look.

    Uses examples/hub.yaml (Gemeente Voorbeeld, GM9999). Signals arrive over the HTTP
    API with (fictional) BSNs that are pseudonymised on arrival; some are refused (an
    objection, no consent) and some become dead letters (an address outside every area).
    Prints each role's page in the web app with a fresh password (member: the inbox,
    operator: the dashboard, admin), where the metrics are, and a summary of what
    happened: in place on a terminal, every 10 seconds otherwise. The log goes to
    <dir>/hub.log (warnings and errors also to the terminal, one line each).

    \b
    Example (any free ports, ten seconds):
      signalhub demo --port 0 --web-port 0 --duration 10
    """
    shutil.rmtree(demo_dir, ignore_errors=True)
    settings = settings_from(f"embedded:{demo_dir / 'hub.db'}").model_copy(update={
        "state_dir": demo_dir / "state",
        "pseudonym_secrets": {"GM9999": {1: SecretStr(secrets.token_urlsafe(32))}},
    })
    demo_dir.mkdir(parents=True, exist_ok=True)
    log_file = demo_dir / "hub.log"
    with log_file.open("a", encoding="utf-8") as log_stream:
        configure_logging(settings.log_level, "json", stream=log_stream, brief_warnings=True)
        try:
            _demo(settings, demo_dir, log_file, port, web_port, rate, duration)
        finally:
            configure_logging(settings.log_level, settings.log_format)


def _demo(settings: Settings, demo_dir: Path, log_file: Path, port: int, web_port: int,
          rate: float, duration: float | None) -> None:
    config = load_config(examples_dir() / "hub.yaml")
    process = HubProcess(settings, config, port=port, web_port=web_port)
    _on_signals(process)
    try:
        process.start()
    except HubError as exc:
        raise click.ClickException(f"{exc}\nIs port {port} or {web_port} in use? Try --port 0"
                                   " --web-port 0 (metrics: HUB_METRICS__ADDRESS=127.0.0.1:0)."
                                   ) from exc
    assert process.sources is not None and process.inbox is not None
    assert process.users is not None and process.web_url is not None
    teams = [t.id for t in config.teams]
    web = process.web_url
    accounts = [
        Account("member", f"{web}/inbox", "demo", secrets.token_urlsafe(9),
                "team schuldhulp-centrum's inbox"),
        Account("operator", f"{web}/operator", "operator", secrets.token_urlsafe(9),
                "the hub's flow, lag and dead letters; no alert contents"),
        Account("admin", f"{web}/inbox", "admin", secrets.token_urlsafe(9),
                "every team's inbox and the operator pages"),
    ]
    for account, account_teams in zip(accounts, (["schuldhulp-centrum"], [], teams),
                                      strict=True):
        process.users.add(account.username, account.password, account.role, account_teams)
    _, key = process.sources.add("demo-partner", "urn:nld:oin:00000009999999999000", _TYPES,
                                 consent_purposes=["youth-care-exit-support"],
                                 consent_scopes=["jeugd-18plus"])  # as DemoTraffic grants
    traffic = DemoTraffic(process.url, key, rate=rate)
    feeder = threading.Thread(target=traffic.run, name="demo-traffic", daemon=True)
    feeder.start()
    bus, state = f"embedded:{demo_dir / 'hub.db'}", demo_dir / "state"
    click.echo(banner(
        title=f"Signalhub demo: Gemeente Voorbeeld (GM9999), teams {', '.join(teams)}",
        accounts=accounts, metrics=process.metrics_url, api=process.url, rate=rate,
        log_file=log_file, commands=[
            f"inbox list --team schuldhulp-centrum --state-dir {state}",
            f"consume alerts.jeugd-18plus.v1 --bus {bus}",
            f"consume audit.v1 --bus {bus} --max 3",
            f"deadletters list --bus {bus}",
            f"topics lag router signals.debt.v1 --bus {bus}",
        ]))
    inbox = process.inbox

    def summarise() -> Summary:
        return Summary(
            accepted=sum(v for k, v in traffic.sent.items() if k.endswith(" accepted")),
            refused_by_api=sum(v for k, v in traffic.sent.items() if k.endswith(" refused")),
            counts=process.counts(), inboxes=[(t, inbox.count(t)) for t in teams])

    view = SummaryView(summarise)
    started = time.monotonic()
    try:
        with view.showing():
            _wait(process, duration, 1.0, view.tick)
            traffic.stop_event.set()
            feeder.join(timeout=10)
            time.sleep(2.0)  # let the last signals through the router and sinks
            view.final()
    finally:
        traffic.stop_event.set()
        process.stop()
    click.echo(f"stopped after {time.monotonic() - started:.0f} s; the log: {log_file}")
    if process.failure is not None:
        raise click.ClickException(f"a component stopped the hub: {process.failure}")
