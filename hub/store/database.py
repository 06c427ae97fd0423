"""One application database: an SQLAlchemy 2 engine on SQLite or PostgreSQL.

:func:`open_database` opens (and on SQLite privately creates) the database a URL or a
path names and brings its schema to the newest version (:mod:`hub.store.migrate`).
Stores run their SQL inside :meth:`Database.transaction` (writes) and
:meth:`Database.read` (reads); both always end: committed when a write block ends,
rolled back when anything in it raises, so no failure leaves a connection inside a
transaction.

SQLite: autocommit at the driver, every write transaction ``BEGIN IMMEDIATE`` (the
write lock at the start, so a read-then-write never fails half-way with "database is
locked"), reads ``BEGIN DEFERRED``; WAL, a 30 s busy timeout, ``synchronous=FULL``,
the file and its folders private (0600 / 0700, as :mod:`hub.sqlite`). PostgreSQL:
psycopg 3, READ COMMITTED, a connection checked before use (a restarted server is
no error), a 10 s connect timeout.

A connection that cannot be made or breaks raises :class:`~hub.errors.StoreUnavailable`
naming the database by :func:`~hub.store.urls.safe_url`: never its password.

A :class:`Database` is shared: every store that is given one calls :meth:`acquire` and
:meth:`close`; the engine is disposed when the last user closes it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hub.errors import StoreUnavailable
from hub.sqlite import private_file
from hub.store.urls import normalise_url, redact, safe_url, sqlite_url

__all__ = ["Backend", "Database", "open_database", "rollback_only", "unavailable"]

Backend = Literal["sqlite", "postgresql"]
_READ = "hub_read"
_BUSY_MS = 30_000
_PG_CONNECT_TIMEOUT_S = 10


def unavailable(exc: BaseException, url: URL | str) -> StoreUnavailable:
    """A StoreUnavailable for a driver's failure: the database's safe URL and the
    driver's first line, with any password of ``url`` masked."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return StoreUnavailable(f"database {safe_url(url)} unavailable: {redact(first, url)}")


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError)


def _sqlite_engine(url: URL, cache_mb: int | None) -> Engine:
    assert url.database
    try:
        private_file(Path(url.database))
    except OSError as exc:
        raise StoreUnavailable(f"database {safe_url(url)} unavailable: cannot create"
                               f" {url.database}: {exc.strerror or exc}") from None
    engine = create_engine(url, connect_args={"check_same_thread": False,
                                              "timeout": _BUSY_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi: Any, record: Any) -> None:
        dbapi.isolation_level = None  # transactions are begun below, never by the driver
        for pragma in ("journal_mode=WAL", f"busy_timeout={_BUSY_MS}", "synchronous=FULL",
                       "foreign_keys=ON",
                       *([f"cache_size=-{max(1, cache_mb) * 1024}"] if cache_mb else [])):
            dbapi.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read = conn.get_execution_options().get(_READ, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if read else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args={"connect_timeout": _PG_CONNECT_TIMEOUT_S},
                         hide_parameters=True)


class Database:
    """An open application database; make one with :func:`open_database`."""

    def __init__(self, url: URL, *, sqlite_cache_mb: int | None = None,
                 shown: str | None = None) -> None:
        self._url = url
        self._shown = shown or safe_url(url)
        self.backend: Backend = "postgresql" if url.drivername.startswith("postgresql") \
            else "sqlite"
        self.engine = (_postgres_engine(url) if self.backend == "postgresql"
                       else _sqlite_engine(url, sqlite_cache_mb))
        self._users = 1
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The database's URL (as given) without its password."""
        return self._shown

    @property
    def path(self) -> Path | None:
        """The SQLite file, None on PostgreSQL."""
        return Path(self._url.database) if self.backend == "sqlite" and self._url.database \
            else None

    def __repr__(self) -> str:
        return f"Database({self.url})"

    # -- sharing ---------------------------------------------------------------------------

    def acquire(self) -> Database:
        """One more user of this database (each calls :meth:`close` once)."""
        with self._lock:
            if self._users <= 0:
                raise StoreUnavailable(f"database {self.url} is closed")
            self._users += 1
        return self

    def close(self) -> None:
        """One user less; the engine's connections are closed with the last one."""
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self.engine.dispose()

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back when the block
        or the commit raises (or, inside :func:`rollback_only`, always). On SQLite it
        holds the write lock from its start."""
        try:
            with self.engine.connect() as conn, conn.begin() as trans:
                yield conn
                if _ROLLBACK_ONLY.get():
                    trans.rollback()
        except (DBAPIError, PoolTimeout) as exc:
            if _is_unavailable(exc):
                raise unavailable(exc, self._url) from None
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (one consistent view; rolled back at the end)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{_READ: True})
                yield conn
        except (DBAPIError, PoolTimeout) as exc:
            if _is_unavailable(exc):
                raise unavailable(exc, self._url) from None
            raise


#: set by :func:`rollback_only`: every write transaction in this context is rolled back
_ROLLBACK_ONLY: ContextVar[bool] = ContextVar("hub_store_rollback_only", default=False)


@contextmanager
def rollback_only() -> Iterator[None]:
    """Within the block (this thread or task), every :meth:`Database.transaction` runs as
    usual and is then rolled back instead of committed: a dry run of any store method
    (e.g. ``purge``) that reports what it would change, with the stores' own SQL."""
    token = _ROLLBACK_ONLY.set(True)
    try:
        yield
    finally:
        _ROLLBACK_ONLY.reset(token)


def open_database(
    target: str | os.PathLike[str] | Database,
    *,
    migrate: bool = True,
    sqlite_cache_mb: int | None = None,
) -> Database:
    """The database ``target`` names: a :class:`Database` (acquired once more), a URL
    (``sqlite:///file``, ``postgresql://...``) or a path (a SQLite file). With
    ``migrate`` its schema is brought to the newest version first. ``sqlite_cache_mb``
    sets SQLite's page cache per connection. Raises ConfigError for a bad URL and
    StoreUnavailable when the database cannot be reached or made."""
    if isinstance(target, Database):
        return target.acquire()
    text = os.fspath(target)
    given = text if "://" in text else sqlite_url(text)
    db = Database(normalise_url(given), sqlite_cache_mb=sqlite_cache_mb,
                  shown=safe_url(given))
    if migrate:
        from hub.store.migrate import upgrade

        try:
            upgrade(db)
        except BaseException:
            db.close()
            raise
    return db
