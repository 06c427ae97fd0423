"""The web app: sign-in, the team inbox (HTML and JSON), live updates, security headers.

:func:`create_web_app` builds it from :class:`~hub.web.deps.WebDeps`; :func:`serve_web`
runs it with uvicorn in a thread and :func:`stop_web` ends it (live-update streams
first). Pages are rendered on the server (Jinja2), in Dutch or English (the language
switch's cookie, else ``Accept-Language``: :mod:`hub.web.i18n`, ``GET /taal``; the
labels and formats in :mod:`hub.web.texts`); the only scripts are ``static/inbox.js``
(live rows: new alerts and changes of listed ones, from every instance on the same
database), ``static/case.js`` (the live state of a case page, :mod:`hub.web.cases`) and
``static/dutch.js`` (dates, and the scripts' texts from the page), so the
Content-Security-Policy allows no inline script.

Access is checked on the server for every page and API call: a member or admin sees
only alerts of their own teams (403 for another team's alert, by page or API);
operators see no alert at all; only admins see the account pages
(:mod:`hub.web.account_pages`, ``/beheer/accounts``) and the CBS delivery export
(:mod:`hub.web.export_pages`, ``/beheer/export``). Every view of an alert's detail,
claim, note and close, and every sign-in is logged to ``audit.v1``
(:func:`hub.web.auth.record_access`).

Sign-in (:mod:`hub.web.signin`) is limited before a password is hashed (429 with
``Retry-After`` beyond a limit); sessions live on the server (:mod:`hub.accounts.sessions`),
and a live-update stream ends within seconds of its session's end. Over TLS (the
connection's own, or a trusted proxy's ``X-Forwarded-Proto``) every response carries
``Strict-Transport-Security``. The app serves no ``/docs`` or ``/redoc``, and
``/openapi.json`` only with ``HUB_WEB__OPENAPI=true``.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.accounts import TEAM_ROLES, User
from hub.accounts.admin import AccountAdmin
from hub.events import AlertUrgency
from hub.inbox import (
    AlertNotFound,
    CaseNotFound,
    CaseStore,
    CaseWorkflow,
    CloseOutcome,
    InboxError,
    InboxItem,
    InboxStatus,
    InboxWorkflow,
    OutcomePublisher,
    Told,
)
from hub.inbox.processing import AuditLog
from hub.metrics import HttpMetricsMiddleware
from hub.request_log import RequestLogMiddleware
from hub.serving import serve, stop
from hub.topics import ensure_topics
from hub.web import account_pages, export_pages
from hub.web.areas import home_page
from hub.web.auth import (
    LoginRequired,
    check_csrf,
    csrf_token,
    current_user,
    record_access,
    require_role,
)
from hub.web.cases import add_case_routes
from hub.web.deps import WebDeps
from hub.web.forms import read_form
from hub.web.i18n import COOKIE, LOCALES, N_, LocaleMiddleware
from hub.web.i18n import gettext as _
from hub.web.live import event_stream
from hub.web.signin import add_sign_in_routes, safe_next
from hub.web.texts import install as install_texts
from hub.web.texts import nl_datetime
from hub.workdays import dutch_date

__all__ = ["SECURITY_HEADERS", "create_web_app", "serve_web", "stop_web"]

_HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none';"
        " frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: sent on every response that came over TLS (never over plain http: browsers ignore it)
HSTS = "max-age=31536000"
#: closing outcomes as offered in the form
_OUTCOME_LABELS = {
    CloseOutcome.PICKED_UP: N_("Opgepakt (de melder krijgt dit te horen)"),
    CloseOutcome.NOT_PICKED_UP: N_("Niet opgepakt (de melder krijgt dit te horen)"),
    CloseOutcome.CLOSED: N_("Afgesloten om een andere reden (de melder hoort niets)"),
}
_DONE = {"claimed": N_("Je behandelt deze melding nu."),
         "noted": N_("De notitie is toegevoegd."),
         "closed": N_("De melding is afgesloten."),
         "published": N_("De melding is afgesloten. De melder heeft de uitkomst gekregen.")}

TeamUser = Annotated[User, Depends(require_role(*TEAM_ROLES))]


class _SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS`, no-store for everything but static files, and
    :data:`HSTS` when the request came over https."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
                if tls:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _utc(value: datetime) -> str:
    """``value`` as an RFC 3339 (ISO 8601) text in UTC: ``2026-12-01T13:05:00.123000+00:00``."""
    return value.astimezone(UTC).isoformat()


def _row(item: InboxItem, today: date) -> dict[str, Any]:
    """An alert as listed (no fields, no pseudonym); ``overdue_working_days`` counts the
    Dutch working days it is past its due date on ``today``. ``created_at`` is the
    machine value (UTC); ``created`` the same instant as Dutch display text, what the
    inbox's script shows in a row it adds."""
    a = item.alert
    return {
        "alert_id": a.alert_id, "team_id": a.team_id, "event_type": a.event_type,
        "urgency": a.urgency.value, "due_date": a.due_date.isoformat() if a.due_date else None,
        "overdue_working_days": item.overdue_days(today),
        "created_at": _utc(a.created_at), "status": item.status.value,
        "claimed_by": item.claimed_by, "outcome": item.outcome.value if item.outcome else None,
        "received_ms": _ms(item.received_at), "version": item.version,
        "url": f"/inbox/alerts/{a.alert_id}",
        "created": nl_datetime(a.created_at),
    }


