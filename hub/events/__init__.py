"""Pydantic models of the Avro records in ``schemas/``, kept in step by ``tests/test_schemas.py``.

Each model has the same field names as its schema, a class variable ``avro_name`` (the
record name, which is also the schema file name), ``to_avro()`` (a dict for fastavro)
and ``from_avro()``. :func:`encode_avro` and :func:`decode_avro` turn models into a plain
Avro body and back (no framing: the Confluent wire format is built elsewhere).

Values are checked on the way in by the value types of :mod:`hub.values` (bounded,
safe text; postcodes and municipality codes; dates in range; UUIDs; pseudonyms exactly
as the hub makes them); house numbers start at 1 and amounts in cents are never negative.

The models live by meaning, each module with its enums; import them from here:

- :mod:`hub.events.base`: :class:`AvroModel` and :data:`NAMESPACE`;
- :mod:`hub.events.signals`: the signals sources send and :data:`EVENT_TYPES`;
- :mod:`hub.events.consent`: :class:`ConsentChange`;
- :mod:`hub.events.alerts`: :class:`TeamAlert` and :class:`AlertOutcome`;
- :mod:`hub.events.processing`: :class:`ProcessingRecord` (the processing log);
- :mod:`hub.events.envelopes`: :class:`DeadLetter` and :class:`SealedSignal`, records
  that carry another record's bytes;
- :mod:`hub.events.avro`: :data:`MODELS`, :func:`encode_avro`, :func:`decode_avro`.
"""

from __future__ import annotations

from hub.events.alerts import AlertOutcome, AlertUrgency, PickUpOutcome, TeamAlert
from hub.events.avro import MODELS, decode_avro, encode_avro
from hub.events.base import NAMESPACE, AvroModel
from hub.events.consent import ConsentAction, ConsentChange
from hub.events.envelopes import DeadLetter, DeadLetterHeader, DeadLetterReason, SealedSignal
from hub.events.processing import DecisionOutcome, ProcessingRecord, ProcessingStatus
from hub.events.signals import (
    EVENT_TYPES,
    CreditorType,
    DebtSignal,
    DebtSignalKind,
    EvictionRisk,
    EvictionStage,
    YouthCareExit,
    YouthCareForm,
    YouthSupportNeed,
)
from hub.values import utc_millis

__all__ = [
    "EVENT_TYPES",
    "MODELS",
    "NAMESPACE",
    "AlertOutcome",
    "AlertUrgency",
    "AvroModel",
    "ConsentAction",
    "ConsentChange",
    "CreditorType",
    "DeadLetter",
    "DeadLetterHeader",
    "DeadLetterReason",
    "DebtSignal",
    "DebtSignalKind",
    "DecisionOutcome",
    "EvictionRisk",
    "EvictionStage",
    "PickUpOutcome",
    "ProcessingRecord",
    "ProcessingStatus",
    "SealedSignal",
    "TeamAlert",
    "YouthCareExit",
    "YouthCareForm",
    "YouthSupportNeed",
    "decode_avro",
    "encode_avro",
    "utc_millis",
]
