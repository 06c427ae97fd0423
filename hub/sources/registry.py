"""The source registry: which systems may send what, and their API keys (hashed only).

Each source system has an id (``woonstichting-voorbeeld``), the URN that names it on
every event it sends (``urn:nld:oin:<OIN>``; it becomes the signal's ``source`` and the
CloudEvents ``ce_source``), the event types it may send, and one API key. Permissions
are event types (``debt-signal``, ``eviction-risk``, ``youth-care-exit``) plus
``consent`` (may record and withdraw consents) and ``outcomes`` (may read the outcomes
of the signals its URN sent, ``GET /v1/outcomes``).

A source with ``consent`` also has the **consent purposes** and **recipient scopes** it
may record (:meth:`SourceInfo.consent_refusals`): a grant must name one of its purposes,
and every entry of its ``recipient_scope`` (a team id or a municipality code) must be one
of its scopes, compared exactly. Without purposes or scopes it may record none (deny by
default). Withdrawing a consent it recorded is never limited by them.

A key looks like ``sk_<key id>_<secret>``: the key id (12 hex digits) is not secret and
finds the source's row at once; the secret (32 random bytes) is stored only as
``scrypt(secret, per-key salt)`` and compared in constant time. The plain key is
returned once by :meth:`SourceRegistry.add` and cannot be recovered afterwards. A
successful check is remembered in memory (as a SHA-256 of the secret) so that later
requests skip scrypt; the row, and so revocation, is read on every call.

Stored in the application database (:mod:`hub.store`; table ``sources``, migrations
in branch ``sources``): SQLite ``<state_dir>/store.db`` by default, PostgreSQL with
``HUB_DATABASE_URL``, so every instance of a hub sees the same sources and keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub.errors import SourceRegistryError, UnknownSource
from hub.events import EVENT_TYPES
from hub.state_layout import STORE_FILE
from hub.store import Database, open_database
from hub.values import MUNICIPALITY_CODE_PATTERN

__all__ = [
    "CONSENT_PERMISSION",
    "OUTCOMES_PERMISSION",
    "PERMISSIONS",
    "SOURCES_FILE",
    "SourceInfo",
    "SourceRegistry",
    "SourceRegistryError",
    "UnknownSource",
]

#: file name of the registry inside the state directory: the application stores' SQLite
#: file (the embedded default; ``HUB_DATABASE_URL`` may name another database)
SOURCES_FILE = STORE_FILE
#: the permission to record and withdraw consents (besides the signal event types)
CONSENT_PERMISSION = "consent"
#: the permission to read the outcomes of the signals the source's URN sent
OUTCOMES_PERMISSION = "outcomes"
#: everything a source may be allowed to send (or read)
PERMISSIONS: tuple[str, ...] = (*EVENT_TYPES, CONSENT_PERMISSION, OUTCOMES_PERMISSION)

_KEY_PREFIX = "sk_"
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")
_SOURCE_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$", re.IGNORECASE)
_PURPOSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
#: a team id (as in hub.yaml) or a CBS municipality code
_SCOPE = re.compile(f"^(?:[a-z0-9][a-z0-9-]{{1,62}}|{MUNICIPALITY_CODE_PATTERN[1:-1]})$")
# scrypt: 16 MiB of memory, some tens of milliseconds per check
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_KDF = f"scrypt:n={_N},r={_R},p={_P}"
_CACHE_SIZE = 1024
#: scrypt checks at once (each holds 16 MiB): bounds memory under a flood of bad keys
_CONCURRENT_CHECKS = 4

_COLUMNS = ("source_id, urn, event_types, key_id, created_at, revoked_at, consent_purposes,"
            " consent_scopes")


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One source system (never its key)."""

    source_id: str
    urn: str
    event_types: tuple[str, ...]
    key_id: str
    created_at: datetime
    revoked_at: datetime | None
    #: the consent purposes and recipient scopes it may record (with ``consent``)
    consent_purposes: tuple[str, ...] = ()
    consent_scopes: tuple[str, ...] = ()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def may_send(self, event_type: str) -> bool:
        """Whether this source may send ``event_type`` (or has the ``consent`` or
        ``outcomes`` permission)."""
        return event_type in self.event_types

    def consent_refusals(self, purpose: str, recipient_scope: Sequence[str]) -> list[str]:
        """The fields of a consent grant this source may not record: ``purpose`` and
        ``recipient_scope.<index>`` for each scope entry it may not name (none: allowed)."""
        allowed = CONSENT_PERMISSION in self.event_types
        refused = [] if allowed and purpose in self.consent_purposes else ["purpose"]
        scopes = set(self.consent_scopes) if allowed else set()
        refused += [f"recipient_scope.{k}" for k, entry in enumerate(recipient_scope)
                    if entry not in scopes]
        return refused


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)


