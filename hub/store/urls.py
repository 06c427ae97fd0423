"""Database URLs: which backend a URL names, and how to show one without its password.

``HUB_DATABASE_URL`` takes ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``
or ``postgresql://user:password@host:5432/dbname`` (also ``postgres://`` and
``postgresql+psycopg://``; libpq's query options such as ``?sslmode=verify-full`` pass
through). :func:`safe_url` is the only way a URL is ever shown: in logs, errors, reprs
and ``signalhub db current``.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from hub.errors import ConfigError

__all__ = ["SECRET_QUERY_KEYS", "normalise_url", "redact", "safe_url", "sqlite_url"]

#: query parameters that hold a secret (libpq's ``password``, ``sslpassword``)
SECRET_QUERY_KEYS = frozenset({"password", "sslpassword"})
_MASK = "***"


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The URL of the SQLite file ``path``."""
    return f"sqlite:///{Path(path)}"


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        # never echo the text: it may hold a password
        raise ConfigError("HUB_DATABASE_URL is not a database URL: use"
                          " sqlite:///path/store.db or postgresql://user@host/db") from None


def normalise_url(url: str) -> URL:
    """The SQLAlchemy URL for ``url``: PostgreSQL through psycopg 3, SQLite through the
    standard library. Raises ConfigError (without the URL's password) for anything else."""
    parsed = _parse(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ConfigError(f"{safe_url(url)}: the hub talks to PostgreSQL through psycopg 3"
                              " only (postgresql:// or postgresql+psycopg://)")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigError("a SQLite store needs a file: sqlite:///path/store.db")
        return parsed.set(drivername="sqlite")
    raise ConfigError(f"{safe_url(url)}: unsupported database; use sqlite:/// or"
                      " postgresql://")


def safe_url(url: str | URL) -> str:
    """``url`` as text without its password (``***`` in its place; a password passed as
    a query parameter is left out). Never raises: an unreadable URL shows as its scheme."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        text = str(url)
        return text.split(":", 1)[0] + ":(unreadable URL)" if ":" in text else "(unreadable URL)"
    query = {k: v for k, v in parsed.query.items() if k.lower() not in SECRET_QUERY_KEYS}
    return parsed.set(query=query).render_as_string(hide_password=True)


def redact(text: str, url: str | URL) -> str:
    """``text`` with the password of ``url`` (and secret query values) masked, for error
    messages that came from a driver."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return text
    secrets = [parsed.password or ""]
    secrets += [str(v) for k, v in parsed.query.items() if k.lower() in SECRET_QUERY_KEYS]
    for secret in filter(None, secrets):
        text = text.replace(str(secret), _MASK)
    return text
