"""Pydantic models of the Avro records in ``schemas/``, kept in step by ``tests/test_schemas.py``.

Each model has the same field names as its schema, a class variable ``avro_name`` (the
record name, which is also the schema file name), ``to_avro()`` (a dict for fastavro)
and ``from_avro()``. :func:`encode_avro` and :func:`decode_avro` turn models into a plain
Avro body and back (no framing: the Confluent wire format is built elsewhere).

Values are checked on the way in by the value types of :mod:`hub.values` (bounded,
safe text; postcodes and municipality codes; dates in range; UUIDs; pseudonyms exactly
as the hub makes them); house numbers start at 1 and amounts in cents are never negative.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self, TypeVar, overload

import fastavro
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from hub.errors import DecodeError, SchemaNotFound, SerdeError
from hub.schemas import parsed_schema
from hub.values import (
    INT_MAX,
    LONG_MAX,
    Cents,
    Code,
    Count,
    EventId,
    HouseNumber,
    HouseNumberAddition,
    MunicipalityCode,
    Postcode,
    Reference,
    SignalDate,
    SpanId,
    SubjectRef,
    Text,
    TraceId,
    UtcDatetime,
    utc_millis,
)

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

#: Avro namespace of every record and enum
NAMESPACE = "nl.signalhub.v1"

def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not name the same value twice")
    return values


# --- enums (symbols identical to the Avro enums of the same name) -------------------------


class CreditorType(enum.StrEnum):
    """DDAS creditor type (``nl.signalhub.v1.CreditorType``)."""

    ENERGY = "ENERGY"
    RENT = "RENT"
    MORTGAGE = "MORTGAGE"
    HEALTH_INSURANCE_CAK = "HEALTH_INSURANCE_CAK"
    CARE = "CARE"
    WATER = "WATER"
    DUO = "DUO"
    TAX_AUTHORITY = "TAX_AUTHORITY"
    CAK_OWN_CONTRIBUTION = "CAK_OWN_CONTRIBUTION"
    BENEFITS_AGENCY = "BENEFITS_AGENCY"
    OTHER = "OTHER"


class DebtSignalKind(enum.StrEnum):
    """What a creditor reports (``nl.signalhub.v1.DebtSignalKind``)."""

    ARREARS = "ARREARS"
    END_OF_SUPPLY = "END_OF_SUPPLY"
    ARREARS_RESOLVED = "ARREARS_RESOLVED"


class EvictionStage(enum.StrEnum):
    """Stage of an eviction procedure (``nl.signalhub.v1.EvictionStage``)."""

    RENT_ARREARS = "RENT_ARREARS"
    SUMMONS = "SUMMONS"
    JUDGMENT = "JUDGMENT"
    EVICTION_SCHEDULED = "EVICTION_SCHEDULED"
    EXECUTED = "EXECUTED"
    RESOLVED = "RESOLVED"


class YouthCareForm(enum.StrEnum):
    """Form of youth care with accommodation (``nl.signalhub.v1.YouthCareForm``)."""

    RESIDENTIAL = "RESIDENTIAL"
    FOSTER = "FOSTER"
    FAMILY_HOME = "FAMILY_HOME"
    SECURE = "SECURE"


class YouthSupportNeed(enum.StrEnum):
    """Area of support needed after care (``nl.signalhub.v1.YouthSupportNeed``)."""

    HOUSING = "HOUSING"
    INCOME = "INCOME"
    DEBT = "DEBT"
    CARE = "CARE"
    EDUCATION_WORK = "EDUCATION_WORK"


class ConsentAction(enum.StrEnum):
    """Consent granted or withdrawn (``nl.signalhub.v1.ConsentAction``)."""

    GRANTED = "GRANTED"
    WITHDRAWN = "WITHDRAWN"


class AlertUrgency(enum.StrEnum):
    """How quickly a team must act (``nl.signalhub.v1.AlertUrgency``)."""

    NORMAL = "NORMAL"
    URGENT = "URGENT"


class ProcessingStatus(enum.StrEnum):
    """OpenTelemetry span status (``nl.signalhub.v1.ProcessingStatus``)."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


