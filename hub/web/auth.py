"""Sign-in, server-side sessions, CSRF and the access log of the web app.

- The session cookie (``__Host-signalhub_session``: ``Secure``, ``HttpOnly``,
  ``SameSite=Lax``, ``Path=/``, no domain) carries only a random session id, signed
  with ``secret_key`` (itsdangerous); the session itself is a row in ``users.db``
  (:class:`hub.accounts.sessions.SessionStore`) that signing out, disabling the account and
  changing its teams or password revoke at once. Sessions end after
  ``HUB_WEB__SESSION_IDLE_TIMEOUT`` seconds without a request and
  ``HUB_WEB__SESSION_MAX_AGE`` seconds after sign-in. With
  ``HUB_WEB__SECURE_COOKIES=false`` (plain-http development only) the cookie is
  ``signalhub_session``, ``Secure`` only over https.
- CSRF: every POST form carries the session's token in a hidden ``csrf_token`` field
  (:func:`check_csrf`): an HMAC of the session id, so a new session has a new token. The
  login form has an anonymous cookie holding a random token (no server state).
- Dependencies: :func:`current_user`, :func:`require_user` (a page redirects to /login,
  ``/api/`` answers 401) and :func:`require_role` (403 otherwise).
- :func:`record_access` writes a ProcessingRecord to ``audit.v1`` for every sign-in
  (success or failure; the username only) and every view of or action on an alert.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from hub.accounts import User
from hub.accounts.sessions import SessionStore
from hub.audit import new_trace_id, processing_record
from hub.events import DecisionOutcome, TeamAlert
from hub.inbox.processing import INBOX_ACTIVITY
from hub.settings import WebSettings
from hub.state_layout import StateLayout
from hub.topics import AUDIT
from hub.web.deps import WebDeps

__all__ = [
    "ACCESS_ACTIVITY",
    "DEV_SESSION_COOKIE",
    "SESSION_COOKIE",
    "LoginRequired",
    "check_csrf",
    "csrf_token",
    "current_user",
    "end_session",
    "live_user",
    "load_or_create_secret",
    "record_access",
    "require_role",
    "require_user",
    "session_cookie_name",
    "start_session",
]

#: the session cookie's name (``__Host-``: Secure, host-only, Path=/ enforced by browsers)
SESSION_COOKIE = "__Host-signalhub_session"
#: its name with ``HUB_WEB__SECURE_COOKIES=false`` (plain-http development)
DEV_SESSION_COOKIE = "signalhub_session"
#: the processing activity under which sign-ins and alert views are logged (the same as
#: the team's recorded inbox steps)
ACCESS_ACTIVITY = INBOX_ACTIVITY
_SALT = "signalhub-web-session"
_audit_lock = threading.Lock()


class LoginRequired(Exception):
    """A page needs a signed-in user: the app redirects to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def load_or_create_secret(state_dir: Path) -> str:
    """The key that signs session cookies: ``<state_dir>/web-secret.key`` (made once, 0600)."""
    path = StateLayout.of(state_dir).web_secret
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii") as f:
                path.chmod(0o600)
                f.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable key; delete it to make a new one")
    return key


def session_cookie_name(settings: WebSettings) -> str:
    return SESSION_COOKIE if settings.secure_cookies else DEV_SESSION_COOKIE


@dataclass(frozen=True, slots=True)
class _Session:
    """What the cookie says: a server-side session id, or an anonymous CSRF token."""

    session_id: str | None = None
    anonymous_csrf: str | None = None


def _deps(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


def _sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_deps(request).secret_key, salt=_SALT)


def _session(request: Request) -> _Session:
    """The verified cookie of this request (empty when absent, forged or too old)."""
    if "session" in request.scope.get("state", {}):
        cached: _Session = request.state.session
        return cached
    session = _Session()
    deps = _deps(request)
    raw = request.cookies.get(session_cookie_name(deps.web))
    if raw:
        try:
            loaded = _serializer(request).loads(raw,
                                                max_age=math.ceil(deps.web.session_max_age))
        except BadSignature:
            loaded = None
        if isinstance(loaded, dict):
            sid, anon = loaded.get("s"), loaded.get("a")
            session = _Session(sid if isinstance(sid, str) else None,
                               anon if isinstance(anon, str) else None)
    request.state.session = session
    return session


