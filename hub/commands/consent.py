"""`signalhub consent ...`: record, withdraw and inspect consents on consent.v1."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from hub.commands.common import bus_option, registry_option, settings_from, to_json
from hub.connect import Connection, connect
from hub.consent import (
    ConsentLedger,
    ConsentRecord,
    LedgerFollower,
    ledger_path,
    publish_consent,
)
from hub.errors import HubError
from hub.events import ConsentAction, ConsentChange
from hub.pseudonym import Pseudonymiser
from hub.settings import Settings
from hub.topics import CONSENT, core_topics
from hub.values import field_errors, problem_text

__all__ = ["consent"]

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the consent ledger (consent-ledger.db) (default: $HUB_STATE_DIR,"
    " else var/state).",
)
subject_ref_option = click.option(
    "--subject-ref",
    default=None,
    metavar="PSEUDONYM",
    help="The person's pseudonym (subject_ref), as on the signals.",
)
bsn_option = click.option(
    "--bsn",
    default=None,
    metavar="BSN",
    help="The person's BSN instead of --subject-ref (needs --municipality): it is"
    " pseudonymised at once with that municipality's key from"
    " $HUB_PSEUDONYM_SECRETS and never printed, logged or sent. A BSN on the command"
    " line lands in the shell history: pass --bsn - to type it (not echoed) or to"
    " read it from standard input.",
)
municipality_option = click.option(
    "--municipality",
    default=None,
    metavar="GMxxxx",
    help="CBS municipality code whose pseudonym key applies (with --bsn); also recorded"
    " on the consent.",
)


def _time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time option; without an offset, UTC is meant."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or time, e.g. 2025-07-01 or"
            " 2025-07-01T09:00:00+02:00",
            ctx,
            param,
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass
class _Session:
    conn: Connection
    ledger: ConsentLedger
    follower: LedgerFollower


@contextmanager
def _session(settings: Settings, state_dir: Path | None) -> Iterator[_Session]:
    """Connection, consent topic, ledger and follower; hub errors become CLI errors."""
    try:
        conn = connect(settings)
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck --bus / HUB_BUS and HUB_REGISTRY_URL.") from exc
    ledger: ConsentLedger | None = None
    follower: LedgerFollower | None = None
    try:
        conn.bus.create_topic(next(s for s in core_topics() if s.name == CONSENT))
        ledger = ConsentLedger(ledger_path(state_dir or settings.state_dir))
        follower = LedgerFollower(conn.bus, conn.serde, ledger)
        yield _Session(conn, ledger, follower)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if follower is not None:
            follower.close()
        if ledger is not None:
            ledger.close()
        conn.close()


def _subject(
    settings: Settings, subject_ref: str | None, bsn: str | None, municipality: str | None
) -> str:
    """The pseudonym from --subject-ref, or from --bsn and --municipality (made with the
    municipality's current key version, as the signals' are)."""
    return _subjects(settings, subject_ref, bsn, municipality)[0]


def _subjects(
    settings: Settings, subject_ref: str | None, bsn: str | None, municipality: str | None
) -> list[str]:
    """The pseudonym from --subject-ref; from --bsn and --municipality, the pseudonym of
    every configured key version, the current one first (see docs/privacy.md)."""
    if (subject_ref is None) == (bsn is None):
        raise click.UsageError("give exactly one of --subject-ref and --bsn")
    if subject_ref is not None:
        if subject_ref.strip().isdigit():
            raise click.UsageError(
                "--subject-ref takes a pseudonym, not a BSN: pass a BSN as --bsn with"
                " --municipality"
            )
        return [subject_ref]
    assert bsn is not None
    if municipality is None:
        raise click.UsageError("--bsn needs --municipality (whose pseudonym key applies)")
    if bsn == "-":  # typed without echo on a terminal, else one line of standard input
        if sys.stdin.isatty():
            bsn = str(click.prompt("BSN", hide_input=True, err=True))
        else:
            bsn = sys.stdin.readline().strip()
    try:
        pseudonymiser = Pseudonymiser(settings.pseudonym_secrets)
        return [pseudonymiser.subject_ref(bsn, municipality, version=v)
                for v in reversed(pseudonymiser.versions(municipality))]
    except HubError as exc:  # the messages never echo the BSN
        raise click.ClickException(str(exc)) from exc


def _invalid(exc: ValidationError) -> click.ClickException:
    """Field names and rules only: pydantic's own message would echo the input."""
    return click.ClickException(
        f"invalid consent: {problem_text(field_errors(exc, whole='consent'))}")


