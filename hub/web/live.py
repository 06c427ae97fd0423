"""Server-sent events of the web app: one loop for every live page (the inbox list, a
case).

:func:`event_stream` asks ``poll`` (in the thread pool, about once a second) for the
events to send, each a (name, JSON text) pair. The stream ends after
:data:`STREAM_SECONDS` (the browser reconnects), when the app stops, when the browser
goes away, and with a ``signed-out`` event once the user's session no longer holds with
the same role and teams (checked every :data:`SESSION_CHECK_SECONDS`: a disabled or
signed-out user's open pages stop at once, on every instance).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from hub.accounts import User
from hub.web.auth import live_user

__all__ = ["SESSION_CHECK_SECONDS", "STREAM_SECONDS", "event_stream"]

#: how long one stream lasts before the browser reconnects (EventSource does that itself)
STREAM_SECONDS = 300.0
#: how often a stream checks that its user is still signed in
SESSION_CHECK_SECONDS = 2.0

#: the events to send now: (event name, JSON text) pairs, maybe none
Poll = Callable[[], Sequence[tuple[str, str]]]


def event_stream(request: Request, user: User, stopping: threading.Event,
                 poll: Poll) -> StreamingResponse:
    """The ``text/event-stream`` response of ``poll``'s events (see the module docstring)."""

    def still_signed_in() -> bool:
        now = live_user(request)
        return now is not None and now.role == user.role and now.teams == user.teams

    async def stream() -> AsyncIterator[str]:
        started = checked = time.monotonic()
        yield "retry: 3000\n\n"
        while not stopping.is_set() and time.monotonic() - started < STREAM_SECONDS:
            if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
                checked = time.monotonic()
                if not await run_in_threadpool(still_signed_in):
                    yield "event: signed-out\ndata: {}\n\n"
                    return
            for name, data in await run_in_threadpool(poll):
                yield f"event: {name}\ndata: {data}\n\n"
            for _ in range(10):
                if stopping.is_set() or await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no"})
