"""Confluent wire format and Avro (de)serialisation through a schema registry.

Every value on every topic is ``0x00 | schema id (4 bytes, big-endian) | Avro body``,
so any Confluent-compatible tool can read it. Writers register their schema under the
topic-record subject; readers fetch the writer schema by id and resolve it against the
local reader schema of the same record name (Avro schema resolution), so old and new
versions stay readable.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.types import Schema

from hub.errors import DecodeError, NotWireFormat, SerdeError
from hub.registry.base import SchemaRegistry, canonical, subject_for
from hub.schemas import load_schema, schema_names

__all__ = ["AvroSerde", "Decoded", "MAGIC_BYTE", "frame", "full_name", "unframe"]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the magic byte and the schema id."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(data: bytes | None) -> tuple[int, bytes]:
    """Split wire-format bytes into (schema id, Avro body); raise NotWireFormat."""
    if data is None:
        raise NotWireFormat("value is empty (a tombstone), not wire format")
    if len(data) < _HEADER.size:
        raise NotWireFormat(f"value has {len(data)} bytes, fewer than the 5-byte header")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise NotWireFormat(f"magic byte is {magic}, expected {MAGIC_BYTE}")
    return schema_id, data[_HEADER.size :]


def full_name(schema: dict[str, Any]) -> str:
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


@dataclass(frozen=True, slots=True)
class Decoded:
    schema_id: int
    record_name: str  # full name, e.g. nl.signalhub.v1.DebtSignal
    record: dict[str, Any]

    @property
    def short_name(self) -> str:
        return self.record_name.rsplit(".", 1)[-1]


class AvroSerde:
    """Encode records to wire format and back, registering and caching schemas.

    ``topic_prefix`` (``HUB_TOPIC_PREFIX``): the topic's name on the broker starts with
    it, and so does the subject (topic-record naming: ``<prefix><topic>-<record>``)."""

    def __init__(self, registry: SchemaRegistry, topic_prefix: str = "", *,
                 schemas_dir: Path | None = None) -> None:
        self.registry = registry
        self.topic_prefix = topic_prefix
        #: where the local schemas are (``HUB_SCHEMAS_DIR``; None: the shipped ones)
        self.schemas_dir = schemas_dir
        self._subjects: dict[tuple[str, str], tuple[str, str]] = {}  # -> (subject, text)
        self._parsed: dict[str, Schema] = {}
        #: writer schema text -> (full name, parsed, the local schema of that name, or
        #: None when the writer's is the same schema: read without resolution, ~3x faster)
        self._writers: dict[str, tuple[str, Schema, Schema | None]] = {}
        self._local: dict[str, str] = {}  # full name -> short name of local schemas
        for name in schema_names(schemas_dir):
            self._local[full_name(load_schema(name, schemas_dir))] = name

    def _local_parsed(self, name: str) -> Schema:
        if name not in self._parsed:
            self._parsed[name] = fastavro.parse_schema(load_schema(name, self.schemas_dir))
        return self._parsed[name]

    def schema_id(self, topic: str, name: str) -> int:
        """The confirmed id of the local schema ``name`` for ``topic`` (registered when the
        registry does not know it); raises RegistryUnavailable rather than use an id the
        registry has not confirmed (see :meth:`SchemaRegistry.writer_id`)."""
        key = (topic, name)
        found = self._subjects.get(key)
        if found is None:
            schema = load_schema(name, self.schemas_dir)
            found = self._subjects[key] = (subject_for(self.topic_prefix + topic,
                                                       full_name(schema)),
                                           canonical(schema))
        return self.registry.writer_id(*found)

    def encode(self, topic: str, name: str, record: dict[str, Any]) -> bytes:
        """Avro-encode ``record`` with the local schema ``name`` in wire format."""
        schema_id = self.schema_id(topic, name)
        buf = io.BytesIO()
        try:
            fastavro.schemaless_writer(buf, self._local_parsed(name), record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SerdeError(f"cannot encode {name} for {topic}: {exc}") from exc
        return frame(schema_id, buf.getvalue())

    def encode_body(self, topic: str, name: str, body: bytes) -> bytes:
        """Wire format of ``body``, a plain dict already written as Avro with the local
        schema ``name`` (e.g. by a :mod:`hub.routing.writer` template), under the
        schema id of ``name`` for ``topic``, like :meth:`encode`."""
        return frame(self.schema_id(topic, name), body)

    def encode_model(self, topic: str, model: Any) -> bytes:
        """Encode a pydantic event model from :mod:`hub.events`."""
        return self.encode(topic, model.avro_name, model.to_avro())

    def _writer(self, schema_id: int) -> tuple[str, Schema, Schema | None]:
        # Asked of the registry object every time (it caches, and forgets ids it finds the
        # registry has lost); parsed once per schema text.
        text = self.registry.schema_by_id(schema_id)
        found = self._writers.get(text)
        if found is None:
            parsed_json = json.loads(text)
            name = full_name(parsed_json)
            local = self._local.get(name)
            reader = None
            if local is not None and canonical(parsed_json) != canonical(
                    load_schema(local, self.schemas_dir)):
                reader = self._local_parsed(local)  # another version: Avro resolution
            found = self._writers[text] = (name, fastavro.parse_schema(parsed_json), reader)
        return found

    def decode(self, data: bytes | None) -> Decoded:
        """Decode wire-format bytes; raises NotWireFormat, SchemaNotFound or DecodeError."""
        schema_id, body = unframe(data)
        name, writer, reader = self._writer(schema_id)
        try:
            record = fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
        except Exception as exc:  # fastavro raises many kinds on bad bodies
            raise DecodeError(
                f"body does not decode as {name} (schema id {schema_id}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(record, dict):
            raise DecodeError(f"schema id {schema_id} is not a record schema")
        return Decoded(schema_id, name, record)
