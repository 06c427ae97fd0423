"""One write transaction on a shared SQLite connection, used by every SQLite store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["write_transaction"]


@contextmanager
def write_transaction(
    db: sqlite3.Connection,
    lock: threading.Lock | threading.RLock,
    on_unavailable: Callable[[str], Exception] | None = None,
) -> Iterator[sqlite3.Connection]:
    """Hold ``lock`` and SQLite's write lock (``BEGIN IMMEDIATE``); commit when the block
    ends, roll back when it raises. ``on_unavailable`` turns a failed BEGIN (locked or
    closed database) into the caller's own error."""
    with lock:
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if on_unavailable is None:
                raise
            raise on_unavailable(str(exc)) from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")
