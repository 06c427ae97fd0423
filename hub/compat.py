"""Schema compatibility checks, done by Apache Avro's own rules.

The verdict comes from :class:`avro.compatibility.ReaderWriterCompatibilityChecker`
(the reference implementation of Avro schema resolution); this module only chooses
which pairs to compare for a compatibility level and turns the checker's result into
messages a person can act on.

The levels mean what they mean in Confluent-compatible registries:

========================  ===========================================================
``BACKWARD``              the new schema can read data written with the latest version
``BACKWARD_TRANSITIVE``   ... written with every earlier version
``FORWARD``               the latest version can read data written with the new schema
``FORWARD_TRANSITIVE``    every earlier version can read data written with the new one
``FULL``                  ``BACKWARD`` and ``FORWARD``
``FULL_TRANSITIVE``       ``BACKWARD_TRANSITIVE`` and ``FORWARD_TRANSITIVE``
``NONE``                  no check
========================  ===========================================================

>>> v1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
>>> v2 = {"type": "record", "name": "R", "fields": [
...     {"name": "a", "type": "string"}, {"name": "b", "type": "int"}]}
>>> check(v2, [v1], Compatibility.BACKWARD)  # doctest: +ELLIPSIS
["incompatible with v1 (backward: ...): reader field 'b' has no default value ..."]
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import avro.errors
import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
)

from hub.errors import ConfigError

__all__ = [
    "Compatibility",
    "Direction",
    "Problem",
    "check",
    "find_problems",
    "parse",
]


class Compatibility(enum.StrEnum):
    """Compatibility level, as in Confluent-compatible schema registries."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def backward(self) -> bool:
        """Whether the new schema must read data written with earlier versions."""
        return self in _BACKWARD

    @property
    def forward(self) -> bool:
        """Whether earlier versions must read data written with the new schema."""
        return self in _FORWARD

    @property
    def transitive(self) -> bool:
        """Whether every earlier version counts, not only the latest."""
        return self.value.endswith("_TRANSITIVE")


