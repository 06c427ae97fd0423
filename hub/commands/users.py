"""`signalhub users add|list|disable`: accounts of the web inbox (<state-dir>/users.db)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.commands.common import settings_from
from hub.web.accounts import ROLES, AccountError, UserStore

__all__ = ["users"]

state_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of users.db (default: $HUB_STATE_DIR, else var/state).",
)


def _store(state_dir: Path | None) -> UserStore:
    return UserStore((state_dir or settings_from(None).state_dir) / "users.db")


@click.group("users")
def users() -> None:
    """Accounts of the web inbox: members (per team), operators and admins."""


@users.command("add")
@state_option
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="member: a team's inbox; operator: the dashboard, no alert contents;"
                   " admin: accounts (and the inbox of their teams).")  # fmt: skip
@click.option("--team", "teams", multiple=True,
              help="Team id (repeatable), e.g. schuldhulp-centrum.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (else: prompt).")
def add(state_dir: Path | None, username: str, role: str, teams: tuple[str, ...],
        password_stdin: bool) -> None:
    """Create USERNAME with a password (at least 8 characters)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _store(state_dir)
    try:
        user = store.add(username, password, role, teams)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"added {user.username} ({user.role}"
               + (f"; teams {', '.join(sorted(user.teams))}" if user.teams else "") + ")")


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
    """Disable USERNAME: signing in fails and open sessions end at their next request."""
    store = _store(state_dir)
    try:
        store.disable(username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"disabled {username}")
