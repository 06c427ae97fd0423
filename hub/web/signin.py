"""Signing in and out: ``GET /login`` (the form), ``POST /login``, ``POST /logout``.

``POST /login`` reads the form (bounded), checks its CSRF token, then asks the
:class:`~hub.web.limits.LoginLimiter` (per username and address, username, address,
and the whole app; counted in the application database, so across instances) *before*
any password is hashed, and hashes within the
:class:`~hub.web.limits.CheckGate` (a few at once). Beyond a limit the login page
answers 429 with ``Retry-After``. A correct password starts a server-side session;
every attempt is written to ``audit.v1`` (the username only).

After signing in the browser goes to the page it asked for (``next``) when the user's
role may see it, else to the role's home page (:func:`landing_page`): an operator who
followed a link to the inbox lands on the operator dashboard, not on a 403 page.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.accounts import User
from hub.accounts.attempts import AttemptStore, LimitRule
from hub.settings import WebSettings
from hub.web.areas import may_see
from hub.web.auth import (
    check_csrf,
    csrf_token,
    current_user,
    end_session,
    record_access,
    start_session,
)
from hub.web.deps import WebDeps
from hub.web.forms import read_form
from hub.web.i18n import gettext as _
from hub.web.i18n import ngettext
from hub.web.limits import CheckGate, LoginLimiter

__all__ = ["add_sign_in_routes", "landing_page", "login_limiter", "safe_next"]

log = structlog.get_logger(__name__)

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
#: renders a template with the app's common context: (request, name, status, **context)
Render = Callable[..., HTMLResponse]
#: the pages that are no destination after signing in
_NO_DESTINATION = frozenset({"/", "/login", "/logout"})


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def landing_page(user: User, target: str | None, home: Callable[[User], str]) -> str:
    """Where ``user`` goes after signing in: ``target`` (the ``next`` page) when it is a
    page on this site that the user's role may see, else ``home(user)``."""
    page = safe_next(target)
    if page.split("?", 1)[0] in _NO_DESTINATION or not may_see(user, page):
        return home(user)
    return page


def login_limiter(settings: WebSettings, store: AttemptStore | None = None) -> LoginLimiter:
    """The sign-in limits of ``HUB_WEB__LOGIN_*`` over ``store`` (the web app passes the
    accounts' database: the limits hold across instances; None: this process's memory).
    A shared store counts in wall-clock time, comparable across machines."""
    window = settings.login_window
    return LoginLimiter(
        pair=LimitRule(settings.login_failures_per_account_and_address, window),
        account=LimitRule(settings.login_failures_per_account, window),
        address=LimitRule(settings.login_failures_per_address, window),
        everyone=LimitRule(settings.login_checks_per_minute, 60.0),
        store=store, clock=time.monotonic if store is None else time.time,
    )


def _cookie_refused(request: Request, settings: WebSettings) -> bool:
    """Plain http to a host other than localhost: browsers refuse the Secure cookie."""
    return (settings.secure_cookies and request.url.scheme != "https"
            and request.url.hostname not in _LOOPBACK)


def _wait_text(seconds: float) -> str:
    """``12 seconden`` or ``4 minuten`` (rounded up), in the page's language."""
    if seconds <= 90:
        n = int(seconds)
        return ngettext("%(num)d seconde", "%(num)d seconden", n) % {"num": n}
    n = int(-(-seconds // 60))
    return ngettext("%(num)d minuut", "%(num)d minuten", n) % {"num": n}


def add_sign_in_routes(app: FastAPI, render: Render, home: Callable[[User], str]) -> None:
    """Add the sign-in routes to ``app`` (whose ``state.deps`` is a :class:`WebDeps`);
    ``home``: a user's home page (see :func:`landing_page`)."""
    deps: WebDeps = app.state.deps
    limiter = app.state.login_limiter = login_limiter(deps.web, deps.users.attempts())
    gate = CheckGate(deps.web.login_concurrency)

    @app.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        user = current_user(request)
        if user is not None:
            return RedirectResponse(landing_page(user, next, home), status_code=303)
        cookie = Response()
        fresh = csrf_token(request) is None
        if fresh:  # an anonymous session carries the login form's CSRF token
            start_session(request, cookie, None)
        response = render(request, "login.html", next=safe_next(next), error=None,
                          cookie_refused=_cookie_refused(request, deps.web))
        if fresh:
            response.raw_headers.extend(h for h in cookie.raw_headers if h[0] == b"set-cookie")
        return response

    async def too_many(request: Request, username: str, target: str,
                       retry_after: float) -> Response:
        await run_in_threadpool(record_access, deps, name="sign-in", username=username,
                                reason_code="SIGN_IN_RATE_LIMITED", error=True)
        response = await run_in_threadpool(
            render, request, "login.html", 429, next=target, username=username,
            error=_("Te veel pogingen om in te loggen. Wacht %(wait)s en probeer het"
                    " opnieuw.") % {"wait": _wait_text(retry_after)},
        )
        response.headers["Retry-After"] = str(int(retry_after))
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        check_csrf(request, form)
        username = form.get("username", "").strip().lower()[:64]
        password = form.get("password", "")
        target = safe_next(form.get("next"))
        client = request.client.host if request.client else "-"
        retry_after, ticket = await run_in_threadpool(limiter.admit, username, client)
        if retry_after is not None:  # refused before any hashing
            return await too_many(request, username, target, retry_after)
        async with gate.slot() as admitted:
            if not admitted:
                await run_in_threadpool(limiter.withdrawn, username, client, ticket)
                return await too_many(request, username, target, gate.wait)
            user = await run_in_threadpool(deps.users.authenticate, username, password)
        if user is None:
            await run_in_threadpool(record_access, deps, name="sign-in", username=username,
                                    reason_code="SIGN_IN_FAILED", error=True)
            return await run_in_threadpool(
                render, request, "login.html", 401, next=target,
                error=_("De gebruikersnaam of het wachtwoord klopt niet."), username=username,
            )
        await run_in_threadpool(limiter.succeeded, username, client, ticket)
        await run_in_threadpool(record_access, deps, name="sign-in", username=username,
                                reason_code="SIGNED_IN")
        redirect = RedirectResponse(landing_page(user, target, home), status_code=303)
        await run_in_threadpool(start_session, request, redirect, user)
        log.info("web sign-in", role=user.role)
        return redirect

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        form = await read_form(request)
        check_csrf(request, form)
        response = RedirectResponse("/login", status_code=303)
        await run_in_threadpool(end_session, request, response)
        return response
