"""The `signalhub` command line."""

from __future__ import annotations

from typing import Any

import click

from connectors.sources.batch_files import BATCH_FILES
from hub.commands.bus import consume, topics
from hub.commands.consent import consent
from hub.commands.db import db
from hub.commands.deadletters import deadletters
from hub.commands.export import export
from hub.commands.importer import import_command
from hub.commands.inbox import inbox
from hub.commands.keys import keys
from hub.commands.retention import retention
from hub.commands.router import explain, router
from hub.commands.run import demo, run
from hub.commands.schemas import schemas
from hub.commands.selftest import selftest
from hub.commands.sources import sources
from hub.commands.users import users
from hub.errors import ConfigError
from hub.logging import configure_logging, register_secrets_of
from hub.settings import load_settings


class _Signalhub(click.Group):
    """Settings that do not work (a refused password, an untrusted CA, a bad file) end
    any command with their message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Signalhub, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="signalhub")
def main() -> None:
    """Signalhub: route prevention signals (debt, eviction risk, youth-care exit)
    from municipal systems and partners to local support teams, with consent checks,
    minimised alerts and a processing record for every decision.

    Settings come from HUB_* environment variables (see `docs/settings.md`).
    """
    _configure_logging()


def _configure_logging() -> None:
    """Logging as HUB_LOG_LEVEL and HUB_LOG_FORMAT say, once for every command (the
    defaults when the settings do not load: the command then says why)."""
    try:
        settings = load_settings()
    except ConfigError:
        configure_logging()
        return
    register_secrets_of(settings)
    configure_logging(settings.log_level, settings.log_format)


main.add_command(schemas)
main.add_command(topics)
main.add_command(consume)
main.add_command(selftest)
main.add_command(router)
main.add_command(explain)
main.add_command(deadletters)
main.add_command(consent)
main.add_command(sources)
main.add_command(inbox)
main.add_command(export)
main.add_command(import_command(BATCH_FILES))
main.add_command(run)
main.add_command(demo)
main.add_command(users)
main.add_command(keys)
main.add_command(db)
main.add_command(retention)


if __name__ == "__main__":
    main()
