"""A trace id for every HTTP request, on every log line written while handling it, and
one access line per request.

:class:`RequestLogMiddleware` (installed on the ingest API and the web app) takes the
trace id of an incoming W3C ``traceparent`` header when it is valid, else makes one
(:func:`hub.audit.new_trace_id`), binds it as ``trace_id`` with
:mod:`structlog.contextvars` for the request (so :func:`hub.logging.configure_logging`'s
handler puts it on the hub's events and on the standard library's records alike:
uvicorn's error log, kafka-python) and returns it in the ``X-Trace-Id`` response header.
When the request is done it logs one access line on the logger ``signalhub.access``:
``app``, ``method``, ``path``, ``route``, ``status``, ``duration_ms``.

What the access line leaves out, because it could carry personal data: the query string
(only its parameter *names* are logged, as ``query``), the client's address, the user
agent, cookies and every other header. ``path`` is the path as sent, cut to
:data:`MAX_PATH` characters; the hub's paths carry ids (alerts, consents), never
personal data, and redaction masks a BSN a client puts in one. ``route`` is the route
template (``<unmatched>`` when no route matched), the same value as the metrics' label.
Health probes (``/healthz``, ``/readyz``) answered 2xx are logged at ``debug``, 5xx
answers at ``warning``, the rest at ``info``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import structlog

from hub.audit import new_trace_id

__all__ = ["MAX_PATH", "TRACE_HEADER", "RequestLogMiddleware", "current_trace_id",
           "trace_id_of"]

#: the response header that carries the request's trace id
TRACE_HEADER = "X-Trace-Id"
#: longer paths are cut (and end in ``...``)
MAX_PATH = 200
_HEALTH = frozenset({"/healthz", "/readyz"})
#: ``version-traceid-parentid-flags``; later versions may append fields
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")

access_log = structlog.get_logger("signalhub.access")

_Scope = dict[str, Any]
_ASGI = Callable[..., Any]


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a valid W3C ``traceparent`` value, else None (version ``ff``,
    all-zero ids and anything after the flags of a version ``00`` header are invalid)."""
    match = _TRACEPARENT.fullmatch((traceparent or "").strip())
    if match is None:
        return None
    version, trace_id, parent_id, _, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} \
            or set(parent_id) == {"0"}:
        return None
    return trace_id


def current_trace_id() -> str | None:
    """The trace id of the request being handled (None outside of a request)."""
    value = structlog.contextvars.get_contextvars().get("trace_id")
    return value if isinstance(value, str) else None


def _header(scope: _Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _query_names(scope: _Scope) -> list[str]:
    raw = bytes(scope.get("query_string", b"")).decode("latin-1")
    names = dict.fromkeys(name for name, _ in parse_qsl(raw, keep_blank_values=True))
    return [name[:40] for name in list(names)[:20]]


def _path(scope: _Scope) -> str:
    path = str(scope.get("path", ""))
    return path if len(path) <= MAX_PATH else path[:MAX_PATH] + "..."


class RequestLogMiddleware:
    """ASGI middleware: the request's trace id (bound for its log lines, returned in
    :data:`TRACE_HEADER`) and its access line (see the module docstring). Install it last
    (outermost): ``app.add_middleware(RequestLogMiddleware, app_name="web")``."""

    def __init__(self, app: _ASGI, app_name: str) -> None:
        self.app = app
        self.app_name = app_name

    async def __call__(self, scope: _Scope, receive: _ASGI, send: _ASGI) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = trace_id_of(_header(scope, b"traceparent")) or new_trace_id()
        tokens = structlog.contextvars.bind_contextvars(trace_id=trace_id)
        started = time.perf_counter()
        status = [500]

        async def send_with_trace(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                headers = [h for h in message.get("headers", ())
                           if bytes(h[0]).lower() != TRACE_HEADER.lower().encode()]
                headers.append((TRACE_HEADER.lower().encode(), trace_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        except BaseException:
            # the trace id stays bound: the 500 answer and the server's error line
            # (uvicorn's "Exception in ASGI application") come after this, in the
            # request's own task
            self._log(scope, 500, started)
            raise
        self._log(scope, status[0], started)
        structlog.contextvars.reset_contextvars(**tokens)

    def _log(self, scope: _Scope, status: int, started: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "<unmatched>"
        path = str(scope.get("path", ""))
        if status >= 500:
            emit = access_log.warning
        elif path in _HEALTH and status < 300:
            emit = access_log.debug
        else:
            emit = access_log.info
        fields: dict[str, Any] = {
            "app": self.app_name, "method": str(scope.get("method", "")).upper()[:16],
            "path": _path(scope), "route": route, "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
        query = _query_names(scope)
        if query:
            fields["query"] = query
        emit("http request", **fields)