def _detail(item: InboxItem, today: date) -> dict[str, Any]:
    a = item.alert
    return {
        **_row(item, today),
        "subject_ref": a.subject_ref, "municipality_code": a.municipality_code,
        "fields": dict(a.fields), "prior_signals_180d": a.prior_signals_180d,
        "legal_basis": a.legal_basis, "closed_by": item.closed_by,
        "closed_at": _utc(item.closed_at) if item.closed_at else None,
        "notes": [{"author": n.author, "text": n.text, "at": _utc(n.at)} for n in item.notes],
    }


class _Filters:
    """The inbox filters from the query string (unknown values are ignored)."""

    def __init__(self, request: Request, user: User) -> None:
        q = request.query_params
        self.team = q.get("team") or ""
        if self.team and self.team not in user.teams:
            raise HTTPException(403, "You are not a member of this team.")
        self.event_type = q.get("event_type") or ""
        urgency = (q.get("urgency") or "").upper()
        self.urgency = urgency if urgency in AlertUrgency.__members__ else ""
        status = q.get("status") or ""
        self.status = status if status in {s.value for s in InboxStatus} else ""
        self.since_text = q.get("since") or ""
        try:
            self.since: date | None = (date.fromisoformat(self.since_text)
                                       if self.since_text else None)
        except ValueError:
            self.since, self.since_text = None, ""
        self.teams = sorted([self.team] if self.team else user.teams)

    def query(self) -> str:
        pairs = {"team": self.team, "event_type": self.event_type, "urgency": self.urgency,
                 "status": self.status, "since": self.since_text}
        return "&".join(f"{k}={quote(v)}" for k, v in pairs.items() if v)

    def items(self, deps: WebDeps, limit: int = 200, changed_after: int | None = None
              ) -> list[InboxItem]:
        found: list[InboxItem] = []
        for team in self.teams:
            found += deps.inbox.list_alerts(
                team, event_type=self.event_type or None, urgency=self.urgency or None,
                status=self.status or None, since=self.since, limit=limit,
                changed_after=changed_after,
            )
        found.sort(key=lambda i: (i.alert.urgency is not AlertUrgency.URGENT,
                                  -_ms(i.alert.created_at), i.alert.alert_id))
        return found[:limit]


