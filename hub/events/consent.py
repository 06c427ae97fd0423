"""A consent granted or withdrawn: the record of the consent topic."""

from __future__ import annotations

import enum
from typing import Annotated, ClassVar, Self

from pydantic import AfterValidator, Field, model_validator

from hub.events.base import AvroModel, unique_items
from hub.values import Code, EventId, MunicipalityCode, SubjectRef, Text, UtcDatetime

__all__ = [
    "ConsentAction",
    "ConsentChange",
]


class ConsentAction(enum.StrEnum):
    """Consent granted or withdrawn (``nl.signalhub.v1.ConsentAction``)."""

    GRANTED = "GRANTED"
    WITHDRAWN = "WITHDRAWN"


class ConsentChange(AvroModel):
    """A consent granted or withdrawn (schema ``ConsentChange``)."""

    avro_name: ClassVar[str] = "ConsentChange"

    event_id: EventId
    consent_id: Code
    action: ConsentAction
    subject_ref: SubjectRef
    purpose: Code
    recipient_scope: Annotated[list[Code], Field(max_length=50, json_schema_extra={
        "uniqueItems": True}), AfterValidator(unique_items)]
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
