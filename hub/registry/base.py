"""The schema registry protocol and subject naming.

Subjects follow the *topic-record name* strategy: ``<topic>-<record full name>``, so
several record types can share one topic (``deadletter.v1`` carries only DeadLetter, but
``audit.v1`` could carry more in time). Schema ids are global; the same schema text
registered under two subjects gets one id.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from typing import Any

from hub.compat import Compatibility

__all__ = ["RegisteredSchema", "SchemaRegistry", "canonical", "subject_for"]


def subject_for(topic: str, record_full_name: str) -> str:
    """Topic-record name strategy."""
    return f"{topic}-{record_full_name}"


def canonical(schema: str | dict[str, Any]) -> str:
    """A stable text form of a schema (sorted keys, no spaces) for equality and ids."""
    parsed = json.loads(schema) if isinstance(schema, str) else schema
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    subject: str
    version: int
    schema_id: int
    schema: str


class SchemaRegistry(abc.ABC):
    """Stores Avro schemas by subject and version; hands out global schema ids."""

    @abc.abstractmethod
    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` (if new) and return its id.

        Raises IncompatibleSchema when it breaks the subject's compatibility level.
        """

    @abc.abstractmethod
    def schema_by_id(self, schema_id: int) -> str:
        """The schema text of ``schema_id``; raises SchemaNotFound."""

    @abc.abstractmethod
    def lookup(self, subject: str, schema: str) -> RegisteredSchema | None:
        """The registered version of ``schema`` under ``subject``, if any."""

    @abc.abstractmethod
    def latest(self, subject: str) -> RegisteredSchema:
        """The newest version of ``subject``; raises SchemaNotFound."""

    @abc.abstractmethod
    def versions(self, subject: str) -> list[int]:
        """Version numbers of ``subject``, oldest first (empty if unknown)."""

    @abc.abstractmethod
    def subjects(self) -> list[str]:
        """All subjects."""

    @abc.abstractmethod
    def check_compatibility(self, subject: str, schema: str) -> list[str]:
        """Problems that registering ``schema`` under ``subject`` would meet (empty = ok)."""

    @abc.abstractmethod
    def set_compatibility(self, level: Compatibility, subject: str | None = None) -> None:
        """Set the level for ``subject``, or the global default when None."""

    @abc.abstractmethod
    def get_compatibility(self, subject: str | None = None) -> Compatibility:
        """The level in force for ``subject`` (its own, else the global default)."""

    def writer_id(self, subject: str, schema: str) -> int:
        """The id to write records of ``schema`` (canonical text) under ``subject`` with:
        one the registry has confirmed, never a cached one it may have lost since.

        Called for every record written, so implementations answer from memory while the
        id is confirmed. This default registers every time; a registry whose ids cannot
        change under a running hub caches them (the embedded one), a remote one confirms
        them again periodically and after any failure (:class:`~hub.registry.http.HttpRegistry`).
        Raises RegistryUnavailable when the id cannot be confirmed now.
        """
        return self.register(subject, schema)

    def verify_ids(self) -> None:
        """Check now that the registry answers and that every id this object has handed out
        or read still names the same schema, registering again what it lost (the readiness
        check). Raises RegistryUnavailable when it cannot be asked."""
        self.subjects()

    def close(self) -> None:
        """Release resources."""