def _iso(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat().replace("+00:00", "Z")


def _describe(record: ConsentRecord, now: datetime) -> dict[str, Any]:
    return {
        "consent_id": record.consent_id,
        "purpose": record.purpose,
        "recipient_scope": list(record.recipient_scope),
        "valid_from": record.valid_from,
        "valid_until": record.valid_until,
        "withdrawn_at": record.withdrawn_at,
        "status": record.status_at(now).value,
        "source": record.source,
        "municipality_code": record.municipality_code,
        "key_version": _key_version(record.subject_ref),
    }


def _key_version(subject_ref: str) -> int | None:
    """The pseudonym key version of ``ps<version>-...`` (None for another format)."""
    head, sep, _ = subject_ref.partition("-")
    return int(head[2:]) if sep and head.startswith("ps") and head[2:].isdigit() else None


@click.group("consent")
def consent() -> None:
    """Record, withdraw and inspect consents (topic consent.v1).

    Consent is the basis for forwarding youth-care-exit signals (and any rule with
    legal_basis: consent). Changes are published to the compacted topic consent.v1,
    keyed by consent id; the router keeps a local ledger of them
    (<state-dir>/consent-ledger.db) and checks it before every forward. A person is
    named by pseudonym (--subject-ref) or, at the edge, by BSN (--bsn with
    --municipality), which is pseudonymised at once and never printed or stored.

    \b
    Examples:
      signalhub consent grant --bsn - --municipality GM0344 \\
          --purpose youth-care-exit-handover --recipient team-utrecht-west \\
          --valid-until 2030-06-30 --source urn:nld:oin:00000001234567890000 \\
          --consent-id 6f0c2d4e-1b7a-4c55-9d51-0a3a3f2b9e10
      signalhub consent show --subject-ref ps1-3f1c0b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e
      signalhub consent withdraw 6f0c2d4e-1b7a-4c55-9d51-0a3a3f2b9e10
    """


@consent.command("grant")
@bus_option
@registry_option
@subject_ref_option
@bsn_option
@municipality_option
@click.option(
    "--purpose",
    required=True,
    help="Purpose code from the register of processing activities, e.g."
    " youth-care-exit-handover. Consent for one purpose never covers another.",
)
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    required=True,
    metavar="TEAM|GMxxxx",
    help="Who may receive: a team id, or a municipality code for every team of"
    " that municipality. Repeat for several.",
)
@click.option(
    "--valid-from",
    default=None,
    callback=_time,
    metavar="TIME",
    help="Start of validity, ISO 8601 (default: now; no offset means UTC).",
)
@click.option(
    "--valid-until",
    default=None,
    callback=_time,
    metavar="TIME",
    help="End of validity, exclusive, ISO 8601 (default: until withdrawn).",
)
@click.option(
    "--source",
    default="urn:signalhub:cli",
    show_default=True,
    help="Who recorded the consent, e.g. urn:nld:oin:<OIN> of the provider.",
)
@click.option(
    "--consent-id",
    default=None,
    help="Id of the consent (default: a new UUID). Granting an existing id again"
    " renews or replaces that consent.",
)
def grant(
    bus_url: str | None,
    registry_url: str | None,
    subject_ref: str | None,
    bsn: str | None,
    municipality: str | None,
    purpose: str,
    recipients: tuple[str, ...],
    valid_from: datetime | None,
    valid_until: datetime | None,
    source: str,
    consent_id: str | None,
) -> None:
    """Publish a granted consent and print its consent id.

    For operators: it writes to the bus directly, so the consent purposes and scopes of
    source systems (signalhub sources) do not apply; --source only records the origin.

    \b
    Examples:
      signalhub consent grant --subject-ref ps1-3f1c0b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e \\
          --purpose youth-care-exit-handover --recipient team-utrecht-west \\
          --recipient GM0344 --valid-until 2030-06-30
      signalhub consent grant --bsn - --municipality GM0344 \\
          --purpose youth-care-exit-handover --recipient GM0344   # asks for the BSN
    """
    settings = settings_from(bus_url, registry_url)
    subject = _subject(settings, subject_ref, bsn, municipality)
    now = datetime.now(UTC)
    try:
        change = ConsentChange(
            event_id=str(uuid.uuid4()),
            consent_id=consent_id or str(uuid.uuid4()),
            action=ConsentAction.GRANTED,
            subject_ref=subject,
            purpose=purpose,
            recipient_scope=list(recipients),
            valid_from=valid_from or now,
            valid_until=valid_until,
            source=source,
            recorded_at=now,
            municipality_code=municipality,
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc
    try:
        with connect(settings) as conn:
            conn.bus.create_topic(next(s for s in core_topics() if s.name == CONSENT))
            publish_consent(conn.bus, conn.serde, change)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(change.consent_id)


@consent.command("withdraw")
@bus_option
@registry_option
@state_dir_option
@click.argument("consent_id")
@click.option(
    "--source", default="urn:signalhub:cli", show_default=True, help="Who recorded the withdrawal."
)
def withdraw(
    bus_url: str | None,
    registry_url: str | None,
    state_dir: Path | None,
    consent_id: str,
    source: str,
) -> None:
    """Withdraw consent CONSENT_ID; it takes effect at once.

    The ledger is caught up first and the consent looked up there, so the id is all
    that is needed. Withdrawing a consent that is already withdrawn changes nothing.

    \b
    Example (a consent recorded with an id of its choosing, then withdrawn):
      signalhub consent grant --subject-ref ps1-3f1c0b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e \\
          --purpose youth-care-exit-handover --recipient GM0344 \\
          --consent-id 6f0c2d4e-1b7a-4c55-9d51-0a3a3f2b9e10
      signalhub consent withdraw 6f0c2d4e-1b7a-4c55-9d51-0a3a3f2b9e10
    """
    with _session(settings_from(bus_url, registry_url), state_dir) as s:
        s.follower.catch_up()
        record = s.ledger.get(consent_id)
        if record is None:
            raise click.ClickException(
                f"no consent {consent_id} on {CONSENT} (the ledger is caught up);"
                " check the id with `signalhub consent show`"
            )
        if record.withdrawn_at is not None:
            click.echo(f"{consent_id} was already withdrawn at {_iso(record.withdrawn_at)}")
            return
        now = datetime.now(UTC)
        try:
            change = ConsentChange(
                event_id=str(uuid.uuid4()),
                consent_id=consent_id,
                action=ConsentAction.WITHDRAWN,
                subject_ref=record.subject_ref,
                purpose=record.purpose,
                recipient_scope=list(record.recipient_scope),
                valid_from=now,
                valid_until=None,
                source=source,
                recorded_at=now,
                municipality_code=record.municipality_code,
            )
        except ValidationError as exc:
            raise _invalid(exc) from exc
        publish_consent(s.conn.bus, s.conn.serde, change)
        s.follower.catch_up()
        click.echo(f"withdrew {consent_id} at {_iso(change.recorded_at)}")


@consent.command("show")
@bus_option
@registry_option
@state_dir_option
@subject_ref_option
@bsn_option
@municipality_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per consent.")
def show(
    bus_url: str | None,
    registry_url: str | None,
    state_dir: Path | None,
    subject_ref: str | None,
    bsn: str | None,
    municipality: str | None,
    as_json: bool,
) -> None:
    """List the consents of one person: id, purpose, scope, validity and status now.

    Status is VALID, WITHDRAWN, EXPIRED or NOT_YET_VALID (whoever the recipient).
    With --bsn, consents recorded under an older pseudonym key version that is still
    configured are listed too (marked with their key version): withdraw them, or record
    them again, after a key rotation.

    \b
    Examples:
      signalhub consent show --subject-ref ps1-3f1c0b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e
      signalhub consent show --bsn - --municipality GM0344 --json
    """
    settings = settings_from(bus_url, registry_url)
    subjects = _subjects(settings, subject_ref, bsn, municipality)
    with _session(settings, state_dir) as s:
        s.follower.catch_up()
        now = datetime.now(UTC)
        records = [r for subject in subjects for r in s.ledger.consents_of(subject)]
        for record in records:
            row = _describe(record, now)
            if as_json:
                click.echo(to_json(row))
                continue
            click.echo(
                f"{row['consent_id']}  {row['status']:<13}  purpose={row['purpose']}"
                f"  scope={','.join(row['recipient_scope']) or '-'}"
                f"  valid={_iso(record.valid_from)}..{_iso(record.valid_until)}"
                + (f"  withdrawn={_iso(record.withdrawn_at)}" if record.withdrawn_at else "")
                + (f"  key=v{row['key_version']}" if row["key_version"] else "")
            )
        if not as_json:
            click.echo(f"{len(records)} consent(s)")


@consent.command("check")
@bus_option
@registry_option
@state_dir_option
@subject_ref_option
@bsn_option
@municipality_option
@click.option("--purpose", required=True, help="Purpose code to check.")
@click.option("--team", required=True, help="Receiving team id.")
@click.option(
    "--at",
    default=None,
    callback=_time,
    metavar="TIME",
    help="Moment to check, ISO 8601 (default: now).",
)
def check(
    bus_url: str | None,
    registry_url: str | None,
    state_dir: Path | None,
    subject_ref: str | None,
    bsn: str | None,
    municipality: str | None,
    purpose: str,
    team: str,
    at: datetime | None,
) -> None:
    """Show what the router would find: may a signal go to TEAM for PURPOSE?

    Prints the status (VALID, MISSING, WITHDRAWN, EXPIRED, NOT_YET_VALID or
    OUT_OF_SCOPE), the consent id and a detail. --municipality is the team's
    municipality (a consent scoped to it covers every team there).

    \b
    Example:
      signalhub consent check --subject-ref ps1-3f1c0b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e \\
          --purpose youth-care-exit-handover --team team-utrecht-west --municipality GM0344
    """
    settings = settings_from(bus_url, registry_url)
    subject = _subject(settings, subject_ref, bsn, municipality)
    with _session(settings, state_dir) as s:
        s.follower.catch_up()
        result = s.ledger.check(subject, purpose, team, municipality, at or datetime.now(UTC))
        click.echo(f"{result.status}  {result.consent_id or '-'}  {result.detail}")