def _set_cookie(request: Request, response: Response, session: _Session) -> None:
    settings = _deps(request).web
    payload = {"s": session.session_id} if session.session_id else {
        "a": session.anonymous_csrf}
    response.set_cookie(
        session_cookie_name(settings), _serializer(request).dumps(payload),
        max_age=math.ceil(settings.session_max_age), httponly=True, samesite="lax",
        secure=settings.secure_cookies or request.url.scheme == "https", path="/",
    )
    request.state.session = session
    request.scope["state"].pop("user", None)  # read again from the new session


def start_session(request: Request, response: Response, user: User | None) -> str:
    """A fresh session for ``user`` (None: anonymous, for the login form); any session
    the request came with is revoked. Returns the new CSRF token."""
    old = _session(request).session_id
    if old:
        _sessions(request).revoke(old)
    if user is None:
        session = _Session(anonymous_csrf=secrets.token_urlsafe(32))
    else:
        session = _Session(session_id=_sessions(request).create(user.username))
    _set_cookie(request, response, session)
    token = csrf_token(request)
    assert token is not None
    return token


def end_session(request: Request, response: Response) -> None:
    """Revoke this request's session on the server and delete the cookie."""
    sid = _session(request).session_id
    if sid:
        _sessions(request).revoke(sid)
    settings = _deps(request).web
    response.delete_cookie(session_cookie_name(settings), path="/", httponly=True,
                           samesite="lax",
                           secure=settings.secure_cookies or request.url.scheme == "https")


def csrf_token(request: Request) -> str | None:
    session = _session(request)
    if session.session_id:
        mac = hmac.new(_deps(request).secret_key.encode(), b"csrf\0" +
                       session.session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
    return session.anonymous_csrf


def check_csrf(request: Request, form: Mapping[str, str]) -> None:
    """403 unless the form's ``csrf_token`` is this session's token."""
    expected = csrf_token(request)
    given = form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise HTTPException(403, "The form has expired or did not come from this site."
                                 " Reload the page and try again.")


def _user_of_session(request: Request, *, touch: bool) -> User | None:
    sid = _session(request).session_id
    username = _sessions(request).user_of(sid, touch=touch) if sid else None
    user = _deps(request).users.get(username) if username else None
    return None if user is None or user.disabled else user


def current_user(request: Request) -> User | None:
    """The signed-in, enabled user of this request's live session, or None."""
    if "user" in request.scope.get("state", {}):
        cached: User | None = request.state.user
        return cached
    user = _user_of_session(request, touch=True)
    request.state.user = user
    return user


def live_user(request: Request) -> User | None:
    """Like :func:`current_user`, read again now (for long requests: the live-update
    stream), without counting as use of the session."""
    return _user_of_session(request, touch=False)


def require_user(request: Request) -> User:
    """The signed-in user; else a redirect to /login (pages) or 401 (``/api/``)."""
    user = current_user(request)
    if user is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Cookie"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


def require_role(*roles: str) -> Callable[[Request], User]:
    """A dependency: the signed-in user when their role is one of ``roles``, else 403."""

    def dependency(request: Request) -> User:
        user = require_user(request)
        if user.role not in roles:
            raise HTTPException(403, "Your role has no access to this page.")
        return user

    return dependency


def record_access(
    deps: WebDeps,
    *,
    name: str,
    reason_code: str,
    username: str,
    alert: TeamAlert | None = None,
    error: bool = False,
) -> None:
    """Write who did what (to which alert) as a ProcessingRecord on ``audit.v1``.

    The record names the user in ``reason_detail`` and, for an alert, its team, id and
    the person's pseudonym (``data_subject_id``); never a password or alert contents.
    """
    started = datetime.now(UTC)
    rec = processing_record(
        trace_id=alert.trace_id if alert else new_trace_id(),
        name=name,
        started=started,
        outcome=DecisionOutcome.RECORDED,
        reason_code=reason_code,
        reason_detail=f"user={username[:64]}",
        activity=ACCESS_ACTIVITY,
        subject_ref=alert.subject_ref if alert else None,
        team_id=alert.team_id if alert else None,
        municipality_code=alert.municipality_code if alert else None,
        event_id=alert.event_id if alert else None,
        event_type=alert.event_type if alert else None,
        alert_id=alert.alert_id if alert else None,
        legal_basis=alert.legal_basis if alert else None,
        error=error,
    )
    key = alert.subject_ref.encode() if alert else None
    conn = deps.conn
    with _audit_lock:
        conn.bus.produce_one(AUDIT, conn.serde.encode_model(AUDIT, rec), key)