_BACKWARD = {"BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}
_FORWARD = {"FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}


class Direction(enum.StrEnum):
    """Which side reads: ``BACKWARD`` = new reader, old writer; ``FORWARD`` = the reverse."""

    BACKWARD = "backward"
    FORWARD = "forward"


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed reader/writer pair, as Avro's checker reported it.

    ``kinds`` are :class:`avro.compatibility.SchemaIncompatibilityType` values (e.g.
    ``reader_field_missing_default_value``), ``locations`` JSON-pointer-like paths into
    the *reader* schema (``/fields/3/type``), ``fields`` the same paths as field names
    (``original_headers[].value``), ``details`` the checker's messages.
    """

    version: str
    direction: Direction
    kinds: tuple[str, ...]
    locations: tuple[str, ...]
    fields: tuple[str, ...]
    details: tuple[str, ...]

    @property
    def summary(self) -> str:
        """What is wrong, in words, without the version and direction."""
        what = "; ".join(self._explain(d) for d in self.details) or "incompatible"
        noun = "field" if len(self.fields) == 1 else "fields"
        where = f" ({noun} {', '.join(repr(f) for f in self.fields)})" if self.fields else ""
        raw = f"[{', '.join(self.kinds)} at {', '.join(self.locations)}]"
        return f"{what}{where} {raw}"

    def _explain(self, detail: str) -> str:
        # The checker's message for a missing default is the bare field name, and for
        # missing enum symbols the set of symbols; say what they mean.
        if "reader_field_missing_default_value" in self.kinds and detail.isidentifier():
            return f"reader field '{detail}' has no default value"
        if "missing_enum_symbols" in self.kinds and detail.startswith("{"):
            return f"reader enum lacks writer symbols {detail}"
        return detail

    @property
    def pair(self) -> str:
        """The pair in words: who reads, who wrote."""
        if self.direction is Direction.BACKWARD:
            return f"backward: the new schema cannot read data written with {self.version}"
        return f"forward: {self.version} cannot read data written with the new schema"

    def __str__(self) -> str:
        return f"incompatible with {self.version} ({self.pair}): {self.summary}"


def parse(schema: str | dict[str, Any]) -> avro.schema.Schema:
    """Parse a schema (JSON text or parsed JSON) with the Apache ``avro`` package.

    Raises :class:`~hub.errors.ConfigError` with Avro's reason when it is not valid.
    """
    text = schema if isinstance(schema, str) else json.dumps(schema)
    try:
        return avro.schema.parse(text)
    except (avro.errors.AvroException, json.JSONDecodeError) as exc:
        raise ConfigError(f"not a valid Avro schema: {exc}") from exc


def _field_path(schema: Any, location: str) -> str:
    """Translate ``/fields/3/type/items/fields/1`` into ``support[].value`` (best effort)."""
    parts = [p for p in location.split("/") if p]
    names: list[str] = []
    node: Any = schema
    i = 0
    while i < len(parts):
        part = parts[i]
        if part == "fields" and i + 1 < len(parts) and isinstance(node, dict):
            fields = node.get("fields", [])
            index = int(parts[i + 1]) if parts[i + 1].isdigit() else -1
            if not 0 <= index < len(fields):
                break
            names.append(str(fields[index]["name"]))
            node = fields[index].get("type")
            i += 2
            if i < len(parts) and parts[i] == "type":
                i += 1
            continue
        if part.isdigit() and isinstance(node, list):
            index = int(part)
            node = node[index] if index < len(node) else None
        elif part in ("items", "values") and isinstance(node, dict):
            node = node.get(part)
            if names:
                names[-1] += "[]" if part == "items" else "{}"
        elif part == "type" and isinstance(node, dict):
            node = node.get("type")
        else:
            break
        i += 1
    return ".".join(names)


def _compare(
    reader: avro.schema.Schema,
    writer: avro.schema.Schema,
    reader_json: Any,
    version: str,
    direction: Direction,
) -> Problem | None:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    kinds = tuple(
        dict.fromkeys(
            k.value if isinstance(k, SchemaIncompatibilityType) else str(k)
            for k in result.incompatibilities
        )
    )
    locations = sorted(result.locations)
    if len(locations) > 1 and "/" in locations:
        locations.remove("/")  # union branches are re-checked from the root; say less
    fields = tuple(dict.fromkeys(f for loc in locations if (f := _field_path(reader_json, loc))))
    return Problem(
        version=version,
        direction=direction,
        kinds=kinds,
        locations=tuple(locations),
        fields=fields,
        details=tuple(sorted(result.messages)),
    )


def find_problems(
    new_schema: str | dict[str, Any],
    previous: Sequence[str | dict[str, Any]],
    level: Compatibility | str,
    *,
    versions: Sequence[int] | None = None,
) -> list[Problem]:
    """Compare ``new_schema`` with ``previous`` (oldest first) at ``level``.

    ``versions`` are the version numbers of ``previous`` (default 1, 2, ...), used only
    in the messages. An empty list means compatible. Raises
    :class:`~hub.errors.ConfigError` when a schema does not parse.
    """
    level = Compatibility(level)
    if versions is None:
        versions = range(1, len(previous) + 1)
    if len(versions) != len(previous):
        raise ValueError("versions must have one number per previous schema")
    if level is Compatibility.NONE or not previous:
        return []
    new = parse(new_schema)
    new_json = json.loads(new_schema) if isinstance(new_schema, str) else new_schema
    pairs = list(zip(versions, previous, strict=True))
    if not level.transitive:
        pairs = pairs[-1:]
    problems: list[Problem] = []
    for number, old_schema in pairs:
        label = f"v{number}"
        try:
            old = parse(old_schema)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from exc
        old_json = json.loads(old_schema) if isinstance(old_schema, str) else old_schema
        if level.backward:
            found = _compare(new, old, new_json, label, Direction.BACKWARD)
            if found:
                problems.append(found)
        if level.forward:
            found = _compare(old, new, old_json, label, Direction.FORWARD)
            if found:
                problems.append(found)
    return problems


def check(
    new_schema: str | dict[str, Any],
    previous: Sequence[str | dict[str, Any]],
    level: Compatibility | str,
    *,
    versions: Sequence[int] | None = None,
) -> list[str]:
    """Readable problems of ``new_schema`` against ``previous`` (oldest first); empty = OK.

    Each message names the previous version, the direction (new reader and old writer,
    or the reverse) and the Avro checker's incompatibility type, location and message.
    """
    return [str(p) for p in find_problems(new_schema, previous, level, versions=versions)]
