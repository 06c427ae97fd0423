"""A small SQLite store that makes a source's requests idempotent.

Keys are scoped per source: ``(source_id, key)``. A key is an event id
(``event:<uuid>``) or a request's ``Idempotency-Key`` (``request:<key>``). Using one:

1. :meth:`IdempotencyStore.begin` looks the keys up in one transaction: a key that is
   done returns its stored response (replay it, publish nothing); a key that is new is
   reserved (*pending*); a key another request holds pending raises :class:`InFlight`;
   a key done with another fingerprint raises :class:`KeyReused` (a request key) or
   :class:`EventIdReused` (an event id sent again with different content).
2. After the events are durable on the bus, :meth:`complete` stores the responses;
   after a failure, :meth:`release` frees the reservations so a retry can publish.

A request that dies between publishing and :meth:`complete` leaves its keys pending;
after ``pending_timeout`` seconds they count as free again, so a retry may publish the
events a second time (at-least-once: every later stage is idempotent on ``event_id``).
Entries older than ``retention`` are pruned. Nothing personal is stored: keys, a
fingerprint of the pseudonymised request and the response (event ids).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from hub.errors import EventIdReused, IdempotencyError, InFlight, KeyReused
from hub.sqlite import open_database, write_transaction

__all__ = ["IdempotencyError", "IdempotencyStore", "InFlight", "KeyReused"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    source_id TEXT NOT NULL,
    key TEXT NOT NULL,
    done INTEGER NOT NULL,
    fingerprint TEXT,
    response TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID
"""
_PRUNE_EVERY = 1000


class IdempotencyStore:
    """(source_id, key) -> response, in the SQLite file ``path``; thread-safe."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: timedelta = timedelta(days=30),
        pending_timeout: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.retention = retention
        self.pending_timeout = pending_timeout
        self._lock = threading.Lock()
        self._writes = 0
        try:
            self._db = open_database(self.path)
            with write_transaction(self._db, self._lock) as db:
                db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise IdempotencyError(f"cannot open idempotency store {self.path}: {exc}") from exc
        self.prune()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> IdempotencyStore:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._db, self._lock, lambda why: IdempotencyError(
                f"idempotency store unavailable: {why}")) as db:
            yield db

    def begin(self, source_id: str, keys: Mapping[str, str | None]) -> dict[str, Any]:
        """Reserve the new keys; return the stored response of each key already done.

        ``keys`` maps each key to the fingerprint of what it stands for (None: not
        checked). A done key whose stored fingerprint differs raises :class:`KeyReused`
        (a request key) or :class:`EventIdReused` (an event key); a key another request
        holds raises :class:`InFlight`. Nothing is reserved when it raises.
        """
        now = time.time()
        done: dict[str, Any] = {}
        with self._write() as db:
            for key, fingerprint in keys.items():
                row = db.execute(
                    "SELECT done, fingerprint, response, created_at FROM idempotency"
                    " WHERE source_id = ? AND key = ?", (source_id, key),
                ).fetchone()
                if row is not None and row[0]:
                    if None not in (fingerprint, row[1]) and row[1] != fingerprint:
                        kind, _, name = key.partition(":")
                        raise KeyReused(key) if kind == "request" else EventIdReused(name)
                    done[key] = json.loads(row[2])
                    continue
                if row is not None and now - row[3] < self.pending_timeout:
                    raise InFlight(key)
                db.execute(
                    "INSERT OR REPLACE INTO idempotency VALUES (?, ?, 0, ?, NULL, ?)",
                    (source_id, key, fingerprint, now),
                )
        return done

    def complete(self, source_id: str, responses: Mapping[str, Any]) -> None:
        """Mark keys done with their responses (JSON-serialisable)."""
        with self._write() as db:
            db.executemany(
                "UPDATE idempotency SET done = 1, response = ? WHERE source_id = ? AND key = ?",
                [(json.dumps(r, sort_keys=True), source_id, k) for k, r in responses.items()],
            )
            self._writes += len(responses)
        if self._writes >= _PRUNE_EVERY:
            self.prune()

    def release(self, source_id: str, keys: Sequence[str]) -> None:
        """Free pending reservations (after a failure); done keys stay."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM idempotency WHERE source_id = ? AND key = ? AND done = 0",
                [(source_id, k) for k in keys],
            )

    def prune(self) -> int:
        """Forget entries older than ``retention``; return how many."""
        with self._write() as db:
            cursor = db.execute(
                "DELETE FROM idempotency WHERE created_at < ?",
                (time.time() - self.retention.total_seconds(),),
            )
            self._writes = 0
            return cursor.rowcount
