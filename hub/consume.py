"""A consumer of Avro wire-format topics that never stops on bad input.

``AvroConsumer.poll`` decodes each message; one that is not wire format, names an
unknown schema id or does not decode is written to the dead-letter topic (durably,
before ``poll`` returns) and skipped, so committing after processing never loses it.
With ``collect=True`` (the stream loop) the dead letters are kept in :attr:`pending`
instead, to be produced with the batch's outputs and offsets in one transaction.
``next_offsets`` holds, per partition, the offset after the last message of the last
poll (what to commit once the batch is done). With ``tombstones=True`` (a compacted
topic) a message without a value is an :class:`Event` named :data:`TOMBSTONE` with an
empty record, not a dead letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from hub.bus.base import Consumer, Message, Record, TopicPartition
from hub.deadletters import DeadLetterWriter
from hub.errors import SchemaNotFound, SerdeError
from hub.serde import AvroSerde

__all__ = ["TOMBSTONE", "AvroConsumer", "Event"]

log = structlog.get_logger(__name__)

#: the ``record_name`` of a message without a value (``tombstones=True``)
TOMBSTONE = "<tombstone>"


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded message: the bus message plus its record."""

    message: Message
    schema_id: int
    record_name: str
    record: dict[str, Any]


class AvroConsumer:
    """Wraps a bus consumer: decoded events out, dead letters for the rest."""

    def __init__(
        self, consumer: Consumer, serde: AvroSerde, dead_letters: DeadLetterWriter,
        *, stage: str = "decode", collect: bool = False, tombstones: bool = False,
    ) -> None:
        self.consumer = consumer
        self.serde = serde
        self.dead_letters = dead_letters
        self.stage = stage
        self.collect = collect
        self.tombstones = tombstones
        self.dead_lettered = 0
        self.pending: list[Record] = []
        self.next_offsets: dict[TopicPartition, int] = {}
        self.first_offsets: dict[TopicPartition, int] = {}

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Event]:
        events: list[Event] = []
        failures: list[tuple[Message, BaseException]] = []
        self.next_offsets = {}
        self.first_offsets = {}
        for message in self.consumer.poll(max_records, timeout):
            tp = TopicPartition(message.topic, message.partition)
            self.first_offsets.setdefault(tp, message.offset)
            self.next_offsets[tp] = message.offset + 1
            if message.value is None and self.tombstones:
                events.append(Event(message, -1, TOMBSTONE, {}))
                continue
            try:
                decoded = self.serde.decode(message.value)
            except (SerdeError, SchemaNotFound) as exc:
                log.warning(
                    "dead letter", topic=message.topic, partition=message.partition,
                    offset=message.offset, error=type(exc).__name__,
                )
                failures.append((message, exc))
                continue
            events.append(Event(message, decoded.schema_id, decoded.record_name, decoded.record))
        if failures and self.collect:
            self.pending.extend(self.dead_letters.build(m, exc, stage=self.stage)
                                for m, exc in failures)
            self.dead_lettered += len(failures)
        elif failures:
            self.dead_letters.send_many(failures, stage=self.stage)
            self.dead_lettered += len(failures)
        return events

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self.consumer.commit(offsets)

    def close(self) -> None:
        self.consumer.close()
