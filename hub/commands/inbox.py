"""`signalhub inbox list|close|case ...`: a team's alerts in the hub's inbox, closing
one, and the cases of the national workflow for debt signals.

Closing an alert as picked up or not picked up publishes an AlertOutcome (only that
verdict, never the note) to outcomes.v1, keyed by the signal's source. The case
commands only parse: the steps, their processing records and the outcomes are the
core's (:class:`hub.inbox.CaseWorkflow`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from hub.commands.common import (
    bus_option,
    database_option,
    open_connection,
    registry_option,
    store_target,
)
from hub.commands.common import to_json as _to_json
from hub.connect import Connection
from hub.ddas import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.errors import HubError
from hub.events import AlertOutcome
from hub.inbox import (
    Case,
    CaseStore,
    CaseWorkflow,
    CloseOutcome,
    Closure,
    InboxError,
    InboxStore,
    InboxWorkflow,
    Told,
)
from hub.inbox.processing import AuditLog
from hub.inbox.workflow import OutcomePublisher
from hub.topics import OUTCOMES
from hub.workdays import dutch_date

__all__ = ["inbox"]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.Enum)

_OUTCOMES = {
    "picked-up": CloseOutcome.PICKED_UP,
    "not-picked-up": CloseOutcome.NOT_PICKED_UP,
    "closed": CloseOutcome.CLOSED,
}

state_option = database_option("the inbox")


def _store(state_dir: Path | None) -> InboxStore:
    try:
        return InboxStore(store_target(state_dir))
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck HUB_DATABASE_URL.") from exc


@click.group("inbox")
def inbox() -> None:
    """The team inbox: alerts per team, filled by the sinks, in the application database
    (HUB_DATABASE_URL, else <state-dir>/store.db)."""


@inbox.command("list")
@state_option
@click.option("--team", "team_id", required=True, help="Team id, e.g. schuldhulp-centrum.")
@click.option("--status", type=click.Choice(["new", "claimed", "closed"]), default=None,
              help="Only alerts with this status.")
@click.option("--urgency", type=click.Choice(["NORMAL", "URGENT"], case_sensitive=False),
              default=None, help="Only alerts of this urgency.")
@click.option("--event-type", default=None, help="Only this event type, e.g. debt-signal.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only alerts created on or after this date (YYYY-MM-DD, from 00:00"
                   " in the Netherlands).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--on", "on_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Count working days overdue as on this date (YYYY-MM-DD; default: "
                   "today in the Netherlands).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
def list_alerts(
    state_dir: Path | None, team_id: str, status: str | None, urgency: str | None,
    event_type: str | None, since: datetime | None, limit: int, on_day: datetime | None,
    as_json: bool,
) -> None:
    """List a team's alerts, most urgent first, then newest first.

    Columns: alert id, created (UTC), urgency, due date, event type, status, claimed by,
    overdue (Dutch working days past the due date, weekends and public holidays not
    counted; "-" when not late or closed).
    """
    today = on_day.date() if on_day else dutch_date(datetime.now(UTC))
    store = _store(state_dir)
    try:
        since_day: date | None = since.date() if since else None
        items = store.list_alerts(
            team_id, event_type=event_type, urgency=urgency.upper() if urgency else None,
            status=status, since=since_day, limit=limit,
        )
    finally:
        store.close()
    for item in items:
        a = item.alert
        if as_json:
            click.echo(_to_json({
                "alert": a.model_dump(mode="json"), "status": item.status.value,
                "claimed_by": item.claimed_by,
                "outcome": item.outcome.value if item.outcome else None,
                "overdue_working_days": item.overdue_days(today),
            }))
            continue
        late = item.overdue_days(today)
        click.echo("\t".join([
            a.alert_id, a.created_at.strftime("%Y-%m-%d %H:%M"), a.urgency.value,
            a.due_date.isoformat() if a.due_date else "-", a.event_type, item.status.value,
            item.claimed_by or "-", f"{late} working day(s) overdue" if late else "-",
        ]))
    if not as_json:
        click.echo(f"{len(items)} alert(s)")


@inbox.command("close")
@bus_option
@registry_option
@state_option
@click.argument("alert_id")
@click.option("--outcome", "outcome_name", type=click.Choice(list(_OUTCOMES)), required=True,
              help="picked-up / not-picked-up: told to the source (only that);"
                   " closed: closed for another reason, nothing is told.")
@click.option("--note", default=None, help="A note for the team; it never leaves the inbox.")
@click.option("--by", "user", default=None, help="Who closes it.")
@click.option("--team", "team_id", default=None, help="Refuse unless the alert is this team's.")
def close_alert(
    bus_url: str | None, registry_url: str | None, state_dir: Path | None, alert_id: str,
    outcome_name: str, note: str | None, user: str | None, team_id: str | None,
) -> None:
    """Close ALERT_ID with an outcome and publish it to the signal's source.

    The AlertOutcome on outcomes.v1 (keyed by the source URN) says PICKED_UP or
    NOT_PICKED_UP and nothing else. If publishing fails, run the same command again:
    the alert stays closed and the outcome (same outcome id) is published again.
    """
    def tell(closure: Closure) -> AlertOutcome:
        with open_connection(bus_url, registry_url) as conn:
            return OutcomePublisher(conn.bus, conn.serde, ensure_topic=True).tell(closure)

    store = _store(state_dir)
    try:
        closing = InboxWorkflow(store, tell).close(
            alert_id, _OUTCOMES[outcome_name], by=user, note=note, team_id=team_id
        )
    except InboxError as exc:  # AlertNotFound included
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    closure = closing.closure
    state = "closed" if closure.newly_closed else "already closed"
    click.echo(f"{state}: {alert_id} as {closure.outcome.value}")
    if closing.outcome is not None:
        click.echo(f"published {closing.outcome.outcome.value} to {OUTCOMES} for {closure.source}")
    elif closing.told is Told.NOTHING_TO_TELL:
        click.echo("nothing is told to the source")
    else:
        click.echo("this alert carries no source (made before alerts named one): not published")


# -- the national workflow for debt signals: cases ----------------------------------------

_KINDS = [k.value for k in Contactsoort]
_PARTS = [p.value for p in Dagdeel]
_RESULTS = [r.value for r in Eindresultaat]
_STATUSES = [s.value for s in Signaalstatus]
by_option = click.option("--by", "user", required=True,
                         help="Who does this (written in the processing record).")
team_option = click.option("--team", "team_id", default=None,
                           help="Refuse unless the case is this team's.")
_DAY = click.DateTime(["%Y-%m-%d"])


def _case_workflow(store: InboxStore, conn: Connection) -> CaseWorkflow:
    return CaseWorkflow(CaseStore(store.database),
                        OutcomePublisher(conn.bus, conn.serde, ensure_topic=True).tell,
                        AuditLog(conn.bus, conn.serde))


def _run_case_step(state_dir: Path | None, bus_url: str | None, registry_url: str | None,
                   step: Callable[[CaseWorkflow], _T]) -> _T:
    """Run ``step`` with the case workflow; inbox refusals end the command with their
    message."""
    store = _store(state_dir)
    try:
        with open_connection(bus_url, registry_url) as conn:
            return step(_case_workflow(store, conn))
    except InboxError as exc:  # CaseNotFound included
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def _case_json(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.case_id, "team_id": case.team_id,
        "opened_at": case.opened_at, "taken_up_on": case.taken_up_on,
        "taken_up_by": case.taken_up_by, "result": case.result.value if case.result else None,
        "closed_by": case.closed_by, "closed_at": case.closed_at,
        "signals": [{"alert_id": s.alert.alert_id, "event_id": s.alert.event_id,
                     "status": s.status.value, "outcome": s.outcome.value if s.outcome else None}
                    for s in case.signals],
        "contact_attempts": [{"kind": a.kind.value, "reached": a.reached, "on": a.on,
                              "part_of_day": a.part_of_day.value if a.part_of_day else None,
                              "by": a.recorded_by} for a in case.contact_attempts],
    }


def _echo_case(case: Case) -> None:
    state = f"closed as {case.result.value}" if case.result else "open"
    click.echo(f"case {case.case_id}\tteam {case.team_id}\t{state}")
    taken = (f"taken up {case.taken_up_on.isoformat()} by {case.taken_up_by}"
             if case.taken_up_on else "not taken up")
    click.echo(f"opened {case.opened_at.strftime('%Y-%m-%d %H:%M')} UTC, {taken}")
    click.echo(f"signals ({len(case.signals)}):")
    for s in case.signals:
        click.echo(f"  {s.alert.alert_id}\t{s.alert.event_type}\t{s.status.value}"
                   f"\t{s.outcome.value if s.outcome else '-'}")
    click.echo(f"contact attempts ({len(case.contact_attempts)}):")
    for a in case.contact_attempts:
        part = a.part_of_day.value if a.part_of_day else "-"
        click.echo(f"  {a.on.isoformat()}\t{part}\t{a.kind.value}"
                   f"\treached {'yes' if a.reached else 'no'}\tby {a.recorded_by}")


@inbox.group("case")
def case() -> None:
    """Cases (vroegsignaalzaken) of the national workflow for debt signals.

    A debt signal of a person with an open case of the team joins it, else it opens a
    new case. Per case the team takes it up, records contact attempts and closes it
    with one result (Eindresultaat); the source of each signal learns only PICKED_UP
    or NOT_PICKED_UP (docs/sinks.md). Every step, a view included, is written as a
    processing record to audit.v1, so each command needs the bus (--bus).
    """


@case.command("list")
@state_option
@click.option("--team", "team_id", required=True, help="Team id, e.g. schuldhulp-centrum.")
@click.option("--open", "open_only", is_flag=True, help="Only cases not closed yet.")
def list_cases(state_dir: Path | None, team_id: str, open_only: bool) -> None:
    """List a team's cases, newest first: case id, opened (UTC), signals, taken up,
    result. Shows no personal data (no step is recorded)."""
    store = _store(state_dir)
    try:
        cases = CaseStore(store.database).list_cases(team_id, open_only=open_only)
    finally:
        store.close()
    for c in cases:
        click.echo("\t".join([
            c.case_id, c.opened_at.strftime("%Y-%m-%d %H:%M"), f"{len(c.signals)} signal(s)",
            c.taken_up_on.isoformat() if c.taken_up_on else "-",
            c.result.value if c.result else "open"]))
    click.echo(f"{len(cases)} case(s)")


@case.command("show")
@bus_option
@registry_option
@state_option
@click.argument("case_id", required=False)
@click.option("--alert", "alert_id", default=None, help="Show the case of this alert instead.")
@by_option
@team_option
@click.option("--json", "as_json", is_flag=True, help="The case as one JSON object.")
def show_case(bus_url: str | None, registry_url: str | None, state_dir: Path | None,
              case_id: str | None, alert_id: str | None, user: str, team_id: str | None,
              as_json: bool) -> None:
    """Show CASE_ID (or the case of --alert): its signals with their status, contact
    attempts, take-up and result. The view is recorded."""
    if (case_id is None) == (alert_id is None):
        raise click.UsageError("give a CASE_ID or --alert ALERT_ID (one of them)")

    def step(workflow: CaseWorkflow) -> Case:
        if case_id is not None:
            return workflow.show(case_id, user, team_id=team_id)
        assert alert_id is not None
        return workflow.case_of(alert_id, user, team_id=team_id)

    found = _run_case_step(state_dir, bus_url, registry_url, step)
    if as_json:
        click.echo(_to_json(_case_json(found)))
    else:
        _echo_case(found)


@case.command("take-up")
@bus_option
@registry_option
@state_option
@click.argument("case_id")
@by_option
@team_option
@click.option("--on", "on", type=_DAY, default=None,
              help="The date it was taken up (YYYY-MM-DD; default: today in the Netherlands).")
def take_up(bus_url: str | None, registry_url: str | None, state_dir: Path | None,
            case_id: str, user: str, team_id: str | None, on: datetime | None) -> None:
    """Take CASE_ID up: its signals become Opgepakt, its new alerts claimed by --by."""
    found = _run_case_step(state_dir, bus_url, registry_url, lambda w: w.take_up(
        case_id, user, on=on.date() if on else None, team_id=team_id))
    click.echo(f"taken up: {found.case_id} on {found.taken_up_on} by {found.taken_up_by}")


@case.command("attempt")
@bus_option
@registry_option
@state_option
@click.argument("case_id")
@by_option
@team_option
@click.option("--kind", type=click.Choice(_KINDS), required=True,
              help="How the team tried to reach the person (Contactsoort).")
@click.option("--reached", type=click.Choice(["yes", "no"]), required=True,
              help="Whether the person was reached.")
@click.option("--on", "on", type=_DAY, default=None,
              help="The date of the attempt (YYYY-MM-DD; default: today in the Netherlands).")
@click.option("--part-of-day", type=click.Choice(_PARTS, case_sensitive=False), default=None,
              help="Ochtend (until 12:00), Middag (12:00-18:00) or Avond (from 18:00).")
def add_attempt(bus_url: str | None, registry_url: str | None, state_dir: Path | None,
                case_id: str, user: str, team_id: str | None, kind: str, reached: str,
                on: datetime | None, part_of_day: str | None) -> None:
    """Record a contact attempt on CASE_ID (taken up and still open)."""
    found = _run_case_step(state_dir, bus_url, registry_url, lambda w: w.add_attempt(
        case_id, user, kind=_choice(Contactsoort, kind), reached=reached == "yes",
        on=on.date() if on else None,
        part_of_day=_choice(Dagdeel, part_of_day) if part_of_day else None, team_id=team_id))
    click.echo(f"recorded: contact attempt {len(found.contact_attempts)} on {found.case_id}")


@case.command("signal-status")
@bus_option
@registry_option
@state_option
@click.argument("case_id")
@click.argument("alert_id")
@click.option("--status", type=click.Choice(_STATUSES), required=True,
              help="The signal's status (Signaalstatus), e.g. 'Niet opgepakt: herhaalde"
                   " melding'; a 'not taken up' status stays when the case is closed.")
@by_option
@team_option
def signal_status(bus_url: str | None, registry_url: str | None, state_dir: Path | None,
                  case_id: str, alert_id: str, status: str, user: str,
                  team_id: str | None) -> None:
    """Give ALERT_ID, a signal of the open case CASE_ID, a status of its own."""
    _run_case_step(state_dir, bus_url, registry_url, lambda w: w.set_signal_status(
        case_id, alert_id, _choice(Signaalstatus, status), user, team_id=team_id))
    click.echo(f"status of {alert_id}: {_choice(Signaalstatus, status).value}")


@case.command("close")
@bus_option
@registry_option
@state_option
@click.argument("case_id")
@click.option("--result", type=click.Choice(_RESULTS), required=True,
              help="The case's result (Eindresultaat), e.g. 'Vervolghulp en/of verwijzing"
                   " financieel'. It stays in the inbox and the CBS delivery; the sources"
                   " learn only PICKED_UP or NOT_PICKED_UP.")
@by_option
@team_option
def close_case(bus_url: str | None, registry_url: str | None, state_dir: Path | None,
               case_id: str, result: str, user: str, team_id: str | None) -> None:
    """Close CASE_ID with a result and tell each signal's source PICKED_UP or
    NOT_PICKED_UP (docs/sinks.md has the table). If publishing fails, run the same
    command again: the case stays closed and the outcomes are published again."""
    done = _run_case_step(state_dir, bus_url, registry_url, lambda w: w.close(
        case_id, _choice(Eindresultaat, result), user, team_id=team_id))
    state = "closed" if done.closing.newly_closed else "already closed"
    click.echo(f"{state}: {case_id} as {done.case.result}")
    for told in done.told:
        alert = told.closure.alert.alert_id
        if told.outcome is not None:
            click.echo(f"published {told.outcome.outcome.value} to {OUTCOMES} for"
                       f" {told.closure.source} ({alert})")
        elif told.told is Told.NOTHING_TO_TELL:
            click.echo(f"nothing is told to the source of {alert} (closed before)")
        else:
            click.echo(f"{alert} carries no source: not published")


def _choice(enum_type: type[_E], value: str) -> _E:
    """The member of ``enum_type`` whose value is ``value`` (in any case)."""
    return next(m for m in enum_type if m.value.lower() == value.lower())
