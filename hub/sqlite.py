"""SQLite plumbing of the stream-local stores (bus, registry, consent ledgers, router
state; the application stores use :mod:`hub.store`, which takes its file modes from
here): one way to open a database file and one write transaction.

:func:`open_database` keeps state private: missing folders are made 0700 and a missing
database file 0600 before SQLite opens it; SQLite gives the ``-wal``, ``-shm`` and
``-journal`` files it makes the mode of the database file. A database file (or sibling)
left group- or world-readable by an older version is narrowed to 0600 when its owner
opens it. Existing folders are left as they are (a parent may be a shared folder).

:func:`write_transaction` always ends the transaction: committed when the block ends,
rolled back when the block or the commit raises, so one failed write never leaves the
connection inside a transaction ("cannot start a transaction within a transaction").
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "open_database", "private_dir",
           "private_file", "write_transaction"]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SIBLINGS = ("-wal", "-shm", "-journal")

# Python's sqlite3 binds int, float, str and bytearray parameters directly but sends
# every bytes and None parameter through its adaptation protocol, whose failed
# ``__adapt__``/``__conform__`` look-ups format an AttributeError each time (about
# half the cost of inserting a row of keys, values and null headers). An identity
# adapter for both is found at once and binds the same BLOB and NULL.
sqlite3.register_adapter(bytes, bytes)
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))  # (in C: None)


def private_dir(path: Path) -> None:
    """Make ``path`` and its missing parents, each new one 0700 (whatever the umask)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # made by another process meanwhile
            continue
        folder.chmod(PRIVATE_DIR_MODE)  # exact, also under a umask that narrows it


def _narrow(path: Path) -> None:
    """``path`` 0600 when it exists, is ours and is readable by others."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & PRIVATE_FILE_MODE)


def private_file(path: Path) -> None:
    """Make the file ``path`` (and missing folders) privately, or narrow an existing one
    and its ``-wal``/``-shm``/``-journal`` siblings to 0600. Raises OSError."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE)
    except FileExistsError:
        for candidate in (path, *(path.with_name(path.name + s) for s in _SIBLINGS)):
            _narrow(candidate)
    else:
        os.close(fd)


def open_database(
    path: str | os.PathLike[str],
    *,
    synchronous: str | None = None,
    cache_mb: int | None = None,
) -> sqlite3.Connection:
    """Open (creating it, privately) the SQLite file ``path`` the way every store does:
    autocommit (transactions through :func:`write_transaction`), shareable between
    threads under the store's own lock, WAL, a 30 s busy timeout. ``synchronous``
    (FULL, NORMAL, OFF) and ``cache_mb`` set those pragmas. Raises ``sqlite3.Error``,
    also when the file or its folder cannot be made."""
    if synchronous not in (None, "FULL", "NORMAL", "OFF"):
        raise ValueError(f"unknown synchronous mode {synchronous!r}")
    file = Path(path)
    try:
        private_file(file)
    except OSError as exc:
        raise sqlite3.OperationalError(f"cannot create {file}: {exc.strerror or exc}") from exc
    db = sqlite3.connect(file, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        if synchronous is not None:
            db.execute(f"PRAGMA synchronous={synchronous}")
        if cache_mb is not None:
            db.execute(f"PRAGMA cache_size=-{max(1, cache_mb) * 1024}")
    except BaseException:
        db.close()
        raise
    return db


def _end(db: sqlite3.Connection) -> None:
    """Roll back what is still open (SQLite rolls some failures back by itself)."""
    if db.in_transaction:
        db.execute("ROLLBACK")


@contextmanager
def write_transaction(
    db: sqlite3.Connection,
    lock: threading.Lock | threading.RLock,
    on_unavailable: Callable[[str], Exception] | None = None,
) -> Iterator[sqlite3.Connection]:
    """Hold ``lock`` and SQLite's write lock (``BEGIN IMMEDIATE``); commit when the block
    ends, roll back when it or the commit raises. ``on_unavailable`` turns a failed BEGIN
    (locked or closed database) into the caller's own error."""
    with lock:
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if on_unavailable is None:
                raise
            raise on_unavailable(str(exc)) from exc
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            _end(db)
            raise
