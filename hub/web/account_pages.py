"""The account pages of the web app, for the admin role only (``/beheer``, see
:mod:`hub.web.areas`): the list of accounts, adding one, disabling and enabling, a new
password and team membership.

The pages only read the form and call :class:`hub.accounts.admin.AccountAdmin`
(``app.state.account_admin``), which writes a processing record for every change and
ends the affected user's sessions on every instance. Every form carries the session's
CSRF token (:func:`hub.web.auth.check_csrf`). A password (typed by the admin, or made
by the hub) is shown once, on the page that answers the form (never in a URL, never
logged; the page is ``no-store`` like every page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from hub.accounts import ADMIN_ROLES, ROLES, AccountError, User
from hub.accounts.admin import AccountAdmin
from hub.web.auth import check_csrf, csrf_token, require_role
from hub.web.deps import WebDeps
from hub.web.forms import read_form_lists
from hub.web.i18n import N_, gettext
from hub.web.texts import error_text
from hub.web.texts import install as install_texts

__all__ = ["PREFIX", "admin_page", "router"]

PREFIX = "/beheer/accounts"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
install_texts(templates.env)
Admin = Annotated[User, Depends(require_role(*ADMIN_ROLES))]
router = APIRouter()

#: what the account page says after a change (``?done=``)
_DONE = {
    "disabled": N_("Het account is uitgeschakeld. De gebruiker is overal meteen uitgelogd."),
    "enabled": N_("Het account is weer ingeschakeld. De gebruiker logt opnieuw in."),
    "teams": N_("De teams zijn gewijzigd. De gebruiker is overal uitgelogd en logt opnieuw"
                " in."),
    "same": N_("Er is niets gewijzigd: dit waren al de teams van dit account."),
}


def _admin(request: Request) -> AccountAdmin:
    admin: AccountAdmin = request.app.state.account_admin
    return admin


def _teams(request: Request) -> dict[str, str]:
    deps: WebDeps = request.app.state.deps
    return {t.id: t.name for t in deps.config.teams}


def _page(request: Request, name: str, user: User, status: int = 200,
          **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {
        "user": user, "csrf_token": csrf_token(request) or "", "team_names": _teams(request),
        "has_operator": getattr(request.app.state, "has_operator", False), "roles": ROLES,
        "prefix": PREFIX, **context,
    }, status_code=status)


#: a page of the admin's part of the site (``/beheer``: these and the CBS export page)
admin_page = _page


async def _form(request: Request) -> dict[str, list[str]]:
    form = await read_form_lists(request, limit=10_000)
    check_csrf(request, {k: v[0] for k, v in form.items()})
    return form


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _account(request: Request, username: str) -> User:
    try:
        return _admin(request).get(username)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from None


def _url(username: str, done: str | None = None) -> str:
    return f"{PREFIX}/{quote(username)}" + (f"?done={done}" if done else "")


@router.get(PREFIX, response_class=HTMLResponse)
def accounts_page(request: Request, user: Admin) -> HTMLResponse:
    return _page(request, "accounts.html", user, accounts=_admin(request).list())


@router.get(f"{PREFIX}/nieuw", response_class=HTMLResponse)
def new_account_page(request: Request, user: Admin) -> HTMLResponse:
    return _page(request, "account_new.html", user, values={"role": "member", "teams": []})


@router.post(f"{PREFIX}/nieuw", response_class=HTMLResponse)
async def add_account(request: Request, user: Admin) -> HTMLResponse:
    form = await _form(request)
    username, role = _one(form, "username").lower(), _one(form, "role")
    teams, password = form.get("teams", []), _one(form, "password")
    try:
        added, shown = await run_in_threadpool(_admin(request).add, user.username, username,
                                               role, teams, password or None)
    except AccountError as exc:
        return _page(request, "account_new.html", user, 422, error=error_text(str(exc), 422),
                     values={"username": username, "role": role, "teams": teams})
    return _page(request, "account_password.html", user, account=added,
                 password=None if password else shown, added=True)


@router.get(f"{PREFIX}/{{username}}", response_class=HTMLResponse)
def account_page(request: Request, username: str, user: Admin) -> HTMLResponse:
    account = _account(request, username)
    done = _DONE.get(request.query_params.get("done", ""))
    return _page(request, "account.html", user, account=account,
                 done=gettext(done) if done else None)


async def _change(request: Request, username: str, user: Admin, done: str,
                  run: Any) -> Response:
    """Run one change (``run(admin, username, form)``); back to the account page, or
    that page again with the (Dutch) reason it was refused."""
    form = await _form(request)
    account = await run_in_threadpool(_account, request, username)
    try:
        result = await run_in_threadpool(run, _admin(request), user.username, account, form)
    except AccountError as exc:
        return _page(request, "account.html", user, 409, account=account,
                     error=error_text(str(exc), 409))
    if isinstance(result, str):  # a new password: shown once, on this answer only
        return _page(request, "account_password.html", user, account=account,
                     password=result if not _one(form, "password") else None, added=False)
    if done == "teams" and result == account:
        done = "same"
    return RedirectResponse(_url(username, done), status_code=303)


@router.post(f"{PREFIX}/{{username}}/uitschakelen")
async def disable_account(request: Request, username: str, user: Admin) -> Response:
    return await _change(request, username, user, "disabled",
                         lambda a, by, acc, form: a.disable(by, acc.username))


@router.post(f"{PREFIX}/{{username}}/inschakelen")
async def enable_account(request: Request, username: str, user: Admin) -> Response:
    return await _change(request, username, user, "enabled",
                         lambda a, by, acc, form: a.enable(by, acc.username))


@router.post(f"{PREFIX}/{{username}}/teams")
async def set_teams(request: Request, username: str, user: Admin) -> Response:
    return await _change(request, username, user, "teams",
                         lambda a, by, acc, form: a.set_teams(by, acc.username,
                                                              form.get("teams", [])))


@router.post(f"{PREFIX}/{{username}}/wachtwoord", response_class=HTMLResponse)
async def reset_password(request: Request, username: str, user: Admin) -> Response:
    return await _change(request, username, user, "password",
                         lambda a, by, acc, form: a.reset_password(
                             by, acc.username, _one(form, "password") or None))
