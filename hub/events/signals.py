"""The signals sources send: a debt, an eviction risk, a young person leaving care.

Enums first (symbols identical to the Avro enums of the same name), then the models
and :data:`EVENT_TYPES`, the models by CloudEvents type."""

from __future__ import annotations

import enum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from hub.events.base import AvroModel, unique_items
from hub.values import (
    Cents,
    EventId,
    HouseNumber,
    HouseNumberAddition,
    MunicipalityCode,
    Postcode,
    Reference,
    SignalDate,
    SubjectRef,
    Text,
    UtcDatetime,
)

__all__ = [
    "EVENT_TYPES",
    "CreditorType",
    "DebtSignal",
    "DebtSignalKind",
    "EvictionRisk",
    "EvictionStage",
    "YouthCareExit",
    "YouthCareForm",
    "YouthSupportNeed",
]


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
        "uniqueItems": True}), AfterValidator(unique_items)]
    provider_contact_role: Text


#: the signal models by CloudEvents type / topic name part
EVENT_TYPES: dict[str, type[AvroModel]] = {
    "debt-signal": DebtSignal,
    "eviction-risk": EvictionRisk,
    "youth-care-exit": YouthCareExit,
}
