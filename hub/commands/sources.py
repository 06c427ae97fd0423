"""`signalhub sources ...`: register source systems, show them, revoke their API keys."""

from __future__ import annotations

from pathlib import Path

import click

from hub.commands.common import settings_from, to_json
from hub.errors import HubError
from hub.sources import CONSENT_PERMISSION, PERMISSIONS, SourceInfo, SourceRegistry
from hub.store import database_target

__all__ = ["sources"]

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State directory whose store.db holds the source registry when HUB_DATABASE_URL"
    " is unset (default: $HUB_STATE_DIR, else var/state).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _open(state_dir: Path | None) -> SourceRegistry:
    try:
        settings = settings_from(None)
        if state_dir is not None:
            settings = settings.model_copy(update={"state_dir": state_dir})
        return SourceRegistry(database_target(settings))
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc


def _row(info: SourceInfo) -> dict[str, object]:
    return {
        "source_id": info.source_id,
        "urn": info.urn,
        "event_types": list(info.event_types),
        "consent_purposes": list(info.consent_purposes),
        "consent_scopes": list(info.consent_scopes),
        "key_id": info.key_id,
        "created_at": info.created_at,
        "revoked_at": info.revoked_at,
    }


def _consents(info: SourceInfo) -> str:
    """What a consent source may record, as ``sources list`` shows it."""
    if not info.may_send(CONSENT_PERMISSION):
        return ""
    return (f"  consent purposes={','.join(info.consent_purposes) or '(none)'}"
            f" scopes={','.join(info.consent_scopes) or '(none)'}")


def _warn_if_no_consents(info: SourceInfo) -> None:
    if info.may_send(CONSENT_PERMISSION) and not (info.consent_purposes and info.consent_scopes):
        click.echo(
            f"Note: {info.source_id} has the consent permission but may record no consents"
            " until it has at least one --consent-purpose and --consent-scope (signalhub"
            " sources set-consent).",
            err=True,
        )


consent_purpose_option = click.option(
    "--consent-purpose",
    "consent_purposes",
    multiple=True,
    metavar="PURPOSE",
    help="A consent purpose the source may record (with `--event-type consent`), e.g."
    " youth-care-exit-support; repeat for several. Without any it may record none.",
)
consent_scope_option = click.option(
    "--consent-scope",
    "consent_scopes",
    multiple=True,
    metavar="TEAM|GMxxxx",
    help="A recipient the source may name in a consent's recipient_scope: a team id, or a"
    " municipality code (which then stands for all its teams); compared exactly; repeat"
    " for several. Without any it may record none.",
)


@click.group("sources")
def sources() -> None:
    """Source systems allowed to send signals and consents over the HTTP API.

    Each source has an id, the URN that names it on every event (its `source`), the
    event types it may send and one API key. Permissions are the event types
    debt-signal, eviction-risk and youth-care-exit, plus `consent` (may record and
    withdraw consents) and `outcomes` (may read the outcomes of its signals,
    GET /v1/outcomes). A consent source also has the consent purposes and recipient
    scopes it may record (--consent-purpose, --consent-scope); a grant outside them is
    refused with 403. Keys are stored only as a salted scrypt hash in the
    application database (<state-dir>/store.db, or HUB_DATABASE_URL): a key is printed
    once, when the source is added.

    \b
    Examples:
      signalhub sources add woonstichting-voorbeeld \\
          --urn urn:nld:oin:00000001234567890000 --event-type eviction-risk \\
          --event-type outcomes
      signalhub sources add jeugdzorg-voorbeeld \\
          --urn urn:nld:oin:00000009876543210000 --event-type youth-care-exit \\
          --event-type consent --consent-purpose youth-care-exit-support \\
          --consent-scope jeugd-18plus
      signalhub sources list
      signalhub sources revoke woonstichting-voorbeeld
    """


