"""Sign-in attempts per key: where the web app's sign-in limits (:mod:`hub.web.limits`) count.

- :class:`LimitRule`: at most ``limit`` entries under one key in ``window`` seconds;
- :class:`AttemptStore` is where the counts live: :class:`DatabaseAttemptStore` in the
  application database (what the web app uses: the limits hold across every process and
  instance on that database; times are wall-clock seconds, comparable across machines;
  the retention run purges old ones), or :class:`MemoryAttemptStore` in this process
  (bounded: old entries expire, idle keys are dropped).
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from hub.accounts.tables import ATTEMPTS
from hub.store import Database

__all__ = ["AttemptStore", "DatabaseAttemptStore", "LimitRule", "MemoryAttemptStore"]


@dataclass(frozen=True, slots=True)
class LimitRule:
    """At most ``limit`` entries under one key in the last ``window`` seconds."""

    limit: int
    window: float


class AttemptStore(Protocol):
    """Timestamps of attempts per key. Implementations make :meth:`try_add` atomic."""

    def try_add(self, keys: Sequence[tuple[str, LimitRule]], at: float) -> float | None:
        """If every key is under its rule, add ``at`` to each and return None; else add
        nothing and return the seconds until the blocking key frees a slot."""

    def discard(self, key: str, at: float) -> None:
        """Take back the entry ``at`` of ``key`` (if it is still there)."""

    def clear(self, key: str) -> None:
        """Forget every entry of ``key``."""


class MemoryAttemptStore:
    """:class:`AttemptStore` in this process's memory, bounded by ``max_keys`` keys of at
    most their rule's ``limit`` entries each; expired entries and empty keys are dropped."""

    def __init__(self, max_keys: int = 20_000, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.max_keys = max_keys
        self._clock = clock
        self._keys: OrderedDict[str, tuple[float, deque[float]]] = OrderedDict()
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._keys)

    def _recent(self, key: str, window: float, now: float) -> deque[float]:
        entry = self._keys.get(key)
        times = entry[1] if entry else deque()
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def _sweep(self, now: float) -> None:
        """Drop keys without a live entry; then the least recently used over the bound."""
        if now >= self._next_sweep or len(self._keys) > self.max_keys:
            for key in [k for k, (w, t) in self._keys.items() if not t or t[-1] <= now - w]:
                del self._keys[key]
            self._next_sweep = now + 10.0
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def try_add(self, keys: Sequence[tuple[str, LimitRule]], at: float) -> float | None:
        with self._lock:
            now = self._clock()
            wait = 0.0
            recent = [(key, rule, self._recent(key, rule.window, now)) for key, rule in keys]
            for _, rule, times in recent:
                if len(times) >= rule.limit:
                    wait = max(wait, times[len(times) - rule.limit] + rule.window - now)
            if wait > 0:
                return wait
            for key, rule, times in recent:
                times.append(at)
                self._keys[key] = (rule.window, times)
                self._keys.move_to_end(key)
            self._sweep(now)
            return None

    def discard(self, key: str, at: float) -> None:
        with self._lock:
            entry = self._keys.get(key)
            if entry is not None and at in entry[1]:
                entry[1].remove(at)

    def clear(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


class DatabaseAttemptStore:
    """:class:`AttemptStore` in the ``login_attempts`` table of the application database:
    one row per (key, time), the key as its SHA-256 (the table holds no username or
    address). :meth:`try_add` counts and adds in one write transaction;
    on PostgreSQL it first takes a transaction-scoped advisory lock per key (in a fixed
    order), so two instances admitting at once cannot both take the last slot. Entries
    older than the longest window of the keys at hand are deleted as it goes;
    :meth:`purge` deletes the rest (the retention run)."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def try_add(self, keys: Sequence[tuple[str, LimitRule]], at: float) -> float | None:
        keys = [(_digest(key), rule) for key, rule in keys]
        with self._db.transaction() as conn:
            if self._db.backend == "postgresql":
                for lock in sorted({zlib.crc32(key.encode()) for key, _ in keys}):
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                                 {"ns": _LOCK_NAMESPACE, "key": lock - 2**31})
            now = self._clock()
            oldest = now - max(rule.window for _, rule in keys) if keys else now
            conn.execute(sa.delete(ATTEMPTS).where(ATTEMPTS.c.key.in_([k for k, _ in keys]),
                                                   ATTEMPTS.c.at <= oldest))
            wait = 0.0
            for key, rule in keys:
                times = conn.execute(
                    sa.select(ATTEMPTS.c.at).where(ATTEMPTS.c.key == key,
                                                   ATTEMPTS.c.at > now - rule.window)
                    .order_by(ATTEMPTS.c.at.desc()).limit(rule.limit)).scalars().all()
                if len(times) >= rule.limit:  # the oldest of the newest `limit` frees first
                    wait = max(wait, float(times[-1]) + rule.window - now)
            if wait > 0:
                return wait
            conn.execute(sa.insert(ATTEMPTS), [{"key": key, "at": at} for key, _ in keys])
            return None

    def discard(self, key: str, at: float) -> None:
        one = (sa.select(ATTEMPTS.c.id).where(ATTEMPTS.c.key == _digest(key),
                                              ATTEMPTS.c.at == at)
               .limit(1).scalar_subquery())
        with self._db.transaction() as conn:
            conn.execute(sa.delete(ATTEMPTS).where(ATTEMPTS.c.id == one))

    def clear(self, key: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(sa.delete(ATTEMPTS).where(ATTEMPTS.c.key == _digest(key)))

    def purge(self, before: float) -> int:
        """Delete the attempts made before ``before`` (seconds since the epoch)."""
        with self._db.transaction() as conn:
            return int(conn.execute(sa.delete(ATTEMPTS).where(ATTEMPTS.c.at < before))
                       .rowcount)


#: the first key of the advisory locks :class:`DatabaseAttemptStore` takes on PostgreSQL
_LOCK_NAMESPACE = 0x4C6F67


def _digest(key: str) -> str:
    """What the table keeps of a key: its SHA-256 (no username or address in clear)."""
    return hashlib.sha256(key.encode()).hexdigest()
