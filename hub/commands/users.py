"""`signalhub users add|list|disable|enable|teams|password`: accounts of the web inbox, in
the application database (HUB_DATABASE_URL, else <state-dir>/store.db). Disabling a user,
changing their teams or their password ends their open sessions at once, on every
instance of the hub on that database.

Every change goes through :class:`hub.accounts.admin.AccountAdmin`, as on the web app's
account pages, so it is written as a processing record to ``audit.v1`` on the bus
(``--bus``), naming who made it (``--by``, default ``cli:<login name>``). The bus and its
``audit.v1`` topic are checked before anything changes: without them nothing is
changed (the topic is made by ``signalhub topics init`` or the hub's first start, with
the retention the policy asks for)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from hub.accounts import ROLES, AccountError, UserStore
from hub.accounts.admin import AccountAdmin
from hub.commands.common import (
    bus_option,
    database_option,
    recording_connection,
    registry_option,
    store_target,
)
from hub.errors import HubError
from hub.inbox.processing import AuditLog

__all__ = ["users"]

state_option = database_option("the accounts")


def _store(state_dir: Path | None) -> UserStore:
    try:
        return UserStore(store_target(state_dir))
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck HUB_DATABASE_URL.") from exc



def _by_default() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def _changing(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of a command that changes an account: the bus its processing record
    goes to, and who makes the change."""
    command = click.option(
        "--by", "admin", default=_by_default, show_default="cli:<login name>",
        help="Who makes the change (written in the processing record).")(command)
    return state_option(registry_option(bus_option(command)))


@contextmanager
def _admin(state_dir: Path | None, bus_url: str | None, registry_url: str | None
           ) -> Iterator[AccountAdmin]:
    """The account admin over the database of ``state_dir``, recording to the bus;
    refusals end the command with their message."""
    store = _store(state_dir)
    try:
        with recording_connection(bus_url, registry_url) as conn:
            yield AccountAdmin(store, AuditLog(conn.bus, conn.serde))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


@click.group("users")
def users() -> None:
    """Accounts of the web inbox: members (per team), operators and admins.

    Every change is written as a processing record to audit.v1 on the bus (--bus), as
    on the web app's account pages; without the bus nothing is changed."""


@users.command("add")
@_changing
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="member: a team's inbox; operator: the dashboard, no alert contents;"
                   " admin: accounts (and the inbox of their teams).")
@click.option("--team", "teams", multiple=True,
              help="Team id (repeatable), e.g. schuldhulp-centrum.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (else: prompt).")
def add(state_dir: Path | None, bus_url: str | None, registry_url: str | None, admin: str,
        username: str, role: str, teams: tuple[str, ...], password_stdin: bool) -> None:
    """Create USERNAME with a password (at least 8 characters)."""
    password = _password(password_stdin)
    if not password:
        raise click.ClickException("a password needs at least 8 characters")
    with _admin(state_dir, bus_url, registry_url) as accounts:
        user, _ = accounts.add(admin, username, role, teams, password)
    click.echo(f"added {user.username} ({user.role}"
               + (f"; teams {', '.join(sorted(user.teams))}" if user.teams else "") + ")")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("list")
@state_option
def list_users(state_dir: Path | None) -> None:
    """Username, role, teams and whether the account is disabled."""
    store = _store(state_dir)
    try:
        found = store.list()
    finally:
        store.close()
    for u in found:
        click.echo("\t".join([u.username, u.role, ",".join(sorted(u.teams)) or "-",
                              "disabled" if u.disabled else "active"]))
    click.echo(f"{len(found)} user(s)")


@users.command("disable")
@_changing
@click.argument("username")
def disable(state_dir: Path | None, bus_url: str | None, registry_url: str | None,
            admin: str, username: str) -> None:
    """Disable USERNAME: signing in fails and their open sessions end at once."""
    with _admin(state_dir, bus_url, registry_url) as accounts:
        accounts.disable(admin, username)
    click.echo(f"disabled {username}")


@users.command("enable")
@_changing
@click.argument("username")
def enable(state_dir: Path | None, bus_url: str | None, registry_url: str | None,
           admin: str, username: str) -> None:
    """Enable USERNAME again; they sign in anew."""
    with _admin(state_dir, bus_url, registry_url) as accounts:
        accounts.enable(admin, username)
    click.echo(f"enabled {username}")


@users.command("teams")
@_changing
@click.argument("username")
@click.option("--team", "teams", multiple=True,
              help="Team id (repeatable); none: the user is in no team.")
def set_teams(state_dir: Path | None, bus_url: str | None, registry_url: str | None,
              admin: str, username: str, teams: tuple[str, ...]) -> None:
    """Make the --team options USERNAME's teams; a change ends their open sessions."""
    with _admin(state_dir, bus_url, registry_url) as accounts:
        user = accounts.set_teams(admin, username, teams)
    click.echo(f"{user.username}: teams {', '.join(sorted(user.teams)) or '-'}")


@users.command("password")
@_changing
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (else: prompt).")
def set_password(state_dir: Path | None, bus_url: str | None, registry_url: str | None,
                 admin: str, username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password (at least 8 characters); ends their open sessions."""
    password = _password(password_stdin)
    if not password:
        raise click.ClickException("a password needs at least 8 characters")
    with _admin(state_dir, bus_url, registry_url) as accounts:
        accounts.reset_password(admin, username, password)
    click.echo(f"new password for {username}; their sessions have ended")
