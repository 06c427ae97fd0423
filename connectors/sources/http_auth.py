"""Who is calling the ingest API: the API key of a request and the source it belongs to.

A key comes as ``Authorization: Bearer sk_...`` or ``X-API-Key: sk_...`` (:data:`Key`,
a FastAPI dependency); :func:`authorizer` checks it against the source registry and the
permission a route needs: 401 without a key or with an unknown, wrong or revoked one,
403 when the source lacks the permission.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from connectors.sources.http_errors import ApiError
from hub.events import EVENT_TYPES
from hub.sources import CONSENT_PERMISSION, SourceInfo, SourceRegistry

__all__ = ["Authorize", "Key", "authorizer"]

log = structlog.get_logger(__name__)

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer sk_...`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: sk_...`")


def _credentials(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> str | None:
    """The API key from ``Authorization: Bearer`` or ``X-API-Key``."""
    return bearer.credentials if bearer is not None else api_key


#: the request's API key (None: none sent)
Key = Annotated[str | None, Depends(_credentials)]
#: checks a request's key for a permission; the source, or an ApiError (401, 403)
Authorize = Callable[[Request, str | None, str], Awaitable[SourceInfo]]


def _refusal(source: SourceInfo, permission: str) -> str:
    if permission in EVENT_TYPES or permission == CONSENT_PERMISSION:
        return f"source {source.source_id} may not send {permission}"
    return f"source {source.source_id} lacks the {permission} permission"


def authorizer(registry: SourceRegistry) -> Authorize:
    """The check of a request's key against ``registry``."""

    async def authorize(request: Request, key: str | None, permission: str) -> SourceInfo:
        if not key:
            raise ApiError(401, "missing API key: send Authorization: Bearer <key> or"
                           " X-API-Key: <key>", headers={"WWW-Authenticate": "Bearer"})
        source = await run_in_threadpool(registry.authenticate, key)
        if source is None:
            log.info("request refused", reason="bad api key", path=request.url.path)
            raise ApiError(401, "unknown, wrong or revoked API key",
                           headers={"WWW-Authenticate": "Bearer"})
        if not source.may_send(permission):
            log.info("request refused", reason="not permitted", source_id=source.source_id,
                     permission=permission)
            raise ApiError(403, _refusal(source, permission))
        return source

    return authorize
