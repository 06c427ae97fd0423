"""Dead letters: a message that cannot be handled is kept, with the reason, on
``deadletter.v1`` (original bytes, topic, partition, offset, error class and message).

Reason codes (the ``DeadLetterReason`` enum) tell an operator what to do next.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub import metrics
from hub.bus.base import Bus, Message, Record
from hub.errors import DecodeError, NotWireFormat, SchemaNotFound, SignalRejected
from hub.serde import AvroSerde
from hub.topics import DEADLETTER

__all__ = ["DeadLetterWriter", "reason_for"]


def reason_for(exc: BaseException) -> str:
    """The DeadLetterReason code for an error."""
    if isinstance(exc, NotWireFormat):
        return "NOT_WIRE_FORMAT"
    if isinstance(exc, SchemaNotFound):
        return "SCHEMA_NOT_FOUND"
    if isinstance(exc, DecodeError):
        return "DECODE_FAILED"
    if isinstance(exc, SignalRejected):
        return exc.reason_code
    return "INTERNAL_ERROR"


class DeadLetterWriter:
    """Produces DeadLetter records to ``deadletter.v1`` (durably, before returning)."""

    def __init__(self, bus: Bus, serde: AvroSerde, topic: str = DEADLETTER) -> None:
        self.bus = bus
        self.serde = serde
        self.topic = topic

    def record_for(
        self,
        message: Message,
        exc: BaseException,
        *,
        stage: str,
        reason: str | None = None,
        attempts: int = 1,
        event_id: str | None = None,
        trace_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "original_key": message.key,
            "original_value": message.value,
            "original_headers": [{"key": k, "value": v} for k, v in message.headers],
            "original_timestamp": (
                datetime.fromtimestamp(message.timestamp_ms / 1000, UTC)
                if message.timestamp_ms
                else None
            ),
            "reason_code": reason or reason_for(exc),
            "error_class": type(exc).__name__,
            "error_message": str(exc)[:2000],
            "stage": stage,
            "attempts": attempts,
            "failed_at": datetime.now(UTC),
            "event_id": event_id,
            "trace_id": trace_id,
        }

    def send(self, message: Message, exc: BaseException, *, stage: str, **extra: Any) -> None:
        """Write one dead letter for ``message`` that failed with ``exc`` at ``stage``."""
        self.send_many([(message, exc)], stage=stage, **extra)

    def build(self, message: Message, exc: BaseException, *, stage: str, **extra: Any) -> Record:
        """The dead-letter record for ``message``, to produce along with other output."""
        dl = self.record_for(message, exc, stage=stage, **extra)
        metrics.dead_letter(dl["reason_code"], stage)
        headers = (
            ("dl_reason", dl["reason_code"].encode()),
            ("dl_error_class", dl["error_class"].encode()),
            ("dl_origin", f"{message.topic}/{message.partition}/{message.offset}".encode()),
        )
        return Record(
            self.topic, self.serde.encode(self.topic, "DeadLetter", dl), message.key, headers
        )

    def send_many(
        self, failures: list[tuple[Message, BaseException]], *, stage: str, **extra: Any
    ) -> None:
        records = [self.build(m, exc, stage=stage, **extra) for m, exc in failures]
        if records:
            self.bus.produce(records)
