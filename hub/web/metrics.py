"""``/metrics`` (Prometheus text format), ``/healthz`` (the process answers) and
``/readyz`` (the bus and the schema registry answer) of the web app.

None of them needs a session: they carry counts, reason codes and topic names only
(see ``docs/operations.md``). Put them behind the network's own access rules.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hub import metrics
from hub.web.deps import WebDeps

__all__ = ["router"]

router = APIRouter(tags=["operations"])


def _deps(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    deps = _deps(request)

    def render() -> bytes:
        groups = metrics.consumer_groups(deps.config)
        try:
            return metrics.exposition(deps.conn.bus, groups)
        except Exception:  # the bus is down: the process's own metrics still count
            return metrics.exposition()

    return Response(await run_in_threadpool(render), media_type=metrics.CONTENT_TYPE)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the bus lists its topics and the registry its subjects; else
    503 naming what failed (the error class only)."""
    deps = _deps(request)

    def check() -> dict[str, str]:
        checks: dict[str, str] = {}
        for name, probe in (("bus", deps.conn.bus.list_topics),
                            ("registry", deps.conn.registry.subjects)):
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
