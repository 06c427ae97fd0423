"""Avro bodies of flat records, written by templates compiled from the schema.

The router writes two kinds of record per signal whose fields are mostly known when the
configuration is loaded (team, municipality, rule, reason code, ...). A
:class:`Template` holds those fields already encoded and encodes only the rest, so an
output costs a few string and number encodings instead of a full fastavro write. The
bytes are Avro's binary encoding exactly (what ``fastavro.schemaless_writer`` writes for
the same values; ``tests/test_router_fast_outputs.py`` compares them).

Supported field types: null, boolean, int, long, string, bytes, enum, ``date`` and
``timestamp-millis``, unions of null and one of those, and maps and arrays of strings,
ints and longs: what the signal hub's output records use. :func:`writer_for` raises
``ValueError`` for anything else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["RecordWriter", "Template", "writer_for"]

Encoder = Callable[[Any], bytes]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: the encoded non-negative numbers 0-63, also lengths (one byte each)
_SHORT = [bytes((n << 1,)) for n in range(64)]


def _long(n: int) -> bytes:
    """Zig-zag varint, as Avro writes int and long."""
    if 0 <= n < 64:
        return _SHORT[n]
    return _varint(n)


@functools.lru_cache(maxsize=4096)  # timestamps repeat within a batch
def _varint(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(value: Any) -> bytes:
    raw = value.encode() if type(value) is str else str(value).encode()
    n = len(raw)
    return (_SHORT[n] if n < 64 else _long(n)) + raw


def _bytes(value: bytes) -> bytes:
    n = len(value)
    return (_SHORT[n] if n < 64 else _long(n)) + value


def _boolean(value: Any) -> bytes:
    return b"\x01" if value else b"\x00"


def _timestamp_millis(value: Any) -> bytes:
    if isinstance(value, datetime):  # as fastavro converts an aware datetime
        delta = value - _EPOCH
        value = (delta.days * 86400 + delta.seconds) * 1000 + int(delta.microseconds / 1000)
    return _long(value)


def _date(value: Any) -> bytes:
    if isinstance(value, date):
        value = value.toordinal() - _EPOCH_ORDINAL
    return _long(value)


def _enum(symbols: list[str]) -> Encoder:
    index = {s: _long(i) for i, s in enumerate(symbols)}

    def encode(value: Any) -> bytes:
        return index[str(value)]

    return encode


def _collection(kind: str, item: Encoder) -> Encoder:
    keys: dict[str, bytes] = {}  # map keys are few (field names): encoded once

    def encode_map(value: Mapping[str, Any]) -> bytes:
        if not value:
            return b"\x00"
        parts = [_long(len(value))]
        for k, v in value.items():
            key = keys.get(k)
            if key is None:
                if len(keys) > 10_000:
                    keys.clear()
                key = keys[k] = _string(k)
            if type(v) is str and item is _string:  # (inline: the common case)
                raw = v.encode()
                n = len(raw)
                parts += (key, _SHORT[n] if n < 64 else _long(n), raw)
            else:
                parts += (key, item(v))
        parts.append(b"\x00")
        return b"".join(parts)

    def encode_array(value: list[Any]) -> bytes:
        if not value:
            return b"\x00"
        return b"".join([_long(len(value)), *map(item, value), b"\x00"])

    return encode_map if kind == "map" else encode_array


def _optional(inner: Encoder) -> Encoder:
    def encode(value: Any) -> bytes:
        return b"\x00" if value is None else b"\x02" + inner(value)

    encode.optional_of = inner  # type: ignore[attr-defined]  # read by Template
    return encode


def _encoder(schema: Any) -> Encoder:
    if isinstance(schema, list):
        if len(schema) == 2 and schema[0] == "null":
            return _optional(_encoder(schema[1]))
        raise ValueError(f"union {schema} is not null and one type")
    if isinstance(schema, str):
        schema = {"type": schema}
    kind, logical = schema["type"], schema.get("logicalType")
    if kind == "long" and logical == "timestamp-millis":
        return _timestamp_millis
    if kind == "int" and logical == "date":
        return _date
    simple: dict[str, Encoder] = {
        "null": lambda _: b"", "boolean": _boolean, "int": _long, "long": _long,
        "string": _string, "bytes": _bytes,
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return _enum(schema["symbols"])
    if kind in ("map", "array"):
        inner = schema["values" if kind == "map" else "items"]
        name = inner.get("type") if isinstance(inner, dict) and len(inner) == 1 else inner
        if name not in ("string", "int", "long"):
            raise ValueError(f"{kind} of {inner} is not supported")
        return _collection(kind, _encoder(inner))
    raise ValueError(f"type {kind} is not supported")


class Template:
    """A record with some fields fixed: :meth:`encode` takes the others.

    ``encode`` is generated Python (one function per template, built once): the fixed
    bytes as constants, strings and optional strings encoded inline, other types by
    their encoder; so an output costs one call instead of one per field."""

    __slots__ = ("encode", "source", "variable")

    def __init__(self, parts: list[bytes | tuple[str, Encoder]]) -> None:
        names: dict[str, Any] = {"_SHORT": _SHORT, "_long": _long, "str": str, "type": type,
                                 "len": len}
        body: list[str] = []
        pieces: list[str] = []
        variable: list[str] = []

        def const(value: bytes) -> None:
            if value:
                key = f"_b{len(names)}"
                names[key] = value
                pieces.append(key)

        for part in parts:
            if isinstance(part, bytes):
                const(part)
                continue
            name, enc = part
            i = len(variable)
            variable.append(name)
            body.append(f"    v{i} = values[{name!r}]")
            inner = getattr(enc, "optional_of", None)
            if enc is _string or inner is _string:
                text = (f"(v{i}.encode() if type(v{i}) is str else str(v{i}).encode())")
                if inner is None:
                    body.append(f"    s{i} = {text}")
                    body.append(f"    n{i} = len(s{i})")
                    body.append(f"    h{i} = _SHORT[n{i}] if n{i} < 64 else _long(n{i})")
                else:
                    body.append(f"    if v{i} is None:")
                    body.append(f"        h{i} = b'\\x00'")
                    body.append(f"        s{i} = b''")
                    body.append("    else:")
                    body.append(f"        s{i} = {text}")
                    body.append(f"        n{i} = len(s{i})")
                    body.append(f"        h{i} = b'\\x02' + (_SHORT[n{i}] if n{i} < 64"
                                f" else _long(n{i}))")
                pieces += [f"h{i}", f"s{i}"]
            else:
                key = f"_e{len(names)}"
                names[key] = enc
                pieces.append(f"{key}(v{i})")
        joined = ", ".join(pieces)
        lines = ["def encode(values):", *body,
                 f"    return b''.join(({joined},))" if pieces else "    return b''"]
        self.source = "\n".join(lines)
        exec(compile(self.source, f"<template of {', '.join(variable) or 'nothing'}>",  # noqa: S102
                     "exec"), names)  # (source generated here from the schema)
        #: the Avro body with ``values`` for the variable fields
        self.encode: Callable[[Mapping[str, Any]], bytes] = names["encode"]
        #: the fields :meth:`encode` needs
        self.variable = tuple(variable)


class RecordWriter:
    """Writes one record schema (a parsed ``.avsc`` as a dict)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.name = str(schema["name"])
        self.fields: list[tuple[str, Encoder]] = [
            (str(f["name"]), _encoder(f["type"])) for f in schema["fields"]
        ]

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """The Avro body of ``record`` (a missing field is written as null)."""
        return b"".join([enc(record.get(name)) for name, enc in self.fields])

    def template(self, fixed: Mapping[str, Any]) -> Template:
        """A template with the fields in ``fixed`` encoded now."""
        unknown = set(fixed) - {name for name, _ in self.fields}
        if unknown:
            raise ValueError(f"{self.name} has no field(s) {sorted(unknown)}")
        parts: list[bytes | tuple[str, Encoder]] = []
        for name, enc in self.fields:
            if name in fixed:
                chunk = enc(fixed[name])
                if parts and isinstance(parts[-1], bytes):
                    parts[-1] += chunk
                else:
                    parts.append(chunk)
            else:
                parts.append((name, enc))
        return Template(parts)


def writer_for(schema: Mapping[str, Any]) -> RecordWriter:
    """A :class:`RecordWriter` of ``schema``; ValueError for an unsupported field type."""
    return RecordWriter(schema)
