"""The hub's sealed intake: :class:`SealedIntakeSource` turns sealed signals on
``intake.sealed.v1`` into signals on their signal topics.

Systems that produce to the bus directly seal each signal, BSN included, to the hub's
intake public key (:mod:`hub.sealed`; :class:`hub.client.HubClient`, ``signalhub import
--seal-to``), so they never need a pseudonym key. This source, run by ``signalhub run``
when ``HUB_INTAKE_PRIVATE_KEY`` is set, reads them in its own consumer group
(``sealed-intake``), opens each box with the private key, validates and pseudonymises
the signal with :func:`hub.intake.build_signal` exactly as the HTTP API does (``source``
from the record) and publishes it with :class:`~hub.intake.SignalPublisher`. The offsets
are committed after the publish (at-least-once; the router is idempotent on event_id).

What fails becomes a dead letter (``deadletter.v1``, stage ``intake.sealed``) that keeps
the sealed bytes: DECODE_FAILED when the box does not open (another key, changed on the
way) or holds no sealed signal, VALIDATION_FAILED (field names only, never a value) when
its content is not a valid signal, UNKNOWN_EVENT_TYPE for an event type the hub does not
know, INTERNAL_ERROR (the error class only) for anything else: no content stops the
intake. Nothing opened is ever logged or dead-lettered.
"""

from __future__ import annotations

import threading

import structlog
from pydantic import SecretStr, ValidationError

from connectors.sources.base import Source
from hub import metrics
from hub.bus.base import Message, Record
from hub.connect import Connection
from hub.consume import AvroConsumer, Event
from hub.deadletters import DeadLetterWriter
from hub.errors import CommitFailed, DecodeError, HubError, SignalRejected
from hub.events import NAMESPACE
from hub.intake import IntakeError, SignalPublisher, build_signal
from hub.intake_keys import Opener
from hub.pseudonym import Pseudonymiser
from hub.sealed import SealedSignal, open_signal
from hub.topics import SEALED_INTAKE, ensure_topics
from hub.values import field_errors

__all__ = ["GROUP", "STAGE", "SealedIntakeSource"]

log = structlog.get_logger(__name__)

#: the consumer group of the sealed intake
GROUP = "sealed-intake"
#: the stage named in its dead letters
STAGE = "intake.sealed"
_RECORD = f"{NAMESPACE}.SealedSignal"


def _fields(names: list[str]) -> str:
    return ", ".join(sorted(set(names))) or "(signal)"


class SealedIntakeSource(Source):
    """Opens sealed signals and publishes them as signals (see module doc)."""

    kind = "sealed"

    def __init__(self, conn: Connection, private_key: SecretStr | str,
                 pseudonymiser: Pseudonymiser | None, *, group: str = GROUP,
                 batch_size: int = 500) -> None:
        self.conn = conn
        self.pseudonymiser = pseudonymiser
        self.group = group
        self.batch_size = batch_size
        self._opener = Opener(private_key)
        self._publisher = SignalPublisher(conn.bus, conn.serde)
        self._dead_letters = DeadLetterWriter(conn.bus, conn.serde)
        self._reader: AvroConsumer | None = None
        self._stop = threading.Event()
        #: signals published and dead letters written since the start
        self.counts = {"published": 0, "dead_lettered": 0}

    def setup(self) -> None:
        if self._reader is None:
            ensure_topics(self.conn.bus)
            consumer = self.conn.bus.consumer(self.group, [SEALED_INTAKE])
            self._reader = AvroConsumer(consumer, self.conn.serde, self._dead_letters,
                                        stage=STAGE)

    def run(self) -> None:
        """Open and publish until :meth:`stop` is called."""
        self.setup()
        log.info("sealed intake started", group=self.group, key_id=self._opener.key_id)
        while not self._stop.is_set():
            self.step(timeout=0.5)
        log.info("sealed intake stopped", **self.counts)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def step(self, timeout: float = 1.0) -> int:
        """Poll one batch, publish its signals and dead letters, commit; messages read."""
        self.setup()
        reader = self._reader
        assert reader is not None
        before = reader.dead_lettered
        events = reader.poll(self.batch_size, timeout)
        metrics.consumed(STAGE, events)
        if not events and reader.dead_lettered == before:
            return 0
        records = [self._handle(event) for event in events]
        if records:
            self.conn.bus.produce(records)
            metrics.produced(STAGE, records)
        try:
            reader.commit()
        except CommitFailed as exc:
            log.warning("commit refused after a rebalance; the batch will be read again",
                        error=str(exc))
        self.counts["dead_lettered"] += reader.dead_lettered - before
        return len(events) + reader.dead_lettered - before

    def _handle(self, event: Event) -> Record:
        """The signal's record, or a dead letter for the sealed message."""
        message = event.message
        event_id: str | None = None
        try:
            if event.record_name != _RECORD:
                raise SignalRejected(f"{event.record_name} is not a SealedSignal",
                                     "VALIDATION_FAILED")
            try:
                sealed = SealedSignal.from_avro(event.record)
            except ValidationError as exc:
                names = [e.field for e in field_errors(exc)]
                raise SignalRejected(f"invalid sealed record: {_fields(names)}",
                                     "VALIDATION_FAILED") from None
            event_id = sealed.event_id
            payload = open_signal(self._opener, sealed)
            try:
                signal = build_signal(sealed.event_type, payload, source=sealed.source,
                                      pseudonymiser=self.pseudonymiser)
            except IntakeError as exc:
                names = [e.field for e in exc.errors]
                reason = ("UNKNOWN_EVENT_TYPE" if names == ["event_type"]
                          else "VALIDATION_FAILED")
                raise SignalRejected(f"invalid signal in the sealed payload: {_fields(names)}",
                                     reason) from None
            record = self._publisher.record(sealed.event_type, signal)
        except (DecodeError, SignalRejected) as exc:
            return self._dead_letter(message, exc, event_id)
        except Exception as exc:  # a bug: never stop the intake, never echo the content
            return self._dead_letter(message, SignalRejected(
                f"internal error ({type(exc).__name__}) handling the sealed signal: report"
                " it, replay after the fix", "INTERNAL_ERROR"), event_id)
        self.counts["published"] += 1
        return record

    def _dead_letter(self, message: Message, exc: HubError, event_id: str | None) -> Record:
        self.counts["dead_lettered"] += 1
        log.warning("dead letter", stage=STAGE, topic=message.topic,
                    partition=message.partition, offset=message.offset, event_id=event_id,
                    error=type(exc).__name__,
                    reason=getattr(exc, "reason_code", "DECODE_FAILED"))
        return self._dead_letters.build(message, exc, stage=STAGE, event_id=event_id)
