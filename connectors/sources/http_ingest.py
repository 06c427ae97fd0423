"""HTTP ingest: source systems post signals and consents over a small JSON API.

:func:`create_app` builds the FastAPI app (run it with :func:`hub.serving.serve`;
the main job, :class:`hub.app.HubProcess`, starts and stops it beside its other servers).
What each endpoint does, its status codes and its idempotency are in
``docs/http-api.md``; the OpenAPI document is served at
``/openapi.json`` and kept in ``docs/openapi.json``
(``python -m connectors.sources.http_ingest --write-openapi docs/openapi.json``).

A 202 is sent only once the events are durable on the bus. Logs carry ids and counts,
never a BSN or any value a source sent.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from http import HTTPStatus
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import FastAPI, Header, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.sources.http_auth import Authorize, Key, authorizer
from connectors.sources.http_errors import PROBLEM_JSON, ApiError, internal_error
from connectors.sources.http_handlers import MAX_JSON_DEPTH, Ingest, Responses
from connectors.sources.http_models import Accepted, Problem, input_schemas, safe_field
from connectors.sources.http_outcomes import outcome_routes
from hub.connect import Connection, connect
from hub.metrics import HttpMetricsMiddleware, instrument_publisher
from hub.pseudonym import Pseudonymiser
from hub.request_log import RequestLogMiddleware
from hub.settings import Settings
from hub.sources import CONSENT_PERMISSION, SourceRegistry
from hub.state_layout import HTTP_CONSENT_LEDGER_FILE
from hub.store import Database
from hub.values import TEXT_PATTERN

__all__ = ["KINDS", "create_app"]

log = structlog.get_logger(__name__)

#: URL path part -> event type
KINDS = {"debt": "debt-signal", "eviction": "eviction-risk", "youth-care-exit": "youth-care-exit"}
_MODEL_NAMES = {"debt": "DebtSignal", "eviction": "EvictionRisk",
                "youth-care-exit": "YouthCareExit"}

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=255,
    description="Makes a retry safe: the same key (per source) gets the first answer again"
    " and publishes nothing more.")]
ConsentIdPath = Annotated[str, PathParam(min_length=1, max_length=100, pattern=TEXT_PATTERN,
                                         description="The consent's id, as granted.")]
_ACCEPTED = "Accepted: the events are durable on the bus (or were before: a replay)."


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before a retry.",
                                 "schema": {"type": "integer", "minimum": 1}}}


def _problem(detail: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"model": Problem, "description": detail,
                              "content": {PROBLEM_JSON: {}}}
    if headers:
        answer["headers"] = headers
    return answer


_COMMON: Responses = {
    400: _problem("A malformed request (e.g. an invalid Content-Length)."),
    401: _problem("No API key, or an unknown, wrong or revoked one."),
    403: _problem("The source may not send this event type."),
    409: _problem("A request with the same key is in progress (retry after Retry-After);"
                  " or an event id sent before with different content (not retried).",
                  _RETRY_AFTER),
    413: _problem("The body is too large, or the batch has too many signals."),
    415: _problem("The body is not sent as Content-Type: application/json."),
    422: _problem("Invalid fields (named, with the batch index); nothing published."),
    429: _problem("The bus is busy: retry after the Retry-After seconds.", _RETRY_AFTER),
    500: _problem("A fault of the hub; the body holds a trace_id for the operator."),
    503: _problem("The bus, the schema registry or a store is unavailable; retry after"
                  " the Retry-After seconds.", _RETRY_AFTER),
}
_REPLAYED = {"Idempotent-Replayed": {
    "description": "true when the answer repeats an earlier one and nothing new was"
    " published.", "schema": {"type": "string", "enum": ["true"]}}}
_OK: Responses = {202: {"description": "Accepted", "headers": _REPLAYED}}


def _body(schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def _ledger_beside(store: Database | str | os.PathLike[str]) -> Path:
    """The default consent ledger: beside the idempotency store's SQLite file."""
    if isinstance(store, Database):
        folder = store.path.parent if store.path is not None else None
    else:
        text = os.fspath(store)
        folder = None if "://" in text else Path(text).parent
    if folder is None:
        raise ValueError("consent_ledger_path is needed when the idempotency store is no"
                         " SQLite file")
    return folder / HTTP_CONSENT_LEDGER_FILE