class DecisionOutcome(enum.StrEnum):
    """What a processing step decided (``nl.signalhub.v1.DecisionOutcome``)."""

    FORWARDED = "FORWARDED"
    REFUSED = "REFUSED"
    DEAD_LETTERED = "DEAD_LETTERED"
    DUPLICATE_IGNORED = "DUPLICATE_IGNORED"
    RECORDED = "RECORDED"


class DeadLetterReason(enum.StrEnum):
    """Why an input was dead-lettered (``nl.signalhub.v1.DeadLetterReason``)."""

    NOT_WIRE_FORMAT = "NOT_WIRE_FORMAT"
    SCHEMA_NOT_FOUND = "SCHEMA_NOT_FOUND"
    DECODE_FAILED = "DECODE_FAILED"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    NO_TEAM = "NO_TEAM"
    UNKNOWN_MUNICIPALITY = "UNKNOWN_MUNICIPALITY"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class PickUpOutcome(enum.StrEnum):
    """Whether a team picked an alert up (``nl.signalhub.v1.PickUpOutcome``)."""

    PICKED_UP = "PICKED_UP"
    NOT_PICKED_UP = "NOT_PICKED_UP"


# --- models ------------------------------------------------------------------------------


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


class DebtSignal(AvroModel):
    """A payment-arrears signal from a creditor (schema ``DebtSignal``)."""

    avro_name: ClassVar[str] = "DebtSignal"

    event_id: EventId
    source: Text
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    municipality_code: MunicipalityCode | None = None
    subject_ref: SubjectRef
    postcode: Postcode
    house_number: HouseNumber
    house_number_addition: HouseNumberAddition | None = None
    creditor_type: CreditorType
    signal_kind: DebtSignalKind
    arrears_amount_cents: Cents
    arrears_since: SignalDate
    signal_date: SignalDate
    crisis: bool
    objection_recorded: bool
    supply_end_date: SignalDate | None = None
    creditor_reference: Reference | None = None


class EvictionRisk(AvroModel):
    """A step in an eviction procedure (schema ``EvictionRisk``)."""

    avro_name: ClassVar[str] = "EvictionRisk"

    event_id: EventId
    source: Text
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    municipality_code: MunicipalityCode | None = None
    subject_ref: SubjectRef
    postcode: Postcode
    house_number: HouseNumber
    house_number_addition: HouseNumberAddition | None = None
    stage: EvictionStage
    stage_date: SignalDate
    eviction_date: SignalDate | None = None
    arrears_amount_cents: Cents | None = None
    crisis: bool
    objection_recorded: bool
    case_reference: Reference | None = None


class YouthCareExit(AvroModel):
    """A young person leaving youth care with accommodation (schema ``YouthCareExit``)."""

    avro_name: ClassVar[str] = "YouthCareExit"

    event_id: EventId
    source: Text
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    municipality_code: MunicipalityCode | None = None
    subject_ref: SubjectRef
    postcode: Postcode | None = None
    turns_18_on: SignalDate
    care_form: YouthCareForm
    planned_end_date: SignalDate
    support_needs: Annotated[list[YouthSupportNeed], Field(max_length=5, json_schema_extra={
        "uniqueItems": True}), AfterValidator(_unique)]
    provider_contact_role: Text


