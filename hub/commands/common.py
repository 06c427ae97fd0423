"""Helpers shared by the CLI commands: settings, connection, JSON output."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from hub.config import HubConfig, load_config
from hub.connect import Connection, connect
from hub.errors import ConfigError, HubError
from hub.logging import register_secrets_of
from hub.settings import Settings, load_settings
from hub.store import database_target
from hub.topics import AUDIT

#: a click command function (or command) that options decorate
FC = TypeVar("FC", bound=Callable[..., Any] | click.Command)

__all__ = [
    "bus_option", "database_option", "hub_config", "open_connection", "recording_connection",
    "store_target", "to_json",
]

bus_option = click.option(
    "--bus",
    "bus_url",
    metavar="URL",
    default=None,
    help="Bus URL: embedded:<file.db> or kafka://host:9092 (default: $HUB_BUS,"
    " else embedded:var/signalhub.db).",
)
registry_option = click.option(
    "--registry",
    "registry_url",
    metavar="URL",
    default=None,
    help="Confluent-compatible registry URL (default: $HUB_REGISTRY_URL; the embedded"
    " bus keeps its registry in its own file).",
)


def database_option(what: str) -> Callable[[FC], FC]:
    """``--state-dir``: the folder whose ``store.db`` holds ``what`` when
    ``HUB_DATABASE_URL`` is unset."""
    return click.option(
        "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help=f"State directory whose store.db holds {what} when HUB_DATABASE_URL is unset"
        " (default: $HUB_STATE_DIR, else var/state).",
    )


def store_target(state_dir: Path | None) -> str:
    """The application database of the settings (``HUB_DATABASE_URL``, else
    ``<state_dir>/store.db``, with ``state_dir`` from the option or the settings).
    Secret: show it only through :func:`hub.store.safe_url`."""
    settings = settings_from(None)
    if state_dir is not None:
        settings = settings.model_copy(update={"state_dir": state_dir})
    return database_target(settings)


def settings_from(bus_url: str | None, registry_url: str | None = None) -> Settings:
    """The settings, with ``--bus`` / ``--registry-url`` when given, their secrets
    registered for masking; logging is configured once by :mod:`hub.cli`."""
    overrides: dict[str, Any] = {}
    if bus_url:
        overrides["bus"] = bus_url
    if registry_url:
        overrides["registry_url"] = registry_url
    try:
        settings = load_settings(**overrides)
    except HubError as exc:  # e.g. a pseudonym key too short (the message never has it)
        raise click.ClickException(str(exc)) from exc
    register_secrets_of(settings)  # masked in every log line, kafka-python's included
    return settings


def hub_config(config_path: Path | None, settings: Settings) -> HubConfig:
    """The configuration of ``--config``, else ``$HUB_CONFIG``, else ``hub.yaml`` in the
    current folder; no other place is searched. A missing file's error says what to do."""
    path = config_path or settings.config
    if config_path is None and not path.exists():
        where = "HUB_CONFIG" if "config" in settings.model_fields_set else "the default"
        raise ConfigError(
            f"no configuration file {path} ({where}) in {Path.cwd()}: pass --config FILE"
            " or set HUB_CONFIG (the example municipality: --config examples/hub.yaml)"
        )
    return load_config(path)


def open_connection(bus_url: str | None, registry_url: str | None = None) -> Connection:
    """Connect, turning hub errors into a readable CLI error."""
    try:
        return connect(settings_from(bus_url, registry_url))
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck --bus / HUB_BUS and HUB_REGISTRY_URL.") from exc


@contextmanager
def recording_connection(bus_url: str | None, registry_url: str | None = None
                         ) -> Iterator[Connection]:
    """:func:`open_connection` for a command whose steps are processing records: the
    bus must have ``audit.v1`` (made by ``signalhub topics init`` or the hub's first
    start, with the retention the policy asks for), else the command stops before it
    changes anything and says what to do."""
    with open_connection(bus_url, registry_url) as conn:
        if AUDIT not in conn.bus.list_topics():
            raise click.ClickException(
                f"the bus has no {AUDIT} topic yet, so this step could not be recorded;"
                " nothing was done. Run `signalhub topics init --config hub.yaml` (or"
                " start the hub once) first, or check --bus / HUB_BUS.")
        yield conn


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_default, sort_keys=True)
