"""Error answers of the HTTP ingest API: RFC 9457 problem details.

Every error is ``application/problem+json`` with ``type`` (a URN naming the kind of
problem), ``title``, ``status``, ``detail`` and, for invalid input, ``errors`` (each
field and the rule it breaks, never its value). :func:`from_hub_error` answers a hub
error by the branch of the exception tree it sits on (see :mod:`hub.errors`): invalid
input 422, conflicts 409, backpressure 429, anything unavailable 503 (also a broker that
refuses the hub's TLS, SASL or ACLs: the source can only retry, the log tells the
operator which setting to check), and every other
error, a fault of the hub itself, 500 with the request's ``trace_id`` (also in the
``X-Trace-Id`` header, see :mod:`hub.request_log`) that the log line carries too and no
detail in the body.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi.responses import JSONResponse

from connectors.sources.http_models import safe_field
from hub.audit import new_trace_id
from hub.errors import (
    Backpressure,
    BusAccessDenied,
    Conflict,
    EventIdReused,
    FieldError,
    HubError,
    InFlight,
    IntakeError,
    InvalidInput,
    KeyReused,
    Unavailable,
)
from hub.request_log import TRACE_HEADER, current_trace_id

__all__ = ["PROBLEM_JSON", "ApiError", "field", "from_hub_error", "internal_error", "invalid"]

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_TYPES = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 409: "conflict", 413: "too-large",
          415: "unsupported-media-type", 422: "invalid-fields", 429: "busy",
          500: "internal-error", 503: "unavailable"}


def _type(status: int, kind: str | None) -> str:
    return f"urn:signalhub:problem:{kind or _TYPES.get(status, 'http-' + str(status))}"


class ApiError(Exception):
    """An error answer: status, detail, invalid fields, extra headers and members."""

    def __init__(self, status: int, detail: str, *, errors: Sequence[dict[str, Any]] = (),
                 headers: dict[str, str] | None = None, kind: str | None = None,
                 **members: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.errors, self.headers, self.members = list(errors), headers or {}, members

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": _type(self.status, self.kind),
                                "title": HTTPStatus(self.status).phrase,
                                "status": self.status, "detail": self.detail}
        if self.errors or self.status == 422:
            body["errors"] = self.errors
        body.update(self.members)
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), self.status, headers=self.headers,
                            media_type=PROBLEM_JSON)


def field(name: str, message: str, index: int | None = None) -> dict[str, Any]:
    """One invalid field of an answer (``index``: its position in a batch)."""
    problem: dict[str, Any] = {"field": safe_field(name.split(".")), "message": message}
    if index is not None:
        problem["index"] = index
    return problem


def invalid(errors: list[dict[str, Any]]) -> ApiError:
    """422 naming every invalid field; nothing was published."""
    return ApiError(422, f"{len(errors)} invalid field(s); nothing was published",
                    errors=errors)


def internal_error(exc: BaseException) -> ApiError:
    """500 for a fault of the hub: the log has the trace, the body only its id."""
    trace_id = current_trace_id() or new_trace_id()
    log.error("request failed: internal error", error=type(exc).__name__, trace_id=trace_id,
              exc_info=exc)
    return ApiError(500, "the hub failed to handle this request; nothing was published."
                    " Report the trace_id to the hub's operator.", trace_id=trace_id,
                    headers={TRACE_HEADER: trace_id})


def _field_errors(errors: Sequence[FieldError], index: int | None) -> list[dict[str, Any]]:
    return [field(e.field, e.message, index) for e in errors]


def from_hub_error(exc: HubError, index: int | None = None) -> ApiError:
    """The answer to a hub error, by its branch of the exception tree."""
    if isinstance(exc, Backpressure):
        return ApiError(429, "the bus is busy; retry later", kind="busy",
                        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    if isinstance(exc, BusAccessDenied):  # the hub's own settings: the operator acts
        log.error("request failed: the broker refused the hub", error=str(exc))
        return ApiError(503, "the hub cannot reach its bus right now; retry later",
                        headers={"Retry-After": "30"})
    if isinstance(exc, Unavailable):
        log.warning("request failed: unavailable", error=type(exc).__name__)
        return ApiError(503, "the hub cannot take events right now; retry later",
                        headers={"Retry-After": "5"})
    if isinstance(exc, IntakeError):
        return invalid(_field_errors(exc.errors, index))
    if isinstance(exc, KeyReused):
        return invalid([field("Idempotency-Key", str(exc))])
    if isinstance(exc, InvalidInput):
        return invalid([field("(body)", str(exc), index)])
    if isinstance(exc, EventIdReused):
        position = exc.index if exc.index is not None else index
        return ApiError(409, str(exc), kind="event-id-reused", event_id=exc.event_id,
                        errors=[field("event_id", "sent before with different content",
                                      position)])
    if isinstance(exc, InFlight):
        return ApiError(409, str(exc), kind="in-progress", headers={"Retry-After": "1"})
    if isinstance(exc, Conflict):
        return ApiError(409, str(exc))
    return internal_error(exc)
