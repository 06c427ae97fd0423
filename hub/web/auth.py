"""Sign-in, sessions, CSRF, the login rate limit and the access log of the web app.

- The session is a signed cookie (itsdangerous, ``secret_key``; ``HttpOnly``,
  ``SameSite=Lax``, ``Secure`` over https; 8 hours): the username and a CSRF token.
  Every POST form carries the token in a hidden ``csrf_token`` field (:func:`check_csrf`).
  Signing in issues a fresh session (and token); the login form itself has an anonymous
  session with a token.
- Dependencies: :func:`current_user`, :func:`require_user` (a page redirects to /login,
  ``/api/`` answers 401) and :func:`require_role` (403 otherwise). A disabled account
  is signed out on its next request.
- :class:`LoginLimiter`: 5 failed sign-ins per username and client in 5 minutes, then 429.
- :func:`record_access` writes a ProcessingRecord to ``audit.v1`` for every sign-in
  (success or failure; the username only) and every view of or action on an alert.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from hub.audit import new_trace_id, processing_record
from hub.events import DecisionOutcome, TeamAlert
from hub.topics import AUDIT
from hub.web.accounts import User
from hub.web.deps import WebDeps

__all__ = [
    "ACCESS_ACTIVITY",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "LoginLimiter",
    "LoginRequired",
    "check_csrf",
    "csrf_token",
    "current_user",
    "end_session",
    "load_or_create_secret",
    "record_access",
    "require_role",
    "require_user",
    "start_session",
]

SESSION_COOKIE = "signalhub_session"
SESSION_MAX_AGE = 8 * 3600
#: the processing activity under which sign-ins and alert views are logged
ACCESS_ACTIVITY = "urn:signalhub:processing-activity:team-inbox-access"
_SALT = "signalhub-web-session"
_audit_lock = threading.Lock()


class LoginRequired(Exception):
    """A page needs a signed-in user: the app redirects to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def load_or_create_secret(state_dir: Path) -> str:
    """The key that signs session cookies: ``<state_dir>/web-secret.key`` (made once, 0600)."""
    path = state_dir / "web-secret.key"
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


def _deps(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_deps(request).secret_key, salt=_SALT)


def _session(request: Request) -> dict[str, Any]:
    """The verified session of this request (empty when absent, forged or expired)."""
    if "session" in request.scope.get("state", {}):
        cached: dict[str, Any] = request.state.session
        return cached
    data: dict[str, Any] = {}
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        try:
            loaded = _serializer(request).loads(raw, max_age=SESSION_MAX_AGE)
            if isinstance(loaded, dict):
                data = loaded
        except BadSignature:
            data = {}
    request.state.session = data
    return data


def _set_cookie(request: Request, response: Response, data: dict[str, Any]) -> None:
    response.set_cookie(
        SESSION_COOKIE, _serializer(request).dumps(data), max_age=SESSION_MAX_AGE,
        httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    request.state.session = data


def start_session(request: Request, response: Response, user: User | None) -> str:
    """A fresh session (new CSRF token) for ``user`` (None: anonymous, for the login form)."""
    token = secrets.token_urlsafe(32)
    _set_cookie(request, response, {"u": user.username if user else None, "csrf": token})
    return token


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")  # fmt: skip


def csrf_token(request: Request) -> str | None:
    token = _session(request).get("csrf")
    return token if isinstance(token, str) else None


def check_csrf(request: Request, form: Mapping[str, str]) -> None:
    """403 unless the form's ``csrf_token`` is this session's token."""
    expected = csrf_token(request)
    given = form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise HTTPException(403, "The form has expired or did not come from this site."
                                 " Reload the page and try again.")


def current_user(request: Request) -> User | None:
    """The signed-in, enabled user of this request, or None."""
    if "user" in request.scope.get("state", {}):
        cached: User | None = request.state.user
        return cached
    username = _session(request).get("u")
    user = _deps(request).users.get(username) if isinstance(username, str) else None
    if user is not None and user.disabled:
        user = None
    request.state.user = user
    return user


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


class LoginLimiter:
    """At most ``max_failures`` failed sign-ins per (username, client) in ``window`` s."""

    def __init__(self, max_failures: int = 5, window: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, username: str, client: str) -> bool:
        with self._lock:
            now = time.monotonic()
            return len(self._recent((username, client), now)) >= self.max_failures

    def failed(self, username: str, client: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent((username, client), now).append(now)
            if len(self._failures) > 10_000:  # forget idle keys
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._failures.pop((username, client), None)


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
