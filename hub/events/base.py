"""What every event model shares: :class:`AvroModel`, the Avro namespace, list rules."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

__all__ = ["NAMESPACE", "AvroModel", "unique_items"]


#: Avro namespace of every record and enum
NAMESPACE = "nl.signalhub.v1"


def unique_items(values: list[Any]) -> list[Any]:
    """The validator of a list the schema says holds no value twice (``uniqueItems``)."""
    if len(set(values)) != len(values):
        raise ValueError("must not name the same value twice")
    return values


def _plain(value: Any) -> Any:
    """Enums to their symbols, recursively; everything else as fastavro takes it."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class AvroModel(BaseModel):
    """Base of every event model: immutable, no unknown fields, Avro in and out."""

    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")

    #: the Avro record name (also the schema file name, without ``.avsc``)
    avro_name: ClassVar[str]

    #: True for a model whose fields are all scalars or ``dict[str, str]`` (no nested
    #: models, no lists): ``to_avro`` then reads the field values directly
    _flat_avro: ClassVar[bool] = False

    def to_avro(self) -> dict[str, Any]:
        """This model as a dict ready for fastavro (enums as their symbols)."""
        if self._flat_avro:
            # same dict as the model_dump walk below: the field values in field order,
            # enums as their symbols (a dict[str, str] value is copied like model_dump does)
            return {
                k: v.value if isinstance(v, enum.Enum) else dict(v) if isinstance(v, dict) else v
                for k, v in self.__dict__.items()
            }
        result: dict[str, Any] = _plain(self.model_dump())
        return result

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Self:
        """Build (and validate) the model from a record as fastavro reads it."""
        return cls.model_validate(dict(data))