class ConsentChange(AvroModel):
    """A consent granted or withdrawn (schema ``ConsentChange``)."""

    avro_name: ClassVar[str] = "ConsentChange"

    event_id: EventId
    consent_id: Code
    action: ConsentAction
    subject_ref: SubjectRef
    purpose: Code
    recipient_scope: Annotated[list[Code], Field(max_length=50, json_schema_extra={
        "uniqueItems": True}), AfterValidator(_unique)]
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None
    source: Text
    recorded_at: UtcDatetime
    municipality_code: MunicipalityCode | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.action is ConsentAction.GRANTED and not self.recipient_scope:
            raise ValueError("recipient_scope must name at least one recipient for GRANTED")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class TeamAlert(AvroModel):
    """What a team receives after a forward (schema ``TeamAlert``)."""

    avro_name: ClassVar[str] = "TeamAlert"
    _flat_avro: ClassVar[bool] = True

    alert_id: EventId
    event_id: EventId
    event_type: Text
    team_id: Text
    municipality_code: MunicipalityCode
    subject_ref: SubjectRef
    urgency: AlertUrgency
    due_date: SignalDate | None = None
    fields: dict[str, str]
    prior_signals_180d: Count
    legal_basis: Text
    created_at: UtcDatetime
    trace_id: TraceId
    source: Text | None = None


class ProcessingRecord(AvroModel):
    """One Logboek Dataverwerkingen entry (schema ``ProcessingRecord``)."""

    avro_name: ClassVar[str] = "ProcessingRecord"
    _flat_avro: ClassVar[bool] = True

    trace_id: TraceId
    span_id: SpanId
    parent_span_id: SpanId | None = None
    name: Text
    start_time: UtcDatetime
    end_time: UtcDatetime
    status: ProcessingStatus
    processing_activity_id: Text
    data_subject_id: SubjectRef | None = None
    data_subject_id_type: Text | None = None
    outcome: DecisionOutcome
    reason_code: Text
    reason_detail: str | None = None
    legal_basis: Text | None = None
    team_id: Text | None = None
    municipality_code: MunicipalityCode | None = None
    event_id: EventId | None = None
    event_type: Text | None = None
    alert_id: EventId | None = None
    #: per kind, how many entries the step handled (a retention run: deleted per store)
    counts: dict[str, Annotated[int, Field(ge=0, le=LONG_MAX)]] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_time < self.start_time:
            raise ValueError("end_time must not be before start_time")
        return self


class DeadLetterHeader(AvroModel):
    """One header of a dead-lettered record (record ``DeadLetterHeader`` inside ``DeadLetter``)."""

    avro_name: ClassVar[str] = "DeadLetterHeader"

    key: str
    value: bytes


class DeadLetter(AvroModel):
    """An input a stage could not handle, kept byte for byte (schema ``DeadLetter``)."""

    avro_name: ClassVar[str] = "DeadLetter"

    topic: Text
    partition: Annotated[int, Field(ge=0, le=INT_MAX)]
    offset: Annotated[int, Field(ge=0, le=LONG_MAX)]
    original_key: bytes | None = None
    original_value: bytes | None = None
    original_headers: list[DeadLetterHeader]
    original_timestamp: UtcDatetime | None = None
    reason_code: DeadLetterReason
    error_class: Text
    error_message: str
    stage: Text
    attempts: Annotated[int, Field(ge=1, le=INT_MAX)]
    failed_at: UtcDatetime
    event_id: str | None = None
    trace_id: TraceId | None = None


class AlertOutcome(AvroModel):
    """Picked up or not, told back to the alert's source (schema ``AlertOutcome``).

    Deliberately no reason or note: the source learns nothing else of the team's work.
    """

    avro_name: ClassVar[str] = "AlertOutcome"

    outcome_id: EventId
    alert_id: EventId
    event_id: EventId
    team_id: Text
    outcome: PickUpOutcome
    recorded_at: UtcDatetime
    source: Text


class SealedSignal(AvroModel):
    """A signal sealed to the hub's intake key (schema ``SealedSignal``)."""

    avro_name: ClassVar[str] = "SealedSignal"
    _flat_avro: ClassVar[bool] = True

    event_id: EventId
    event_type: Text
    source: Text
    key_id: Text
    sealed_payload: bytes
    sent_at: UtcDatetime


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

#: the signal models by CloudEvents type / topic name part
EVENT_TYPES: dict[str, type[AvroModel]] = {
    "debt-signal": DebtSignal,
    "eviction-risk": EvictionRisk,
    "youth-care-exit": YouthCareExit,
}


# --- Avro bodies -------------------------------------------------------------------------

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
