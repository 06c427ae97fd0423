"""Sign-in limits, checked *before* a password is hashed.

- :class:`LoginLimiter`: failed sign-ins per username and client address, per username,
  per client address, and all password checks of the app per minute. An attempt is
  counted when it is admitted (so concurrent guesses count at once); a successful
  sign-in takes its attempt back from the username and address counts.
- the counts live in an :class:`~hub.accounts.attempts.AttemptStore`: the application
  database's (what the web app uses: the limits hold across every process and instance
  on that database) or one process's memory (:mod:`hub.accounts.attempts`).
- :class:`CheckGate`: at most ``concurrency`` password checks (Argon2, 64 MiB each) at
  once; the others wait a few seconds in the event loop (holding no thread) or are
  turned away.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from hub.accounts.attempts import AttemptStore, LimitRule, MemoryAttemptStore

__all__ = ["CheckGate", "LoginLimiter"]


class LoginLimiter:
    """The sign-in rules over one :class:`AttemptStore` (see the module docstring)."""

    def __init__(self, *, pair: LimitRule, account: LimitRule, address: LimitRule,
                 everyone: LimitRule, store: AttemptStore | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = {"pair": pair, "account": account, "address": address,
                      "global": everyone}
        self.store: AttemptStore = store if store is not None else MemoryAttemptStore()
        self._clock = clock

    @staticmethod
    def _keys(username: str, client: str) -> dict[str, str]:
        return {"pair": f"pair\0{username}\0{client}", "account": f"account\0{username}",
                "address": f"address\0{client}", "global": "global"}

    def admit(self, username: str, client: str) -> tuple[float | None, float]:
        """(None, ticket) when this attempt may check a password, else (seconds to wait,
        ticket); the ticket goes to :meth:`succeeded`."""
        at = self._clock()
        keys = self._keys(username, client)
        wait = self.store.try_add([(keys[n], rule) for n, rule in self.rules.items()], at)
        return (None if wait is None else float(max(1, math.ceil(wait)))), at

    def succeeded(self, username: str, client: str, ticket: float) -> None:
        """A correct password: forget this pair's failures, and take the attempt back
        from the username and address counts (the global count keeps it)."""
        keys = self._keys(username, client)
        self.store.clear(keys["pair"])
        self.store.discard(keys["account"], ticket)
        self.store.discard(keys["address"], ticket)

    def withdrawn(self, username: str, client: str, ticket: float) -> None:
        """No password was checked after all (the gate was full): take the attempt back
        from the pair, username and address counts (the global count keeps it)."""
        keys = self._keys(username, client)
        for name in ("pair", "account", "address"):
            self.store.discard(keys[name], ticket)


class CheckGate:
    """At most ``concurrency`` password checks at once; a caller waits up to ``wait``
    seconds for a slot (at most ``queue`` callers wait), else it is turned away."""

    def __init__(self, concurrency: int, wait: float = 5.0, queue: int | None = None) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self.wait = wait
        self.queue = queue if queue is not None else 8 * concurrency
        self._waiting = 0
        self._lock = threading.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """``async with gate.slot() as ok``: ok is True while holding a slot."""
        acquired = self._slots.acquire(blocking=False)
        if not acquired:
            with self._lock:
                queued = self._waiting < self.queue
                self._waiting += queued
            if queued:
                try:
                    deadline = time.monotonic() + self.wait
                    while not acquired and time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                        acquired = self._slots.acquire(blocking=False)
                finally:
                    with self._lock:
                        self._waiting -= 1
        try:
            yield acquired
        finally:
            if acquired:
                self._slots.release()
