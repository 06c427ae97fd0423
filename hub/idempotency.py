"""The store that makes a source's requests idempotent, on the store layer
(:mod:`hub.store`; table ``idempotency``, branch ``idempotency``): shared by every
instance of a hub on PostgreSQL, so the same event id sent to two instances is
accepted once.

Keys are scoped per source: ``(source_id, key)``. A key is an event id
(``event:<uuid>``) or a request's ``Idempotency-Key`` (``request:<key>``). Using one:

1. :meth:`IdempotencyStore.begin` looks the keys up in one transaction: a key that is
   done returns its stored response (replay it, publish nothing); a key that is new is
   reserved (*pending*); a key another request holds pending raises :class:`InFlight`;
   a key done with another fingerprint raises :class:`KeyReused` (a request key) or
   :class:`EventIdReused` (an event id sent again with different content).
2. After the events are durable on the bus, :meth:`complete` stores the responses;
   after a failure, :meth:`release` frees the reservations so a retry can publish.

Each reservation records its *owner*, the process instance that made it
(``host/pid/token``, see :func:`process_instance`). A process that dies (crash,
``kill -9``) between publishing and :meth:`complete` leaves its keys pending; they are
free again at once when the owner is known to be gone: a store opened by a restarted
process frees its predecessor's reservations, and :meth:`begin` frees those of a dead
process on the same host. Reservations of an owner that cannot be checked (another
host, rows from before owners were recorded) are free after ``pending_timeout``
seconds. A retry of such a request may publish its events a second time, under the
same event ids (the HTTP API derives them from the Idempotency-Key when the source
sends none), and every later stage is idempotent on ``event_id``. A freed key that
comes back with another fingerprint is refused as a reused key, since its first
request may have been published. Entries older than ``retention``
(``HUB_IDEMPOTENCY_RETENTION_DAYS``) are deleted (:meth:`IdempotencyStore.purge`, and
now and then by the store itself). Nothing
personal is stored: keys, a fingerprint of the pseudonymised request and the response
(event ids).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import EventIdReused, IdempotencyError, InFlight, KeyReused, StoreUnavailable
from hub.store import Database, open_database

__all__ = ["IdempotencyError", "IdempotencyStore", "InFlight", "KeyReused", "owner_gone",
           "process_instance"]

_PRUNE_EVERY = 1000
_HOST = socket.gethostname()
#: the owner of a reservation freed because its process was gone (kept for its fingerprint)
FREED = "-"
_instance: tuple[int, str] | None = None


def process_instance() -> str:
    """``host/pid/token`` of this process: the token is new in every process, so a
    restarted process that got the same pid (in a container: pid 1) is another owner."""
    global _instance
    if _instance is None or _instance[0] != os.getpid():
        _instance = (os.getpid(), f"{_HOST}/{os.getpid()}/{uuid.uuid4().hex[:16]}")
    return _instance[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is another user's
        return True
    return True


def owner_gone(owner: str | None) -> bool:
    """True when ``owner`` is known to have ended: a process on this host that no longer
    runs, or an earlier process with this process's pid. False when it cannot be told."""
    if owner == FREED:
        return True
    if not owner:
        return False
    host, _, rest = owner.partition("/")
    pid_text, _, _ = rest.partition("/")
    if host != _HOST or not pid_text.isdigit():
        return False
    if int(pid_text) == os.getpid():
        return owner != process_instance()
    return not _pid_alive(int(pid_text))


