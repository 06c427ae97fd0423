"""The case pages of the web inbox: the national workflow for debt signals.

A debt alert belongs to a case (vroegsignaalzaak, :mod:`hub.inbox.cases`); its alert
page links to the case page ``/inbox/cases/{case_id}``, which shows the case's signals
with their ``Signaalstatus``, the contact attempts so far, the team's own earlier
signals of the same person (``prior_signals_180d``), and the forms to take the case up
("Oppakken"), record a contact attempt, give a signal its own status and close the case
with an ``Eindresultaat``. The model's Dutch terms are shown as they are.

These pages only parse the form and call :class:`~hub.inbox.CaseWorkflow`, which stores
each step, writes its processing records and tells the sources ``PICKED_UP`` /
``NOT_PICKED_UP``. ``/inbox/cases/{case_id}/events`` streams the case's changes (the
statuses of its signals and of the earlier signals on the page) to ``static/case.js``.
Access is checked as for alerts: another team's case is a 403, an unknown one a 404.
A form whose input does not fit (an unknown Contactsoort, Dagdeel, Signaalstatus or
Eindresultaat, no answer to "bereikt?", a date that is no date or lies ahead) gets the
case page again with status 422: a summary of the problems (``role="alert"``, each a
link to its field) and the message at the field (``aria-describedby``,
``aria-invalid``), with what was chosen kept. A step the case's state does not allow
(an attempt before the take-up, a close after a colleague closed it with another
result) gets the case page as it is now with status 409 and the reason in Dutch at the
top (``role="alert"``), so the user sees what changed without reloading.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from hub.accounts import TEAM_ROLES, User
from hub.ddas.codes import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.inbox import Case, CaseNotFound, CaseStore, CaseWorkflow, InboxError, InboxItem
from hub.inbox.case_workflow import PRIOR_WINDOW
from hub.web.auth import check_csrf, require_role
from hub.web.deps import WebDeps
from hub.web.forms import read_form
from hub.web.i18n import N_
from hub.web.i18n import gettext as _
from hub.web.live import event_stream
from hub.web.texts import error_text, label, nl_date

__all__ = ["add_case_routes", "case_state"]

Render = Callable[..., HTMLResponse]
TeamUser = Annotated[User, Depends(require_role(*TEAM_ROLES))]
_E = TypeVar("_E", bound=Enum)

_DONE = {"take-up": N_("Je hebt de zaak opgepakt."),
         "attempt": N_("De contactpoging is vastgelegd."),
         "signal-status": N_("De status van het signaal is aangepast."),
         "close": N_("De zaak is afgesloten. De melder heeft de uitkomst gekregen.")}
#: a case form's field → its message when what was sent does not fit (message ids),
#: in the order of the summary
_FIELD_MESSAGES = {
    "kind": N_("Kies de contactsoort."),
    "reached": N_("Kies of de inwoner bereikt is."),
    "on": N_("Kies een datum van vandaag of eerder."),
    "part_of_day": N_("Kies een dagdeel uit de lijst."),
    "status": N_("Kies een signaalstatus uit de lijst."),
    "result": N_("Kies een eindresultaat uit de lijst."),
}
#: a step's answer: the fields whose input does not fit (none when the step was done)
Problems = set[str]


def case_state(case: Case, earlier: list[InboxItem]) -> dict[str, Any]:
    """What the case page shows that can change while it is open (for its live updates):
    the case's state, each signal's status, each earlier signal's inbox status."""
    return {
        "case_id": case.case_id, "version": case.version,
        "state": case_status_text(case),
        "signals": {s.alert.alert_id: s.status.value for s in case.signals},
        "attempts": len(case.contact_attempts),
        "earlier": {i.alert.alert_id: label(i.status, "status") for i in earlier},
        "open": case.is_open, "taken_up": case.taken_up_on is not None,
    }


def case_status_text(case: Case) -> str:
    """The case's state in words, in the page's language: ``Nog niet opgepakt`` (the
    model's term), ``Opgepakt op …`` or ``Afgesloten: `` and the result (as it is)."""
    if case.result is not None:
        return _("Afgesloten: %(result)s") % {"result": case.result.value}
    if case.taken_up_on is not None:
        return _("Opgepakt op %(date)s door %(name)s") % {
            "date": nl_date(case.taken_up_on), "name": case.taken_up_by or "–"}
    return Signaalstatus.NOG_NIET_OPGEPAKT.value