def _split(plain_key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not plain_key.startswith(_KEY_PREFIX):
        return None
    key_id, sep, secret = plain_key[len(_KEY_PREFIX):].partition("_")
    if not sep or not _KEY_ID.match(key_id) or not secret:
        return None
    return key_id, secret


def _info(row: tuple[object, ...]) -> SourceInfo:
    source_id, urn, event_types, key_id, created_at, revoked_at, purposes, scopes = row
    return SourceInfo(
        source_id=str(source_id),
        urn=str(urn),
        event_types=tuple(json.loads(str(event_types))),
        key_id=str(key_id),
        created_at=datetime.fromisoformat(str(created_at)),
        revoked_at=datetime.fromisoformat(str(revoked_at)) if revoked_at else None,
        consent_purposes=tuple(json.loads(str(purposes))),
        consent_scopes=tuple(json.loads(str(scopes))),
    )


def _consent_lists(
    types: Sequence[str], purposes: Iterable[str], scopes: Iterable[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Checked, de-duplicated consent purposes and scopes (they need ``consent``)."""
    purposes, scopes = tuple(dict.fromkeys(purposes)), tuple(dict.fromkeys(scopes))
    if (purposes or scopes) and CONSENT_PERMISSION not in types:
        raise SourceRegistryError(
            "consent purposes and scopes are for a source with the consent permission"
        )
    bad = [p for p in purposes if not _PURPOSE.match(p)]
    if bad:
        raise SourceRegistryError(
            "a consent purpose is a code of letters, digits and . _ : / - (at most 128),"
            f" e.g. youth-care-exit-support; not: {', '.join(map(repr, bad))}"
        )
    bad = [s for s in scopes if not _SCOPE.match(s)]
    if bad:
        raise SourceRegistryError(
            "a consent scope is a team id (jeugd-18plus) or a municipality code (GM0344);"
            f" not: {', '.join(map(repr, bad))}"
        )
    return purposes, scopes


class SourceRegistry:
    """The registry in ``database``: a :class:`~hub.store.Database` (shared), a database
    URL or a SQLite file path (opened, and migrated, by the registry); thread-safe."""

    def __init__(self, database: Database | str | os.PathLike[str]) -> None:
        self._lock = threading.Lock()
        self._verified: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self._checks = threading.BoundedSemaphore(_CONCURRENT_CHECKS)
        self._db = open_database(database)
        #: the SQLite file (None on PostgreSQL)
        self.path: Path | None = self._db.path

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str]) -> SourceRegistry:
        """Open the registry in ``<state_dir>/store.db`` (the SQLite default)."""
        return cls(Path(state_dir) / SOURCES_FILE)

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, params: dict[str, Any]) -> int:
        """Run one change; its row count. A database error is a SourceRegistryError
        (StoreUnavailable when the database cannot be reached)."""
        try:
            with self._db.transaction() as conn:
                return conn.execute(text(sql), params).rowcount
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise SourceRegistryError(f"cannot write source registry: {exc.__class__.__name__}"
                                      ) from exc

    def _row(self, where: str, params: dict[str, Any], extra: str = "") -> tuple[Any, ...] | None:
        with self._db.read() as conn:
            row = conn.execute(text(f"SELECT {_COLUMNS}{extra} FROM sources WHERE {where}"),
                               params).first()
        return tuple(row) if row is not None else None

    def __enter__(self) -> SourceRegistry:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- changing ------------------------------------------------------------------------

    def add(
        self, source_id: str, urn: str, event_types: Iterable[str], *,
        consent_purposes: Iterable[str] = (), consent_scopes: Iterable[str] = (),
    ) -> tuple[SourceInfo, str]:
        """Register a source; return it and its plain API key (shown once, never stored).
        ``consent_purposes`` and ``consent_scopes``: what it may record (with ``consent``)."""
        types = tuple(dict.fromkeys(event_types))
        if not _SOURCE_ID.match(source_id):
            raise SourceRegistryError(
                "source id must be lowercase letters, digits and dashes (at most 64),"
                " e.g. woonstichting-voorbeeld"
            )
        if not _URN.match(urn):
            raise SourceRegistryError("urn must be a URN, e.g. urn:nld:oin:00000001234567890000")
        unknown = [t for t in types if t not in PERMISSIONS]
        if unknown or not types:
            raise SourceRegistryError(
                f"event types must be one or more of {', '.join(PERMISSIONS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        purposes, scopes = _consent_lists(types, consent_purposes, consent_scopes)
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            self._write(
                "INSERT INTO sources (source_id, urn, event_types, key_id, kdf, salt,"
                " key_hash, created_at, consent_purposes, consent_scopes)"
                " VALUES (:source_id, :urn, :types, :key_id, :kdf, :salt, :hash, :now,"
                " :purposes, :scopes)",
                {"source_id": source_id, "urn": urn, "types": json.dumps(types),
                 "key_id": key_id, "kdf": _KDF, "salt": salt, "hash": _hash(secret, salt),
                 "now": now, "purposes": json.dumps(purposes), "scopes": json.dumps(scopes)},
            )
        except IntegrityError:
            raise SourceRegistryError(f"source {source_id} already exists") from None
        info = self.get(source_id)
        assert info is not None
        return info, f"{_KEY_PREFIX}{key_id}_{secret}"

    def set_consent_scope(
        self, source_id: str, purposes: Iterable[str], scopes: Iterable[str]
    ) -> SourceInfo:
        """Replace the consent purposes and recipient scopes the source may record (empty:
        none); from the next request on. Its key stays as it is."""
        info = self.get(source_id)
        if info is None:
            raise UnknownSource(f"no source {source_id}")
        checked = _consent_lists(info.event_types, purposes, scopes)
        self._write(
            "UPDATE sources SET consent_purposes = :purposes, consent_scopes = :scopes"
            " WHERE source_id = :source_id",
            {"purposes": json.dumps(checked[0]), "scopes": json.dumps(checked[1]),
             "source_id": source_id},
        )
        updated = self.get(source_id)
        assert updated is not None
        return updated

    def revoke(self, source_id: str) -> SourceInfo:
        """Revoke the source's key at once (a second revoke keeps the first time)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._write(
            "UPDATE sources SET revoked_at = coalesce(revoked_at, :now)"
            " WHERE source_id = :source_id", {"now": now, "source_id": source_id})
        info = self.get(source_id)
        if info is None:
            raise UnknownSource(f"no source {source_id}")
        return info

    # -- reading -------------------------------------------------------------------------

    def get(self, source_id: str) -> SourceInfo | None:
        row = self._row("source_id = :source_id", {"source_id": source_id})
        return _info(row) if row else None

    def list(self) -> list[SourceInfo]:
        """Every source, revoked ones included, by id."""
        with self._db.read() as conn:
            rows = conn.execute(text(f"SELECT {_COLUMNS} FROM sources ORDER BY source_id"))
            return [_info(tuple(r)) for r in rows]

    def authenticate(self, plain_key: str) -> SourceInfo | None:
        """The source whose key this is, or None (malformed, unknown, wrong or revoked)."""
        parts = _split(plain_key)
        if parts is None:
            return None
        key_id, secret = parts
        row = self._row("key_id = :key_id", {"key_id": key_id}, ", salt, key_hash")
        if row is None:  # key ids are not secret: no need to hide that one is unknown
            return None
        salt, stored = bytes(row[-2]), bytes(row[-1])
        fingerprint = hashlib.sha256(secret.encode()).digest()
        with self._lock:
            seen = self._verified.get(key_id)
        if seen is not None and seen[1] == stored:
            ok = hmac.compare_digest(seen[0], fingerprint)
        else:
            with self._checks:
                ok = hmac.compare_digest(_hash(secret, salt), stored)
            if ok:
                with self._lock:
                    self._verified[key_id] = (fingerprint, stored)
                    while len(self._verified) > _CACHE_SIZE:
                        self._verified.popitem(last=False)
        info = _info(row[:-2])
        return info if ok and not info.revoked else None

    # -- retention -----------------------------------------------------------------------

    def purge(self, before: datetime) -> int:
        """Delete the sources revoked before ``before`` (their rows only hold a revoked
        key's hash: nothing authenticates with them any more); return how many. Active
        sources are never purged."""
        cutoff = before.astimezone(UTC).isoformat(timespec="seconds")
        return self._write(
            "DELETE FROM sources WHERE revoked_at IS NOT NULL AND revoked_at < :cutoff",
            {"cutoff": cutoff})
