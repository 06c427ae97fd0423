"""The embedded schema registry, kept in the same SQLite file as the embedded bus."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.compat import Compatibility, check
from hub.errors import IncompatibleSchema, RegistryError, SchemaNotFound
from hub.registry.base import RegisteredSchema, SchemaRegistry, canonical
from hub.sqlite import open_database, write_transaction

__all__ = ["EmbeddedRegistry"]

_TABLES = (
    "CREATE TABLE IF NOT EXISTS registry_schemas ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, canonical TEXT NOT NULL UNIQUE, schema TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS registry_versions ("
    " subject TEXT NOT NULL, version INTEGER NOT NULL, schema_id INTEGER NOT NULL,"
    " PRIMARY KEY (subject, version))",
    "CREATE TABLE IF NOT EXISTS registry_config ("
    " subject TEXT PRIMARY KEY, compatibility TEXT NOT NULL)",
)
_GLOBAL = ""


class EmbeddedRegistry(SchemaRegistry):
    """Subjects, versions and ids in SQLite; compatibility checked with Apache Avro."""

    def __init__(
        self,
        path: str | Path,
        default_compatibility: Compatibility = Compatibility.BACKWARD_TRANSITIVE,
    ) -> None:
        self._lock = threading.RLock()
        self._by_id: dict[int, str] = {}
        self._writers: dict[tuple[str, str], int] = {}
        try:
            self._db = open_database(path)
            with self._write() as db:
                for stmt in _TABLES:
                    db.execute(stmt)
                db.execute(
                    "INSERT OR IGNORE INTO registry_config VALUES (?, ?)",
                    (_GLOBAL, default_compatibility.value),
                )
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open embedded registry at {path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._db, self._lock) as db:
            yield db

    def _versions(self, db: sqlite3.Connection, subject: str) -> list[RegisteredSchema]:
        rows = db.execute(
            "SELECT v.version, v.schema_id, s.schema FROM registry_versions v"
            " JOIN registry_schemas s ON s.id = v.schema_id WHERE v.subject = ?"
            " ORDER BY v.version",
            (subject,),
        ).fetchall()
        return [RegisteredSchema(subject, int(v), int(i), str(s)) for v, i, s in rows]

    def register(self, subject: str, schema: str) -> int:
        text = canonical(schema)
        with self._write() as db:
            existing = self._versions(db, subject)
            for reg in existing:
                if canonical(reg.schema) == text:
                    return reg.schema_id
            problems = check(text, [r.schema for r in existing], self._level(db, subject))
            if problems:
                raise IncompatibleSchema(
                    f"schema for subject {subject!r} is incompatible: " + "; ".join(problems)
                )
            db.execute(
                "INSERT OR IGNORE INTO registry_schemas (canonical, schema) VALUES (?, ?)",
                (text, text),
            )
            (schema_id,) = db.execute(
                "SELECT id FROM registry_schemas WHERE canonical = ?", (text,)
            ).fetchone()
            version = (existing[-1].version + 1) if existing else 1
            db.execute(
                "INSERT INTO registry_versions VALUES (?, ?, ?)", (subject, version, schema_id)
            )
        return int(schema_id)

    def writer_id(self, subject: str, schema: str) -> int:
        """Registered once, then from memory: the ids live in the bus's own file."""
        key = (subject, schema)
        if key not in self._writers:
            self._writers[key] = self.register(subject, schema)
        return self._writers[key]

    def schema_by_id(self, schema_id: int) -> str:
        if schema_id in self._by_id:
            return self._by_id[schema_id]
        with self._lock:
            row = self._db.execute(
                "SELECT schema FROM registry_schemas WHERE id = ?", (schema_id,)
            ).fetchone()
        if row is None:
            raise SchemaNotFound(f"no schema with id {schema_id} in the embedded registry")
        self._by_id[schema_id] = str(row[0])
        return self._by_id[schema_id]

    def lookup(self, subject: str, schema: str) -> RegisteredSchema | None:
        text = canonical(schema)
        with self._lock:
            found = self._versions(self._db, subject)
        return next((r for r in found if canonical(r.schema) == text), None)

    def latest(self, subject: str) -> RegisteredSchema:
        with self._lock:
            found = self._versions(self._db, subject)
        if not found:
            raise SchemaNotFound(f"subject {subject!r} has no versions")
        return found[-1]

    def versions(self, subject: str) -> list[int]:
        with self._lock:
            return [r.version for r in self._versions(self._db, subject)]

    def subjects(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT subject FROM registry_versions ORDER BY subject"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def check_compatibility(self, subject: str, schema: str) -> list[str]:
        with self._lock:
            existing = self._versions(self._db, subject)
            level = self._level(self._db, subject)
        return check(canonical(schema), [r.schema for r in existing], level)

    def _level(self, db: sqlite3.Connection, subject: str) -> Compatibility:
        row = db.execute(
            "SELECT compatibility FROM registry_config WHERE subject IN (?, ?)"
            " ORDER BY subject = ? DESC LIMIT 1",
            (subject, _GLOBAL, subject),
        ).fetchone()
        return Compatibility(row[0]) if row else Compatibility.BACKWARD_TRANSITIVE

    def set_compatibility(self, level: Compatibility, subject: str | None = None) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO registry_config VALUES (?, ?) ON CONFLICT (subject)"
                " DO UPDATE SET compatibility = excluded.compatibility",
                (subject or _GLOBAL, level.value),
            )

    def get_compatibility(self, subject: str | None = None) -> Compatibility:
        with self._lock:
            return self._level(self._db, subject or _GLOBAL)

    def close(self) -> None:
        with self._lock:
            self._db.close()
