"""Avro bodies: :func:`encode_avro` and :func:`decode_avro` turn models into a plain Avro
body and back (no framing: the Confluent wire format is built elsewhere); :data:`MODELS`
names every top-level model by its record name."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, TypeVar, overload

import fastavro

from hub.errors import DecodeError, SchemaNotFound, SerdeError
from hub.events.alerts import AlertOutcome, TeamAlert
from hub.events.base import NAMESPACE, AvroModel
from hub.events.consent import ConsentChange
from hub.events.envelopes import DeadLetter, SealedSignal
from hub.events.processing import ProcessingRecord
from hub.events.signals import DebtSignal, EvictionRisk, YouthCareExit
from hub.schemas import parsed_schema

__all__ = ["MODELS", "decode_avro", "encode_avro"]


#: every top-level model by Avro record name
MODELS: dict[str, type[AvroModel]] = {
    m.avro_name: m
    for m in (
        DebtSignal,
        EvictionRisk,
        YouthCareExit,
        ConsentChange,
        TeamAlert,
        ProcessingRecord,
        DeadLetter,
        AlertOutcome,
        SealedSignal,
    )
}

M = TypeVar("M", bound=AvroModel)


def _model_for(name: str) -> type[AvroModel]:
    short = name.removeprefix(NAMESPACE + ".")
    try:
        return MODELS[short]
    except KeyError:
        raise SchemaNotFound(f"no event model for Avro record {name!r}") from None


def encode_avro(model: AvroModel) -> bytes:
    """The plain Avro body of ``model`` (schemaless, no framing), written with its schema."""
    buffer = io.BytesIO()
    try:
        fastavro.schemaless_writer(buffer, parsed_schema(model.avro_name), model.to_avro())
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise SerdeError(f"cannot encode {model.avro_name}: {exc}") from exc
    return buffer.getvalue()


@overload
def decode_avro(
    name: type[M], data: bytes, *, writer_schema: Mapping[str, Any] | None = None
) -> M: ...


@overload
def decode_avro(
    name: str, data: bytes, *, writer_schema: Mapping[str, Any] | None = None
) -> AvroModel: ...


def decode_avro(
    name: str | type[AvroModel],
    data: bytes,
    *,
    writer_schema: Mapping[str, Any] | None = None,
) -> AvroModel:
    """Decode a plain Avro body into the model for ``name`` (record name or model class).

    ``writer_schema`` is the schema the body was written with, when it differs from the
    working schema (e.g. looked up in the registry); Avro schema resolution then maps it
    onto the working schema. Raises :class:`~hub.errors.DecodeError` when the bytes do not
    decode (or leave bytes over), and pydantic's ``ValidationError`` when they decode but
    break a rule of the model (e.g. a malformed postcode).
    """
    model = name if isinstance(name, type) else _model_for(name)
    reader = parsed_schema(model.avro_name)
    buffer = io.BytesIO(data)
    try:
        writer = reader if writer_schema is None else fastavro.parse_schema(dict(writer_schema))
        record = fastavro.schemaless_reader(buffer, writer, reader if writer_schema else None)
    except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
        raise DecodeError(f"cannot decode {model.avro_name}: {exc!r}") from exc
    left = len(data) - buffer.tell()
    if left:
        raise DecodeError(f"cannot decode {model.avro_name}: {left} byte(s) left over")
    if not isinstance(record, dict):
        raise DecodeError(f"cannot decode {model.avro_name}: not a record")
    return model.from_avro(record)
