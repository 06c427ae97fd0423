"""Supervision of the hub's long-running components (routers, sinks, sealed intake).

A :class:`Supervisor` runs one component in a thread of its own. When the component
raises, the supervisor logs it, closes the component and builds a new one after a
backoff (``initial`` seconds, doubling up to ``ceiling``; back to ``initial`` once a run
lasted ``healthy_after`` seconds), so a broker outage or a registry hiccup costs a pause,
never the hub. A new instance starts from the group's committed offsets (the old one's
consumer is closed), so nothing read but not committed is skipped. Only a
:class:`~hub.errors.ConfigError` (a setting or configuration file that will not get
better by waiting) ends the hub: ``on_fatal`` is called, and the supervisor stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

from hub.errors import ConfigError, Unavailable

__all__ = ["Supervisor"]

log = structlog.get_logger(__name__)

C = TypeVar("C")


@dataclass
class Supervisor(Generic[C]):
    """Run ``run(component)`` until ``stop`` is set; rebuild with ``build`` after a failure.

    ``first`` is an instance built already (so that a configuration error surfaces
    at start); ``close`` is called on every instance when it is done with, also at the
    end (after ``run`` returned because ``stop`` was set).
    """

    name: str
    build: Callable[[], C]
    run: Callable[[C], None]
    close: Callable[[C], None]
    stop: threading.Event
    on_fatal: Callable[[BaseException], None]
    first: C | None = None
    initial: float = 0.5
    ceiling: float = 10.0
    healthy_after: float = 30.0
    #: how often the component was restarted after a failure
    restarts: int = 0
    #: the live instance (None between a failure and the next build, and at the end)
    current: C | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        return self._thread

    def _loop(self) -> None:
        delay = self.initial
        component, self.first = self.first, None
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                if component is None:
                    component = self.build()
                self.current = component
                self.run(component)
                return  # ended by itself (stop, or an idle exit)
            except ConfigError as exc:
                log.error("component stopped: configuration error; the hub stops",
                          component=self.name, error=type(exc).__name__, detail=str(exc))
                self.on_fatal(exc)
                return
            except Exception as exc:  # noqa: BLE001 - supervised: restart, never end the hub
                if time.monotonic() - started >= self.healthy_after:
                    delay = self.initial
                self.restarts += 1
                transient = isinstance(exc, Unavailable)
                (log.warning if transient else log.error)(
                    "component failed; restarting", component=self.name,
                    error=type(exc).__name__, detail=str(exc)[:300], retry_in=delay,
                    restarts=self.restarts, exc_info=not transient)
            finally:
                self.current = None
                if component is not None:
                    self._close(component)
                component = None
            self.stop.wait(delay)
            delay = min(delay * 2, self.ceiling)

    def _close(self, component: C) -> None:
        try:
            self.close(component)
        except Exception as exc:  # noqa: BLE001 - closing a failed instance must not raise
            log.warning("component did not close cleanly", component=self.name,
                        error=type(exc).__name__)

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