def add_case_routes(app: FastAPI, deps: WebDeps, render: Render, workflow: CaseWorkflow
                    ) -> None:
    """The case pages (see the module docstring) on ``app``."""
    cases: CaseStore = workflow.cases

    def own_case(user: User, case_id: str) -> Case:
        """The case if it is one of the user's teams': 404 when unknown, 403 otherwise."""
        try:
            case = cases.get(case_id)
        except CaseNotFound:
            raise HTTPException(404, "No such case.") from None
        if case.team_id not in user.teams:
            raise HTTPException(403, "This case belongs to a team you are not a member of.")
        return case

    def show(request: Request, user: User, case_id: str, *, done: str | None = None,
             step: str = "", problems: Problems | None = None,
             values: dict[str, str] | None = None, refused: str | None = None
             ) -> HTMLResponse:
        """The case page (a processing record of the view, as every showing); after a
        form ``step`` whose input did not fit, with its ``problems`` and the ``values``
        sent (status 422); after a step the case did not allow, with why (``refused``,
        the page's language; status 409)."""
        team = own_case(user, case_id).team_id
        case = workflow.show(case_id, user.username, team_id=team)
        earlier = workflow.earlier_signals(case, deps.inbox, user.username)
        errors = {name: _(_FIELD_MESSAGES[name]) for name in _FIELD_MESSAGES
                  if name in (problems or set())}
        values = values or {}
        # the summary links to each field; a signal's status to its row's field
        row = next((n for n, s in enumerate(case.signals, 1)
                    if s.alert.alert_id == values.get("alert_id")), None)
        anchors = {"kind": "attempt-kind", "reached": "attempt-reached-ja",
                   "on": "attempt-on", "part_of_day": "attempt-part",
                   "result": "close-result",
                   "status": f"status-{row}" if row else "case-signals"}
        status = 422 if errors else 409 if refused else 200
        return render(request, "case.html", status, case=case, refused=refused,
                      earlier=earlier, done=_(done) if done else None,
                      state=case_status_text(case), today_iso=cases.today().isoformat(),
                      kinds=list(Contactsoort), parts=list(Dagdeel),
                      results=list(Eindresultaat), statuses=list(Signaalstatus),
                      live=case_state(case, earlier), step=step if errors else "",
                      errors=errors, values=values, status_row=row,
                      error_list=[(anchors[name], text) for name, text in errors.items()])

    @app.get("/inbox/cases/{case_id}")
    def case_page(request: Request, case_id: str,
                  user: TeamUser) -> Response:
        return show(request, user, case_id,
                    done=_DONE.get(request.query_params.get("done", "")))

    def step(verb: str, run: Callable[[User, Case, dict[str, str]], Problems]) -> None:
        async def handler(request: Request, case_id: str,
                          user: TeamUser) -> Response:
            form = await read_form(request)
            check_csrf(request, form)

            def work() -> Response:
                case = own_case(user, case_id)
                try:
                    problems = run(user, case, form)
                except InboxError as exc:
                    return show(request, user, case_id, refused=error_text(str(exc), 409))
                if problems:
                    return show(request, user, case_id, step=verb, problems=problems,
                                values=form)
                return RedirectResponse(f"/inbox/cases/{case_id}?done={verb}",
                                        status_code=303)

            return await run_in_threadpool(work)

        handler.__name__ = f"case_{verb.replace('-', '_')}"
        app.post(f"/inbox/cases/{{case_id}}/{verb}")(handler)

    def take_up(user: User, case: Case, form: dict[str, str]) -> Problems:
        workflow.take_up(case.case_id, user.username, team_id=case.team_id)
        return set()

    def attempt(user: User, case: Case, form: dict[str, str]) -> Problems:
        problems: Problems = set()
        kind = _choice(Contactsoort, form.get("kind"))
        if kind is None:
            problems.add("kind")
        reached = form.get("reached", "")
        if reached not in ("ja", "nee"):
            problems.add("reached")
        part = form.get("part_of_day") or ""
        part_of_day = _choice(Dagdeel, part) if part else None
        if part and part_of_day is None:
            problems.add("part_of_day")
        on = _past_date(form.get("on", ""), cases.today())
        if form.get("on") and on is None:
            problems.add("on")
        if problems or kind is None:
            return problems
        workflow.add_attempt(case.case_id, user.username, kind=kind, reached=reached == "ja",
                             on=on, part_of_day=part_of_day, team_id=case.team_id)
        return set()

    def signal_status(user: User, case: Case, form: dict[str, str]) -> Problems:
        status = _choice(Signaalstatus, form.get("status"))
        if status is None:
            return {"status"}
        workflow.set_signal_status(case.case_id, form.get("alert_id", ""), status,
                                   user.username, team_id=case.team_id)
        return set()

    def close(user: User, case: Case, form: dict[str, str]) -> Problems:
        result = _choice(Eindresultaat, form.get("result"))
        if result is None:
            return {"result"}
        workflow.close(case.case_id, result, user.username, team_id=case.team_id)
        return set()

    for verb, fn in (("take-up", take_up), ("attempt", attempt),
                     ("signal-status", signal_status), ("close", close)):
        step(verb, fn)

    @app.get("/inbox/cases/{case_id}/events")
    async def case_events(request: Request, case_id: str,
                          user: TeamUser) -> StreamingResponse:
        """Server-sent events: the case's state (:func:`case_state`) whenever the inbox
        changed, in any process on the same database."""
        case = await run_in_threadpool(own_case, user, case_id)
        stopping: threading.Event = app.state.stopping

        last, seen = await run_in_threadpool(deps.inbox.version), ""

        def poll() -> list[tuple[str, str]]:
            nonlocal last, seen
            now = deps.inbox.version()
            if now <= last:
                return []
            last = now
            fresh = cases.get(case_id, team_id=case.team_id)
            earlier: list[InboxItem] = []
            if fresh.signals:
                newest = max(s.alert.created_at for s in fresh.signals)
                earlier = deps.inbox.person_alerts(
                    fresh.team_id, fresh.subject_ref, since=newest - PRIOR_WINDOW,
                    until=newest, exclude=[a.alert_id for a in fresh.alerts])
            data = json.dumps(case_state(fresh, earlier))
            if data == seen:
                return []
            seen = data
            return [("case", data)]

        return event_stream(request, user, stopping, poll)


def _choice(kind: type[_E], value: str | None) -> _E | None:
    """The member of ``kind`` whose value is ``value``; None for anything else."""
    try:
        return kind(value or "")
    except ValueError:
        return None


def _past_date(text: str, today: date) -> date | None:
    """``text`` as a date (``YYYY-MM-DD``) of ``today`` or earlier; None otherwise."""
    try:
        on = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
    return on if on is not None and on <= today else None