def create_web_app(deps: WebDeps) -> FastAPI:
    """The browser app over ``deps`` (see the module docstring)."""
    settings = deps.web
    app = FastAPI(title="Signalhub web", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json" if settings.openapi else None)
    app.state.deps = deps
    app.state.stopping = threading.Event()
    app.state.sessions = deps.users.sessions(idle_timeout=settings.session_idle_timeout,
                                             max_age=settings.session_max_age, clock=deps.clock)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    install_texts(templates.env)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(HttpMetricsMiddleware, app_name="web")
    app.add_middleware(RequestLogMiddleware, app_name="web")
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    ensure_topics(deps.conn.bus, config=deps.config)
    team_names = {t.id: t.name for t in deps.config.teams}
    event_types = sorted({e for t in deps.config.teams for e in t.event_types})
    publisher = OutcomePublisher(deps.conn.bus, deps.conn.serde)
    workflow = InboxWorkflow(deps.inbox, publisher.tell)
    case_workflow = CaseWorkflow(CaseStore(deps.inbox.database, clock=deps.inbox.clock),
                                 publisher.tell, AuditLog(deps.conn.bus, deps.conn.serde))
    has_operator = _include_operator(app)
    app.state.has_operator = has_operator
    app.state.account_admin = AccountAdmin(deps.users, AuditLog(deps.conn.bus, deps.conn.serde),
                                           teams=team_names)
    app.include_router(account_pages.router)
    app.state.audit_log = AuditLog(deps.conn.bus, deps.conn.serde)
    app.include_router(export_pages.router)

    def today() -> date:
        """Today in the Netherlands (by the app's clock): for the "te laat" marker."""
        return dutch_date(deps.clock())

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        user = current_user(request)
        return templates.TemplateResponse(request, name, {
            "user": user, "csrf_token": csrf_token(request), "team_names": team_names,
            "has_operator": has_operator, "today": today(), **context,
        }, status_code=status)

    def own_item(user: User, alert_id: str) -> InboxItem:
        """The alert if it is one of the user's teams': 404 when unknown, 403 otherwise."""
        try:
            item = deps.inbox.get(alert_id)
        except AlertNotFound:
            raise HTTPException(404, "No such alert.") from None
        if item.alert.team_id not in user.teams:
            raise HTTPException(403, "This alert belongs to a team you are not a member of.")
        return item

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
        response = await run_in_threadpool(
            render, request, "error.html", exc.status_code, message=exc.detail,
            status_code=exc.status_code,
        )
        response.headers.update(headers)
        return response

    # -- home and signing in (hub.web.signin) ----------------------------------------------

    def home_of(user: User) -> str:
        """The user's home page; ``/`` (which says so) when it is the operator
        dashboard and that is not installed."""
        page = home_page(user)
        return "/" if page.startswith("/operator") and not has_operator else page

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        page = home_of(user)
        if page == "/":
            return render(request, "error.html", message="Operators have no inbox; the"
                          " operator dashboard is not installed.", status_code=200)
        return RedirectResponse(page, status_code=303)

    add_sign_in_routes(app, render, home_of)

    @app.get("/taal", include_in_schema=False)
    def choose_language(request: Request, lang: str = "", next: str = "/") -> Response:
        """The language switch: remember ``lang`` (nl or en) in a cookie, back to
        ``next`` (a page on this site). Works signed in or not: a preference only."""
        response = RedirectResponse(safe_next(next), status_code=303)
        if lang in LOCALES:
            response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, path="/",
                                secure=request.url.scheme == "https", httponly=True,
                                samesite="lax")
        return response
    add_case_routes(app, deps, render, case_workflow)

    # -- the team inbox -----------------------------------------------------------------

    @app.get("/inbox")
    def inbox_page(request: Request, user: TeamUser) -> Response:
        filters = _Filters(request, user)
        after = deps.inbox.version()  # before the list: a change meanwhile is streamed
        items = filters.items(deps)
        return render(request, "inbox.html", items=items, filters=filters, after=after,
                      event_types=event_types, statuses=[s.value for s in InboxStatus])

    @app.get("/inbox/alerts/{alert_id}")
    def alert_page(request: Request, alert_id: str, user: TeamUser) -> Response:
        item = own_item(user, alert_id)
        record_access(deps, name="view-alert", reason_code="ALERT_VIEWED",
                      username=user.username, alert=item.alert)
        done = _DONE.get(request.query_params.get("done", ""))
        try:  # a debt alert follows the national workflow: its case page has the steps
            case_id: str | None = case_workflow.cases.case_of(
                alert_id, team_id=item.alert.team_id).case_id
        except CaseNotFound:
            case_id = None
        return render(request, "alert.html", done=_(done) if done else None, item=item,
                      outcomes={o: _(text) for o, text in _OUTCOME_LABELS.items()},
                      case_id=case_id)

    def _action(name: str, run: Callable[[User, InboxItem, dict[str, str]], str]) -> Callable[
            [Request, str, User], Awaitable[Response]]:
        async def handler(request: Request, alert_id: str, user: TeamUser) -> Response:
            form = await read_form(request)
            check_csrf(request, form)

            def work() -> str:
                item = own_item(user, alert_id)
                try:
                    done = run(user, item, form)
                except InboxError as exc:
                    raise HTTPException(409, str(exc)) from None
                return done

            done = await run_in_threadpool(work)
            return RedirectResponse(f"/inbox/alerts/{alert_id}?done={done}", status_code=303)

        handler.__name__ = name
        return handler

    def claim(user: User, item: InboxItem, form: dict[str, str]) -> str:
        workflow.claim(item.alert.alert_id, user.username, team_id=item.alert.team_id)
        record_access(deps, name="claim-alert", reason_code="ALERT_CLAIMED",
                      username=user.username, alert=item.alert)
        return "claimed"

    def note(user: User, item: InboxItem, form: dict[str, str]) -> str:
        text = form.get("text", "").strip()[:4000]
        workflow.add_note(item.alert.alert_id, user.username, text,
                          team_id=item.alert.team_id)
        record_access(deps, name="note-alert", reason_code="ALERT_NOTE_ADDED",
                      username=user.username, alert=item.alert)
        return "noted"

    def close(user: User, item: InboxItem, form: dict[str, str]) -> str:
        try:
            outcome = CloseOutcome(form.get("outcome", ""))
        except ValueError:
            raise HTTPException(400, "Choose an outcome.") from None
        closing = workflow.close(
            item.alert.alert_id, outcome, by=user.username,
            note=form.get("note", "").strip()[:4000] or None, team_id=item.alert.team_id,
            on_closed=lambda _: record_access(
                deps, name="close-alert", reason_code=f"ALERT_CLOSED_{outcome.value}",
                username=user.username, alert=item.alert),
        )
        return "published" if closing.told is Told.PUBLISHED else "closed"

    for verb, fn in (("claim", claim), ("note", note), ("close", close)):
        app.post(f"/inbox/alerts/{{alert_id}}/{verb}")(_action(verb, fn))

    @app.get("/inbox/events")
    async def inbox_events(request: Request, user: TeamUser) -> StreamingResponse:
        """Server-sent events: each alert that arrived or changed (claimed, closed) after
        the inbox's change counter ``after``, in any process on the same database."""
        filters = _Filters(request, user)
        current = await run_in_threadpool(deps.inbox.version)
        try:
            after = min(int(request.query_params.get("after", "")), current)
        except ValueError:
            after = current
        stopping: threading.Event = app.state.stopping

        last = after

        def poll() -> list[tuple[str, str]]:
            """The counter now (one cheap query) and, when it moved, what changed."""
            nonlocal last
            now = deps.inbox.version()
            if now <= last:
                return []
            found = sorted(filters.items(deps, changed_after=last), key=lambda i: i.version)
            last = max([now, *(i.version for i in found)])
            return [("alert", json.dumps({**_row(item, today()),
                                          "team_name": team_names.get(item.alert.team_id)}))
                    for item in found]

        return event_stream(request, user, stopping, poll)

    # -- the JSON API (the same checks) ----------------------------------------------------

    @app.get("/api/alerts")
    def api_alerts(request: Request, user: TeamUser) -> dict[str, Any]:
        filters = _Filters(request, user)
        on = today()
        return {"alerts": [_row(i, on) for i in filters.items(deps)]}

    @app.get("/api/alerts/{alert_id}")
    def api_alert(alert_id: str, user: TeamUser) -> dict[str, Any]:
        item = own_item(user, alert_id)
        record_access(deps, name="view-alert", reason_code="ALERT_VIEWED",
                      username=user.username, alert=item.alert)
        return _detail(item, today())

    @app.get("/api/me")
    def api_me(user: Annotated[User, Depends(require_role("member", "operator", "admin"))]
               ) -> dict[str, Any]:
        return {"username": user.username, "role": user.role, "teams": sorted(user.teams)}

    return app


def _include_operator(app: FastAPI) -> bool:
    """Include ``hub.web.operator.router`` when that module exists."""
    try:
        module = importlib.import_module("hub.web.operator")
    except ModuleNotFoundError as exc:
        if exc.name != "hub.web.operator":
            raise
        return False
    router = getattr(module, "router", None)
    if router is None:
        return False
    app.include_router(router)
    return True


def serve_web(app: FastAPI, host: str = "127.0.0.1", port: int = 8081
              ) -> tuple[uvicorn.Server, threading.Thread]:
    """Run the web app with uvicorn in a thread (port 0: any free port). Forwarded
    headers are believed only from ``HUB_WEB__TRUSTED_PROXIES``."""
    proxies = app.state.deps.web.trusted_proxies
    return serve(app, host, port, proxy_headers=bool(proxies),
                 forwarded_allow_ips=list(proxies) or None, name="web app")


def stop_web(app: FastAPI, server: uvicorn.Server, thread: threading.Thread) -> None:
    """End the live-update streams, then stop the server."""
    app.state.stopping.set()
    stop(server, thread)
