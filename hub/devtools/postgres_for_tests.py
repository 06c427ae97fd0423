"""A PostgreSQL server for tests: ``HUB_TEST_POSTGRES_DSN`` or a local one.

``postgres_for_tests()`` yields a :class:`PostgresForTests` that makes and drops
databases. With ``HUB_TEST_POSTGRES_DSN=postgresql://user:pw@host:port/postgres`` (a
user that may create databases) it uses that server; otherwise it starts
:class:`~hub.devtools.local_postgres.LocalPostgres` once. Neither URL is ever logged
with its password.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from hub.devtools.local_postgres import LocalPostgres
from hub.errors import LocalPostgresError
from hub.store.urls import safe_url

__all__ = ["ENV_DSN", "PostgresForTests", "postgres_for_tests"]

ENV_DSN = "HUB_TEST_POSTGRES_DSN"


@dataclass
class PostgresForTests:
    """A server: ``admin_url`` (secret) of a database to connect to for CREATE DATABASE."""

    admin_url: str
    kind: str  # "external" | "local"
    version: str

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(
            hide_password=False)

    def describe(self) -> str:
        return f"{self.kind} PostgreSQL {self.version} at {safe_url(self.admin_url)}"

    def _admin(self, sql: str) -> None:
        import psycopg

        plain = make_url(self.admin_url).set(drivername="postgresql")
        with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
            raise ValueError(f"not a test database name: {name!r}")
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if re.fullmatch(r"[a-z0-9_]{1,63}", name):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_for_tests() -> Iterator[PostgresForTests]:
    """Yield a running server (see the module docstring)."""
    external = os.environ.get(ENV_DSN, "").strip()
    if external:
        import psycopg

        try:
            plain = make_url(external).set(drivername="postgresql")
            with psycopg.connect(plain.render_as_string(hide_password=False),
                                 connect_timeout=10) as conn:
                version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        except (psycopg.Error, ValueError) as exc:
            raise LocalPostgresError(f"{ENV_DSN} ({safe_url(external)}) does not answer:"
                                     f" {type(exc).__name__}") from None
        yield PostgresForTests(external, "external", version)
        return
    with LocalPostgres() as server:
        yield PostgresForTests(server.url(), "local", server.version)