@sources.command("add")
@state_dir_option
@click.argument("source_id")
@click.option(
    "--urn",
    required=True,
    help="URN of the source system, e.g. urn:nld:oin:<OIN>; becomes the `source` of"
    " every event it sends.",
)
@click.option(
    "--event-type",
    "event_types",
    multiple=True,
    required=True,
    type=click.Choice(PERMISSIONS),
    help="What the source may send; repeat for several. `consent` allows recording and"
    " withdrawing consents (of the purposes and scopes below), `outcomes` reading the"
    " outcomes of its signals.",
)
@consent_purpose_option
@consent_scope_option
@json_option
def add(
    state_dir: Path | None, source_id: str, urn: str, event_types: tuple[str, ...],
    consent_purposes: tuple[str, ...], consent_scopes: tuple[str, ...], as_json: bool,
) -> None:
    """Register SOURCE_ID and print its API key (once: only a hash is kept).

    \b
    Examples:
      signalhub sources add energie-voorbeeld --urn urn:nld:oin:00000001234567890000 \\
          --event-type debt-signal
      signalhub sources add jeugdzorg-voorbeeld --urn urn:nld:oin:00000009876543210000 \\
          --event-type youth-care-exit --event-type consent \\
          --consent-purpose youth-care-exit-support --consent-scope GM9999
    """
    with _open(state_dir) as registry:
        try:
            info, key = registry.add(source_id, urn, event_types,
                                     consent_purposes=consent_purposes,
                                     consent_scopes=consent_scopes)
        except HubError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(to_json({**_row(info), "api_key": key}))
    else:
        click.echo(f"added {info.source_id} ({info.urn}) for {', '.join(info.event_types)}"
                   f"{_consents(info)}")
        click.echo(f"api key: {key}")
    click.echo(
        "Store this key now in the source system's secret store: it is shown only once"
        " and cannot be recovered (revoke and add the source again to replace it).",
        err=True,
    )
    _warn_if_no_consents(info)


@sources.command("set-consent")
@state_dir_option
@click.argument("source_id")
@consent_purpose_option
@consent_scope_option
def set_consent(
    state_dir: Path | None, source_id: str, consent_purposes: tuple[str, ...],
    consent_scopes: tuple[str, ...],
) -> None:
    """Replace the consent purposes and recipient scopes SOURCE_ID may record (its key
    stays); from its next request on. Without options it may record none.

    \b
    Example (a consent source, then what it may record changed):
      signalhub sources add jeugdzorg-voorbeeld --urn urn:nld:oin:00000009876543210000 \\
          --event-type youth-care-exit --event-type consent
      signalhub sources set-consent jeugdzorg-voorbeeld \\
          --consent-purpose youth-care-exit-support --consent-scope jeugd-18plus
    """
    with _open(state_dir) as registry:
        try:
            info = registry.set_consent_scope(source_id, consent_purposes, consent_scopes)
        except HubError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{info.source_id}:{_consents(info)}")
    _warn_if_no_consents(info)


@sources.command("list")
@state_dir_option
@json_option
def list_(state_dir: Path | None, as_json: bool) -> None:
    """List every source: id, URN, permissions, key id, whether it is revoked, and for a
    consent source the purposes and recipient scopes it may record."""
    with _open(state_dir) as registry:
        infos = registry.list()
    for info in infos:
        if as_json:
            click.echo(to_json(_row(info)))
            continue
        state = f"revoked {info.revoked_at.isoformat()}" if info.revoked_at else "active"
        click.echo(
            f"{info.source_id}  {info.urn}  {','.join(info.event_types)}"
            f"  key=sk_{info.key_id}_...  {state}{_consents(info)}"
        )
    if not as_json:
        click.echo(f"{len(infos)} source(s)")


@sources.command("revoke")
@state_dir_option
@click.argument("source_id")
def revoke(state_dir: Path | None, source_id: str) -> None:
    """Revoke the API key of SOURCE_ID; it is refused (401) from the next request on."""
    with _open(state_dir) as registry:
        try:
            info = registry.revoke(source_id)
        except HubError as exc:
            raise click.ClickException(str(exc)) from exc
    assert info.revoked_at is not None
    click.echo(f"revoked {info.source_id} at {info.revoked_at.isoformat()}")
