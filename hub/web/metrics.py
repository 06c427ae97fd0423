"""``/healthz`` (the process answers) and ``/readyz`` (the bus answers, the schema registry
confirms the ids in use) of the web app, and the Prometheus listener with ``/metrics``.

Health needs no session: it carries status words and error class names only. Metrics
are not served by the web app but by :func:`create_metrics_app` on a listener of their
own (``HUB_METRICS__ADDRESS``, default ``127.0.0.1:9464``), so a firewall can keep them
apart from the inbox; with ``HUB_METRICS__TOKEN`` set they also need
``Authorization: Bearer <token>`` (see ``docs/operations.md``).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from hub import metrics
from hub.bus.base import Bus
from hub.config import HubConfig
from hub.web.deps import WebDeps

__all__ = ["create_metrics_app", "router"]

router = APIRouter(tags=["operations"])


def _deps(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the bus lists its topics and the registry confirms every
    schema id this process writes or has read (registering again what it lost); else 503
    naming what failed (the error class only)."""
    deps = _deps(request)

    def check() -> dict[str, str]:
        checks: dict[str, str] = {}
        for name, probe in (("bus", deps.conn.bus.list_topics),
                            ("registry", deps.conn.registry.verify_ids)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"failed: {type(exc).__name__}"
        return checks

    checks = await run_in_threadpool(check)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


def create_metrics_app(bus: Bus | None, config: HubConfig | None,
                       token: SecretStr | None = None) -> FastAPI:
    """An app with only ``GET /metrics``: the hub's metrics, plus consumer lag read from
    ``bus`` for the groups of ``config``; 401 without the bearer ``token`` when set."""
    app = FastAPI(title="Signalhub metrics", docs_url=None, redoc_url=None, openapi_url=None)
    expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    @app.get("/metrics")
    async def prometheus_metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(expected, given):
                return Response("a bearer token is needed\n", 401, media_type="text/plain",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})

        def render() -> bytes:
            groups = metrics.consumer_groups(config) if config is not None else []
            try:
                return metrics.exposition(bus, groups)
            except Exception:  # the bus is down: the process's own metrics still count
                return metrics.exposition()

        return Response(await run_in_threadpool(render), media_type=metrics.CONTENT_TYPE)

    return app
