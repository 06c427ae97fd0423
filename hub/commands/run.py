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
from hub.config import load_config
from hub.demo import DemoTraffic
from hub.errors import HubError

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
              help="Where the demo keeps its bus file and state (wiped at start).")
@click.option("--port", default=8080, show_default=True, help="Ingest API port (0: any).")
@click.option("--web-port", default=8081, show_default=True,
              help="Web app (team inbox) port (0: any).")
@click.option("--rate", default=5.0, show_default=True, help="Signals per second.")
@click.option("--duration", type=float, default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
def demo(demo_dir: Path, port: int, web_port: int, rate: float,
         duration: float | None) -> None:
    """Run the whole hub on the embedded bus with a fictional municipality, three kinds
    of teams and synthetic signals, and print where to look.

    Uses examples/hub.yaml (Gemeente Voorbeeld, GM9999). Signals arrive over the HTTP
    API with (fictional) BSNs that are pseudonymised on arrival; some are refused (an
    objection, no consent) and some become dead letters (an address outside every area).
    """
    shutil.rmtree(demo_dir, ignore_errors=True)
    settings = settings_from(f"embedded:{demo_dir / 'hub.db'}").model_copy(update={
        "state_dir": demo_dir / "state",
        "pseudonym_secrets": {"GM9999": {1: SecretStr(secrets.token_urlsafe(32))}},
    })
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
    assert process.users is not None
    member_password, operator_password = secrets.token_urlsafe(9), secrets.token_urlsafe(9)
    process.users.add("demo", member_password, "member", ["schuldhulp-centrum"])
    process.users.add("operator", operator_password, "operator")
    _, key = process.sources.add("demo-partner", "urn:nld:oin:00000009999999999000", _TYPES,
                                 consent_purposes=["youth-care-exit-support"],
                                 consent_scopes=["jeugd-18plus"])  # as DemoTraffic grants
    traffic = DemoTraffic(process.url, key, rate=rate)
    feeder = threading.Thread(target=traffic.run, name="demo-traffic", daemon=True)
    feeder.start()
    bus = f"embedded:{demo_dir / 'hub.db'}"
    state = demo_dir / "state"
    click.echo(f"""Signalhub demo: Gemeente Voorbeeld (GM9999), teams {', '.join(
        t.id for t in config.teams)}
  ingest API   {process.url}/v1/signals/debt  (OpenAPI: {process.url}/openapi.json,
               health: {process.url}/healthz)
  web inbox    {process.web_url}/inbox  sign in as demo / {member_password}
               (team schuldhulp-centrum); operator / {operator_password} (no alert contents)
  metrics      {process.metrics_url or 'off ($HUB_METRICS__ADDRESS)'}
  traffic      {rate:g} signals/s over HTTP with a demo key; fictional BSNs, pseudonymised
  look at      signalhub inbox list --team schuldhulp-centrum --state-dir {state}
               signalhub consume alerts.jeugd-18plus.v1 --bus {bus}
               signalhub consume audit.v1 --bus {bus} --max 3
               signalhub deadletters list --bus {bus}
               signalhub topics lag router signals.debt.v1 --bus {bus}
  stop         Ctrl-C""")
    inbox = process.inbox

    def report() -> None:
        sent = sum(v for k, v in traffic.sent.items() if "accepted" in k)
        counts = process.counts()
        forwarded = sum(v for k, v in counts.items() if k.startswith("forwarded"))
        refused = sum(v for k, v in counts.items() if k.startswith("refused"))
        dead = sum(v for k, v in counts.items() if k.startswith("dead_lettered"))
        teams = ", ".join(f"{t.id} {inbox.count(t.id)}" for t in config.teams)
        click.echo(f"[{time.strftime('%H:%M:%S')}] accepted {sent} signals; decisions: "
                   f"{forwarded} forwarded, {refused} refused, {dead} dead letters; "
                   f"inbox: {teams}")

    try:
        _wait(process, duration, 5.0, report)
        traffic.stop_event.set()
        feeder.join(timeout=10)
        time.sleep(2.0)  # let the last signals through the router and sinks
        report()
    finally:
        traffic.stop_event.set()
        process.stop()
    click.echo("refusals and dead letters by reason: " + json.dumps(
        {k: v for k, v in sorted(process.counts().items()) if not k.startswith("forwarded")}))
