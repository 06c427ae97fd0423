"""Dead letters: a message that cannot be handled is kept, with the reason, on
``deadletter.v1`` (original bytes, topic, partition, offset, error class and message).

Reason codes (the ``DeadLetterReason`` enum) tell an operator what to do next.

:class:`DeadLetterWriter` writes them; :func:`read_deadletters` reads them back (for
``signalhub deadletters list`` and the operator dashboard), and :func:`replay_deadletters`
/ :func:`replay_one` send the original messages through again (for ``signalhub
deadletters replay`` and the dashboard's replay buttons).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub import metrics
from hub.bus.base import Bus, Consumer, Message, Record, TopicSpec
from hub.errors import DecodeError, NotWireFormat, SchemaNotFound, SignalRejected
from hub.serde import AvroSerde
from hub.topics import DEADLETTER, SEALED_INTAKE, SIGNAL_TOPICS

if TYPE_CHECKING:
    from hub.connect import Connection

__all__ = [
    "REPLAY_GROUP",
    "DeadLetter",
    "DeadLetterWriter",
    "read_deadletters",
    "reason_for",
    "replay_deadletters",
    "replay_one",
    "replayable",
]

#: the consumer group whose committed offset says what was replayed already
REPLAY_GROUP = "signalhub-deadletter-replay"
_ALERT_TOPIC = re.compile(r"^alerts\.[a-z0-9][a-z0-9-]{1,62}\.v1$")


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


# -- reading and replaying ------------------------------------------------------------------


def replayable(dl: dict[str, Any]) -> bool:
    """Whether a dead letter can go back: a signal to its signal topic (a sealed one to
    intake.sealed.v1); an alert only when a sink could not deliver it (DELIVERY_FAILED),
    back to its team's alert topic; never one without its original bytes."""
    if dl["original_value"] is None:
        return False
    if dl["topic"] in SIGNAL_TOPICS.values() or dl["topic"] == SEALED_INTAKE:
        return True
    return dl["reason_code"] == "DELIVERY_FAILED" and bool(_ALERT_TOPIC.match(dl["topic"]))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter as read back: its offset on deadletter.v1 and the decoded record."""

    offset: int
    record: dict[str, Any]

    @property
    def replayable(self) -> bool:
        return replayable(self.record)


def _read(conn: Connection, group: str | None, timeout: float
          ) -> tuple[list[Message], Consumer | None]:
    """Every message on deadletter.v1 after ``group``'s committed offset (all of them for
    a throw-away group); the consumer stays open when a group is named, for its commit."""
    conn.bus.create_topic(TopicSpec(DEADLETTER, 1))
    consumer = conn.bus.consumer(
        group or f"signalhub-dl-browser-{uuid.uuid4().hex[:8]}", [DEADLETTER]
    )
    out: list[Message] = []
    try:
        while batch := consumer.poll(1000, timeout):
            out.extend(batch)
            timeout = 0.5
    except Exception:
        consumer.close()
        raise
    if group is not None:
        return out, consumer
    consumer.close()
    return out, None


def read_deadletters(conn: Connection, *, timeout: float = 3.0) -> list[DeadLetter]:
    """Every dead letter on deadletter.v1, oldest first (``timeout``: how long to wait
    for the first batch)."""
    messages, _ = _read(conn, None, timeout)
    return [DeadLetter(m.offset, conn.serde.decode(m.value).record) for m in messages]


def _replay_record(dl: dict[str, Any], dl_offset: int) -> Record:
    """The original message of a dead letter, as it goes back to its topic."""
    headers = tuple(
        (h["key"], h["value"]) for h in dl["original_headers"] if h["key"] != "dl_replayed_from"
    )
    headers += (("dl_replayed_from", f"{DEADLETTER}/{dl_offset}".encode()),)
    return Record(dl["topic"], dl["original_value"], dl["original_key"], headers)


def replay_deadletters(conn: Connection, reason: str | None = None) -> tuple[int, int]:
    """Replay every dead letter not replayed yet (only ``reason``'s, when given); return
    (replayed, skipped). Progress is committed in the group :data:`REPLAY_GROUP`."""
    messages, consumer = _read(conn, REPLAY_GROUP, 3.0)
    assert consumer is not None
    try:
        records, skipped = [], 0
        for m in messages:
            dl = conn.serde.decode(m.value).record
            if not replayable(dl) or (reason and dl["reason_code"] != reason):
                skipped += 1
                continue
            records.append(_replay_record(dl, m.offset))
        if records:
            conn.bus.produce(records)
        consumer.commit()
    finally:
        consumer.close()
    return len(records), skipped


def replay_one(conn: Connection, offset: int) -> str:
    """Replay the dead letter at ``offset`` of deadletter.v1 (whether or not it was
    replayed before: the router and the sinks drop what they handled already by its
    id); return the outcome in words. Raises LookupError when there is no such dead
    letter and ValueError when it cannot be replayed."""
    for letter in read_deadletters(conn):
        if letter.offset != offset:
            continue
        dl = letter.record
        if not letter.replayable:
            raise ValueError(
                f"dead letter {offset} ({dl['reason_code']} from {dl['topic']}) cannot be "
                "replayed: only signals, and alerts a sink could not deliver, go back"
            )
        conn.bus.produce([_replay_record(dl, offset)])
        return f"replayed dead letter {offset} ({dl['reason_code']}) to {dl['topic']}"
    raise LookupError(f"no dead letter at offset {offset}")