def create_app(
    conn: Connection,
    registry: SourceRegistry,
    pseudonymiser: Pseudonymiser | None,
    *,
    max_batch: int = 500,
    max_body_bytes: int = 1_000_000,
    idempotency_store_path: Database | str | os.PathLike[str],
    consent_ledger_path: str | os.PathLike[str] | None = None,
    idempotency_retention: timedelta = timedelta(days=30),
) -> FastAPI:
    """The ingest API over ``conn``, authenticating sources with ``registry``.

    BSNs are pseudonymised with ``pseudonymiser`` (None: only ``subject_ref`` works).
    The idempotency store (``idempotency_store_path``: the application
    :class:`~hub.store.Database`, a database URL or a SQLite file; entries kept for
    ``idempotency_retention``) and the consent ledger that DELETE /v1/consents reads
    (stream-local SQLite, followed by this app only; default:
    ``http-consent-ledger.db`` beside a SQLite store) are opened when the app starts
    (lifespan) and closed when it stops; the core topics are created then if missing.
    """
    if max_batch < 1 or max_body_bytes < 1:
        raise ValueError("max_batch and max_body_bytes must be positive")
    ledger_path = Path(consent_ledger_path) if consent_ledger_path else \
        _ledger_beside(idempotency_store_path)
    ingest = Ingest(conn, pseudonymiser, idempotency_store_path, ledger_path,
                    max_batch=max_batch, max_body_bytes=max_body_bytes,
                    retention=idempotency_retention)
    instrument_publisher(ingest.publisher, "ingest")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(ingest.open)
        except Exception as exc:
            app.state.startup_error = exc
            await run_in_threadpool(ingest.close)
            raise
        log.info("http ingest started", bus=conn.bus.kind, max_batch=max_batch,
                 max_body_bytes=max_body_bytes)
        try:
            yield
        finally:
            await run_in_threadpool(ingest.close)
            log.info("http ingest stopped")

    app = FastAPI(
        title="Signalhub ingest API",
        version=version("signalhub"),
        description="Source systems send prevention signals and consents to Signalhub."
        f" See docs/http-api.md. Bodies are JSON (Content-Type: application/json), at most"
        f" {max_body_bytes} bytes and {MAX_JSON_DEPTH} levels deep; errors are RFC 9457"
        " problem details (application/problem+json).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.startup_error = None
    app.add_middleware(HttpMetricsMiddleware, app_name="ingest")
    app.add_middleware(RequestLogMiddleware, app_name="ingest")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": safe_field(e.get("loc", ())), "message": str(e.get("msg", ""))}
                  for e in exc.errors()]
        return ApiError(422, "invalid request", errors=errors).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return ApiError(exc.status_code, detail, headers=dict(exc.headers or {})).response()

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return internal_error(exc).response()

    authorize = authorizer(registry)
    for kind, event_type in KINDS.items():
        _signal_routes(app, ingest, authorize, kind, event_type)

    @app.post("/v1/consents", status_code=202, response_model=Accepted, tags=["consents"],
              responses={**_COMMON, **_OK}, openapi_extra=_body("ConsentGrant"),
              operation_id="grant_consent", summary="Record a granted consent",
              response_description=_ACCEPTED)
    async def grant_consent(request: Request, key: Key,
                            idempotency_key: IdempotencyKey = None) -> JSONResponse:
        """Publish a GRANTED consent to consent.v1 (needs the `consent` permission)."""
        source = await authorize(request, key, CONSENT_PERMISSION)
        body = await ingest.read_json(request)
        return await run_in_threadpool(ingest.grant, source, body, idempotency_key)

    @app.delete("/v1/consents/{consent_id}", status_code=202, response_model=Accepted,
                tags=["consents"], operation_id="withdraw_consent",
                responses={**{k: v for k, v in _COMMON.items() if k not in (413, 415)},
                           **_OK,
                           404: _problem("No such consent of this source.")},
                summary="Withdraw a consent", response_description=_ACCEPTED)
    async def withdraw_consent(request: Request, consent_id: ConsentIdPath, key: Key,
                               idempotency_key: IdempotencyKey = None) -> JSONResponse:
        """Publish a WITHDRAWN change for a consent this source recorded; it takes effect
        at once. Withdrawing again answers with the same event id."""
        source = await authorize(request, key, CONSENT_PERMISSION)
        return await run_in_threadpool(ingest.withdraw, source, consent_id, idempotency_key)

    outcome_routes(app, conn, authorize)

    @app.get("/healthz", tags=["operations"], operation_id="healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the API answers."""
        return {"status": "ok"}

    extra = input_schemas()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(extra)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _signal_routes(app: FastAPI, ingest: Ingest, authorize: Authorize, kind: str,
                   event_type: str) -> None:
    """POST /v1/signals/<kind> and /v1/signals/<kind>/batch."""
    name = _MODEL_NAMES[kind]
    op = kind.replace("-", "_")

    async def post_one(request: Request, key: Key,
                       idempotency_key: IdempotencyKey = None) -> JSONResponse:
        source = await authorize(request, key, event_type)
        body = await ingest.read_json(request)
        return await run_in_threadpool(ingest.signals, source, event_type, [body],
                                       request.url.path, idempotency_key, False)

    async def post_batch(request: Request, key: Key,
                         idempotency_key: IdempotencyKey = None) -> JSONResponse:
        source = await authorize(request, key, event_type)
        body = await ingest.read_json(request)
        signals = ingest.batch_items(body)
        return await run_in_threadpool(ingest.signals, source, event_type, signals,
                                       request.url.path, idempotency_key, True)

    post_one.__doc__ = (f"Publish one {event_type} signal to its topic; 202 once durable."
                        " Send `bsn` + `municipality_code` or `subject_ref`.")
    post_batch.__doc__ = (f"Publish up to max_batch {event_type} signals at once: all are"
                          " accepted, or none (422 names each bad field and its index).")
    app.add_api_route(f"/v1/signals/{kind}", post_one, methods=["POST"], status_code=202,
                      response_model=Accepted, responses={**_COMMON, **_OK}, tags=["signals"],
                      openapi_extra=_body(f"{name}In"), operation_id=f"post_{op}",
                      summary=f"Send one {event_type} signal", response_description=_ACCEPTED)
    app.add_api_route(f"/v1/signals/{kind}/batch", post_batch, methods=["POST"],
                      status_code=202, response_model=Accepted, responses={**_COMMON, **_OK},
                      tags=["signals"], openapi_extra=_body(f"{name}Batch"),
                      operation_id=f"post_{op}_batch", response_description=_ACCEPTED,
                      summary=f"Send a batch of {event_type} signals")


# --- running ---------------------------------------------------------------------------




def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app (built over a throw-away embedded hub)."""
    with tempfile.TemporaryDirectory() as tmp, \
            connect(Settings(bus=f"embedded:{tmp}/hub.db")) as conn, \
            SourceRegistry(Path(tmp) / "sources.db") as registry:
        app = create_app(conn, registry, None, idempotency_store_path=Path(tmp) / "idem.db")
        return app.openapi()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connectors.sources.http_ingest")
    parser.add_argument("--write-openapi", metavar="FILE", type=Path, required=True,
                        help="write the OpenAPI document to FILE (e.g. docs/openapi.json)")
    args = parser.parse_args(argv)
    args.write_openapi.write_text(json.dumps(openapi_document(), indent=2) + "\n")
    print(f"wrote {args.write_openapi}")


if __name__ == "__main__":
    main()
