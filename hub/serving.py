"""Running an ASGI app with uvicorn in a background thread: one helper for every app.

The HTTP ingest API (:mod:`connectors.sources.http_ingest`), the web app
(:mod:`hub.web.app`) and the metrics endpoint all start with :func:`serve` and end with
:func:`stop`. Uvicorn's own logging config is off (``log_config=None``): its loggers go
through the hub's logging (:mod:`hub.logging`).
"""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.applications import Starlette

from hub.errors import HubError

__all__ = ["serve", "server_address", "stop"]


def serve(
    app: Starlette, host: str = "127.0.0.1", port: int = 8080, *, timeout: float = 60.0,
    proxy_headers: bool = True, forwarded_allow_ips: list[str] | None = None,
    name: str = "http server",
) -> tuple[uvicorn.Server, threading.Thread]:
    """Start uvicorn on ``host:port`` (port 0: a free one, see :func:`server_address`)
    in a background thread; return once it accepts connections. Raises HubError (with
    the cause, e.g. the app's ``state.startup_error``) when it cannot start. End it with
    :func:`stop`. ``proxy_headers`` and ``forwarded_allow_ips`` are uvicorn's: whose
    X-Forwarded-* headers are believed. ``name`` names the thread and the errors."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="on", ws="none", timeout_graceful_shutdown=10,
                            proxy_headers=proxy_headers,
                            forwarded_allow_ips=forwarded_allow_ips)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"{name.replace(' ', '-')}-{port}",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            stop(server, thread)
            cause = getattr(app.state, "startup_error", None)
            raise HubError(f"{name} did not start on {host}:{port}"
                           + (f": {cause}" if cause else "")) from cause
        time.sleep(0.01)
    return server, thread


def server_address(server: uvicorn.Server) -> tuple[str, int]:
    """(host, port) the server listens on (the real port when started with port 0)."""
    sockets = [s for srv in server.servers for s in (srv.sockets or ())]
    host, port = sockets[0].getsockname()[:2]
    return str(host), int(port)


def stop(server: uvicorn.Server, thread: threading.Thread, timeout: float = 30.0) -> None:
    """Stop accepting, finish requests in progress, close the app's resources, join."""
    server.should_exit = True
    thread.join(timeout)
    if thread.is_alive():
        server.force_exit = True
        thread.join(timeout)
