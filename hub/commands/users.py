"""`signalhub users add|list|disable|teams|password`: accounts of the web inbox, in the
application database (HUB_DATABASE_URL, else <state-dir>/store.db). Disabling a user,
changing their teams or their password ends their open sessions at once, on every
instance of the hub on that database."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.accounts import ROLES, AccountError, UserStore
from hub.commands.common import database_option, store_target
from hub.errors import HubError

__all__ = ["users"]

state_option = database_option("the accounts")


def _store(state_dir: Path | None) -> UserStore:
    try:
        return UserStore(store_target(state_dir))
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck HUB_DATABASE_URL.") from exc


@click.group("users")
def users() -> None:
    """Accounts of the web inbox: members (per team), operators and admins."""


@users.command("add")
@state_option
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="member: a team's inbox; operator: the dashboard, no alert contents;"
                   " admin: accounts (and the inbox of their teams).")
@click.option("--team", "teams", multiple=True,
              help="Team id (repeatable), e.g. schuldhulp-centrum.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (else: prompt).")
def add(state_dir: Path | None, username: str, role: str, teams: tuple[str, ...],
        password_stdin: bool) -> None:
    """Create USERNAME with a password (at least 8 characters)."""
    password = _password(password_stdin)
    store = _store(state_dir)
    try:
        user = store.add(username, password, role, teams)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
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
@state_option
@click.argument("username")
def disable(state_dir: Path | None, username: str) -> None:
    """Disable USERNAME: signing in fails and their open sessions end at once."""
    store = _store(state_dir)
    try:
        store.disable(username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"disabled {username}")


@users.command("teams")
@state_option
@click.argument("username")
@click.option("--team", "teams", multiple=True,
              help="Team id (repeatable); none: the user is in no team.")
def set_teams(state_dir: Path | None, username: str, teams: tuple[str, ...]) -> None:
    """Make the --team options USERNAME's teams; a change ends their open sessions."""
    store = _store(state_dir)
    try:
        user = store.set_teams(username, teams)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"{user.username}: teams {', '.join(sorted(user.teams)) or '-'}")


@users.command("password")
@state_option
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (else: prompt).")
def set_password(state_dir: Path | None, username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password (at least 8 characters); ends their open sessions."""
    password = _password(password_stdin)
    store = _store(state_dir)
    try:
        store.set_password(username, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"new password for {username}; their sessions have ended")
