"""The admin's CBS delivery in the web app (``/beheer/export``, admin role only, see
:mod:`hub.web.areas`): a form (municipality, first and last day, the supplier code, the
delivering organisation) that downloads the municipality's DDAS Vroegsignalering v1.2
delivery as a JSON file.

The page only reads the form and calls :func:`hub.inbox.ddas_export.export_delivery`,
the same core function as ``signalhub export ddas``; it makes the delivery and writes
its processing record (who, the municipality, the period, how many signals and cases).
Input that does not fit (a municipality the hub's configuration does not know, a date
that is not a date, a last day before the first, an empty supplier code) shows the form
again, with a message (in the page's language) at each field it concerns
(``aria-describedby``), never a 500. The form carries the session's CSRF token, like
every form.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.accounts import ADMIN_ROLES, User
from hub.ddas import OrganisationRecord
from hub.errors import ExportError
from hub.inbox.ddas_export import export_delivery
from hub.inbox.processing import Record
from hub.web.account_pages import admin_page
from hub.web.auth import check_csrf, require_role
from hub.web.deps import WebDeps
from hub.web.forms import read_form
from hub.web.i18n import N_, gettext

__all__ = ["PREFIX", "delivery_filename", "router"]

PREFIX = "/beheer/export"
Admin = Annotated[User, Depends(require_role(*ADMIN_ROLES))]
router = APIRouter()

#: the form's fields, in the order their messages are listed
FIELDS = ("municipality", "period_start", "period_end", "supplier_code", "organisation")
#: the core's name of a delivery field → the form field it comes from
_FIELD_OF = {"leveringen.0.gemeentecode": "municipality",
             "startdatumLevering": "period_start", "einddatumLevering": "period_end",
             "codeGegevensleverancier": "supplier_code",
             "leveringen.0.aanleverendeOrganisatie.naam": "organisation"}
#: the messages per field (message ids: translated where they are shown)
_MESSAGES = {
    "municipality": N_("Kies een gemeente uit de lijst."),
    "period_start": N_("Vul bij ‘Eerste dag’ een datum in (dd-mm-jjjj)."),
    "period_end": N_("Vul bij ‘Laatste dag’ een datum in (dd-mm-jjjj)."),
    "period_order": N_("De laatste dag ligt vóór de eerste dag. Kies een laatste dag op of"
                       " na de eerste dag."),
    "supplier_code": N_("Vul de code gegevensleverancier in: de code waaronder CBS de"
                        " organisatie kent die deze hub beheert (hoogstens 200 tekens)."),
    "organisation": N_("De naam van de aanleverende organisatie is te lang."),
}
_OTHER = N_("De levering kan niet worden gemaakt: %(n)s gegeven(s) van de signalen of"
            " zaken passen niet in het uitwisselmodel van CBS (bijvoorbeeld een signaal"
            " zonder postcode of huisnummer). Met ‘signalhub export ddas’ op de server zie"
            " je welke.")


def delivery_filename(municipality_code: str, period_start: date, period_end: date) -> str:
    """The download's file name: ``cbs-levering-vroegsignalering-GM0344-2025-04-01-tot-
    2025-06-30.json``."""
    return (f"cbs-levering-vroegsignalering-{municipality_code}-{period_start.isoformat()}"
            f"-tot-{period_end.isoformat()}.json")


def _deps(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


def _municipalities(request: Request) -> dict[str, str]:
    """The municipalities of the hub's configuration: code → name."""
    return {m.code: m.name for m in _deps(request).config.municipalities}


def _form_page(request: Request, user: User, values: dict[str, str],
               errors: dict[str, str] | None = None, general: str | None = None
               ) -> HTMLResponse:
    errors = {name: gettext(text) for name, text in (errors or {}).items()}
    return admin_page(request, "ddas_export.html", user, 422 if errors or general else 200,
                      municipalities=_municipalities(request), values=values,
                      errors=errors, general=general,
                      error_list=[(name, errors[name]) for name in FIELDS if name in errors])


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


@router.get(PREFIX, response_class=HTMLResponse)
def export_page(request: Request, user: Admin) -> HTMLResponse:
    codes = list(_municipalities(request))
    return _form_page(request, user, {
        "municipality": codes[0] if len(codes) == 1 else "",
        "supplier_code": _deps(request).ddas_supplier_code or "", "organisation": "",
        "period_start": "", "period_end": ""})


@router.post(PREFIX, response_model=None)
async def export_download(request: Request, user: Admin) -> Response:
    form = await read_form(request, limit=4_000)
    check_csrf(request, form)
    values = {name: form.get(name, "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    if values["municipality"] not in _municipalities(request):
        errors["municipality"] = _MESSAGES["municipality"]
    start, end = _date(values["period_start"]), _date(values["period_end"])
    for name, day in (("period_start", start), ("period_end", end)):
        if day is None:
            errors[name] = _MESSAGES[name]
    if not values["supplier_code"] or len(values["supplier_code"]) > 200:
        errors["supplier_code"] = _MESSAGES["supplier_code"]
    if len(values["organisation"]) > 200:
        errors["organisation"] = _MESSAGES["organisation"]
    if errors or start is None or end is None:
        return _form_page(request, user, values, errors)
    deps = _deps(request)
    record: Record = request.app.state.audit_log
    try:
        delivery = await run_in_threadpool(
            export_delivery, deps.inbox.database, record, user=user.username,
            municipality_code=values["municipality"], period_start=start, period_end=end,
            supplier_code=values["supplier_code"],
            organisation=OrganisationRecord(name=values["organisation"] or None))
    except ExportError as exc:
        others = 0
        for problem in exc.errors:
            field = _FIELD_OF.get(problem.field)
            if field is None:
                others += 1
            elif field == "period_end":
                errors[field] = _MESSAGES["period_order"]
            else:
                errors[field] = _MESSAGES[field]
        return _form_page(request, user, values, errors,
                          gettext(_OTHER) % {"n": others} if others else None)
    name = delivery_filename(values["municipality"], start, end)
    return Response(delivery.to_json() + "\n", media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