class IdempotencyStore:
    """(source_id, key) -> response in ``database``: a :class:`~hub.store.Database`
    (shared), a database URL or a SQLite file path; thread-safe."""

    def __init__(
        self,
        database: Database | str | os.PathLike[str],
        *,
        retention: timedelta = timedelta(days=30),
        pending_timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retention = retention
        self.pending_timeout = pending_timeout
        #: wall-clock seconds (``created_at`` is compared across instances)
        self._clock = clock
        self._lock = threading.Lock()
        self._writes = 0
        self.owner = process_instance()
        try:
            self._db = open_database(database)
        except StoreUnavailable as exc:
            raise IdempotencyError(f"cannot open idempotency store: {exc}") from None
        #: the SQLite file (None on PostgreSQL)
        self.path: Path | None = self._db.path
        self._for_update = " FOR UPDATE" if self._db.backend == "postgresql" else ""
        self.prune()
        self.free_orphans()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> IdempotencyStore:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._db.transaction() as conn:
                yield conn
        except SQLAlchemyError as exc:  # StoreUnavailable is an IdempotencyError's kin
            raise IdempotencyError(f"idempotency store unavailable: {type(exc).__name__}"
                                   ) from exc
        except StoreUnavailable as exc:
            raise IdempotencyError(f"idempotency store unavailable: {exc}") from None

    def begin(self, source_id: str, keys: Mapping[str, str | None]) -> dict[str, Any]:
        """Reserve the new keys; return the stored response of each key already done.

        ``keys`` maps each key to the fingerprint of what it stands for (None: not
        checked). A done key whose stored fingerprint differs raises :class:`KeyReused`
        (a request key) or :class:`EventIdReused` (an event key); a key another request
        holds raises :class:`InFlight`, also one that another instance reserved at the
        same moment. Nothing is reserved when it raises.
        """
        now = self._clock()
        done: dict[str, Any] = {}
        with self._write() as conn:
            for key, fingerprint in keys.items():
                where = {"source_id": source_id, "key": key}
                row = conn.execute(text(
                    "SELECT done, fingerprint, response, created_at, owner FROM idempotency"
                    " WHERE source_id = :source_id AND key = :key" + self._for_update),
                    where).first()
                if row is not None and not row[0] and now - row[3] < self.pending_timeout \
                        and not owner_gone(row[4]):
                    raise InFlight(key)
                if row is not None and None not in (fingerprint, row[1]) \
                        and row[1] != fingerprint:
                    kind, _, name = key.partition(":")
                    raise KeyReused(key) if kind == "request" else EventIdReused(name)
                if row is not None and row[0]:
                    done[key] = json.loads(row[2])
                    continue
                values = {**where, "fingerprint": fingerprint, "now": now, "owner": self.owner}
                if row is None:
                    taken = conn.execute(text(
                        "INSERT INTO idempotency (source_id, key, done, fingerprint, response,"
                        " created_at, owner) VALUES (:source_id, :key, 0, :fingerprint, NULL,"
                        " :now, :owner) ON CONFLICT (source_id, key) DO NOTHING"), values)
                    if taken.rowcount == 0:  # another instance reserved it just now
                        raise InFlight(key)
                else:  # a reservation that is free again: take it over
                    conn.execute(text(
                        "UPDATE idempotency SET done = 0, fingerprint = :fingerprint,"
                        " response = NULL, created_at = :now, owner = :owner"
                        " WHERE source_id = :source_id AND key = :key"), values)
        return done

    def complete(self, source_id: str, responses: Mapping[str, Any]) -> None:
        """Mark keys done with their responses (JSON-serialisable)."""
        if not responses:
            return
        with self._write() as conn:
            conn.execute(text(
                "UPDATE idempotency SET done = 1, response = :response"
                " WHERE source_id = :source_id AND key = :key"),
                [{"response": json.dumps(r, sort_keys=True), "source_id": source_id, "key": k}
                 for k, r in responses.items()])
        with self._lock:
            self._writes += len(responses)
            due = self._writes >= _PRUNE_EVERY
            if due:
                self._writes = 0
        if due:
            self.prune()

    def release(self, source_id: str, keys: Sequence[str]) -> None:
        """Free pending reservations (after a failure); done keys stay."""
        if not keys:
            return
        with self._write() as conn:
            conn.execute(text(
                "DELETE FROM idempotency WHERE source_id = :source_id AND key = :key"
                " AND done = 0"), [{"source_id": source_id, "key": k} for k in keys])

    def free_orphans(self) -> int:
        """Free the pending reservations of owners known to be gone (a crashed
        predecessor of this process); return how many. A freed key keeps its
        fingerprint: the same request may take it, another one is refused."""
        freed = 0
        with self._write() as conn:
            owners = conn.execute(text(
                "SELECT DISTINCT owner FROM idempotency WHERE done = 0 AND owner IS NOT NULL"
                " AND owner != :freed"), {"freed": FREED}).scalars().all()
            for owner in owners:
                if owner_gone(owner):
                    freed += conn.execute(text(
                        "UPDATE idempotency SET owner = :freed WHERE done = 0"
                        " AND owner = :owner"), {"freed": FREED, "owner": owner}).rowcount
        return freed

    def purge(self, before: datetime) -> int:
        """Delete the entries made before ``before`` (done or not); return how many."""
        with self._write() as conn:
            return conn.execute(text("DELETE FROM idempotency WHERE created_at < :cutoff"),
                                {"cutoff": before.timestamp()}).rowcount

    def prune(self) -> int:
        """Forget entries older than ``retention``; return how many."""
        return self.purge(datetime.fromtimestamp(
            self._clock() - self.retention.total_seconds(), UTC))
