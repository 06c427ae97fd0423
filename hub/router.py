"""The consent-checking router.

For every signal on the three signal topics: validate it (schema and meaning), find the
municipality and the teams that cover the address, apply the policy and the consent
ledger per team, forward a minimised :class:`TeamAlert` to ``alerts.<team>.v1`` and write
one :class:`ProcessingRecord` to ``audit.v1`` for every decision, forwarded or refused.
Invalid data, an unknown municipality or an address no team covers become a dead letter
plus a processing record.

The router is a processor on the stream loop (hub/stream, docs/stream.md). Its state
(handled event ids, earlier signals per person) is partitioned like the signal topics
and changelogged (hub/router_state.py). Delivery: exactly-once by default (a batch's
alerts, processing records, dead letters, changelog records and input offsets are
committed in one transaction); with ``processing_guarantee=at-least-once`` a crash may
replay a batch, and the deterministic alert ids (uuid5 of event id and team) let
recipients drop the duplicates. Signals are keyed by the person's pseudonym, so their
order per person is kept.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from hub import cloudevents, metrics
from hub.audit import INTAKE_ACTIVITY, processing_record
from hub.bus.base import Record, TopicPartition
from hub.config import HubConfig
from hub.connect import Connection
from hub.consent import ConsentLedger, LedgerFollower
from hub.consume import AvroConsumer, Event
from hub.deadletters import DeadLetterWriter
from hub.errors import SignalRejected
from hub.events import DecisionOutcome, utc_millis
from hub.router_state import RouterState, changelog_topic
from hub.routing import (
    ALERT_NAMESPACE,
    BatchHistory,
    Evaluation,
    IdSource,
    NoHistory,
    alert_id_for,
    compile_config,
)
from hub.serde import AvroSerde
from hub.state_layout import StateLayout
from hub.stream import MemberSlot, Outcome, StreamLoop, claim_slot
from hub.stream.loop import Guarantee
from hub.topics import AUDIT, SIGNAL_RECORDS, SIGNAL_TOPICS, alerts_topic, ensure_topics

__all__ = ["ALERT_NAMESPACE", "ALERT_SOURCE", "ALERT_TYPE", "Evaluation", "Router",
           "RouterProcessor", "alert_id_for"]

log = structlog.get_logger(__name__)

#: partitions of the signal topics (and of the router's changelog)
_SIGNAL_PARTITIONS = 3
#: CloudEvents source and type of the alerts
ALERT_SOURCE = "urn:signalhub:router"
ALERT_TYPE = "nl.signalhub.team-alert.v1"
_ALERT, _RECORD = "TeamAlert", "ProcessingRecord"
_ALERT_HEADERS = cloudevents.EventHeaders(source=ALERT_SOURCE, type=ALERT_TYPE)
_EVENT_TYPE_OF_RECORD = {
    name: etype for etype, name in ((e, SIGNAL_RECORDS[t]) for e, t in SIGNAL_TOPICS.items())
}


class Router:
    """One router process: a member of the ``router`` consumer group."""

    def __init__(
        self,
        conn: Connection,
        config: HubConfig,
        state_dir: Path,
        *,
        group: str = "router",
        batch_size: int = 500,
        guarantee: Guarantee = "exactly-once",
    ) -> None:
        self.conn = conn
        self.config = config
        self.group = group
        self.batch_size = batch_size
        self.guarantee = guarantee
        self.state_dir = state_dir
        #: the configuration compiled: evaluator and output templates (ConfigError here)
        self.routing = compile_config(config)
        self.directory = self.routing.directory
        self.ledger = ConsentLedger(StateLayout.consent_ledger(state_dir))
        self.follower = LedgerFollower(conn.bus, conn.serde, self.ledger)
        self.state = RouterState(
            StateLayout.router_history(state_dir, group), config.history_days, bus=conn.bus,
            topic=changelog_topic(group), partitions=_SIGNAL_PARTITIONS,
        )
        self.dead_letters = DeadLetterWriter(conn.bus, conn.serde)
        self._loop: StreamLoop | None = None
        self._slot: MemberSlot | None = None
        self.counts: dict[str, int] = {}
        self._ids = IdSource()
        #: signal partition ends the last consent look-up covers (see :meth:`consent_for`)
        self._consent_covers: dict[TopicPartition, int] = {}

    # -- set-up ---------------------------------------------------------------------------

    def ensure_topics(self) -> None:
        ensure_topics(self.conn.bus, _SIGNAL_PARTITIONS, self.config)
        self.state.ensure_topic()

    @property
    def loop(self) -> StreamLoop:
        """The consume-process-produce-commit loop this router runs on (hub/stream)."""
        if self._loop is None:
            self._slot = claim_slot(self.state_dir, self.group)
            self._loop = StreamLoop(
                self.conn.bus, self.conn.serde, self.group, list(SIGNAL_TOPICS.values()),
                RouterProcessor(self), name="router", guarantee=self.guarantee,
                transactional_id=self._slot.transactional_id, batch_size=self.batch_size,
                dead_letters=self.dead_letters,
            )
        return self._loop

    @property
    def reader(self) -> AvroConsumer:
        """The loop's decoding consumer (reading it by hand bypasses the loop)."""
        return self.loop.reader

    # -- deciding ---------------------------------------------------------------------------

    def evaluate(
        self, event_type: str, record: dict[str, Any], now: datetime, *, explain: bool = True
    ) -> Evaluation:
        """What the router would decide for ``record`` now, against its consent ledger
        and without history (``prior_signals`` 0); produces nothing. See
        :class:`hub.routing.Evaluator` (``explain=True``: with the trace lines)."""
        return self.routing.evaluator.evaluate(
            event_type, record, self.ledger, NoHistory(), now, explain=explain
        )

    # -- producing ------------------------------------------------------------------------

    def _outputs(self, event: Event, ev: Evaluation, batch: _Batch) -> list[Record]:
        """The alerts, processing records and dead letters for one evaluated signal."""
        trace_id = self._ids.trace_id()
        if ev.rejected is not None:
            return self._rejected(event, ev, batch, trace_id)
        assert ev.data is not None
        data = ev.data
        # the validated (normalised) values
        event_id, subject_ref = str(data["event_id"]), str(data["subject_ref"])
        event_type, source, key = ev.event_type, data.get("source"), subject_ref.encode()
        templates = self.routing.templates
        end_ms = max(batch.now_ms, time.time_ns() // 1_000_000)
        values: dict[str, Any] = {
            "trace_id": trace_id, "start_time": batch.now_ms, "end_time": end_ms,
            "data_subject_id": subject_ref, "event_id": event_id, "alert_id": None,
        }
        out: list[Record] = []
        if not ev.decisions:
            municipality = ev.resolution.municipality if ev.resolution else None
            template = templates.no_policy_template(
                event_type, municipality.code if municipality else None
            )
            values["span_id"] = self._ids.span_id()
            out.append(Record(AUDIT, batch.frame(AUDIT, _RECORD) + template.encode(values), key))
            batch.count("refused:NO_POLICY")
        for d in ev.decisions:
            team = d.team
            values["span_id"] = span_id = self._ids.span_id()
            if d.forwarded:
                alert_id = values["alert_id"] = alert_id_for(event_id, team.id)
                alert = templates.alert_template(
                    event_type, team.id, team.municipality, d.legal_basis or "", d.urgent
                ).encode({
                    "alert_id": alert_id, "event_id": event_id, "subject_ref": subject_ref,
                    "due_date": d.due_date, "fields": d.fields,
                    "prior_signals_180d": ev.prior_signals, "created_at": batch.now_ms,
                    "trace_id": trace_id, "source": source,
                })
                topic = alerts_topic(team.id)
                out.append(Record(
                    topic, batch.frame(topic, _ALERT) + alert, key,
                    _ALERT_HEADERS(id=alert_id, time=batch.now_iso, trace=(trace_id, span_id)),
                ))
                batch.count("forwarded:FORWARDED")
            else:
                values["alert_id"] = None
                batch.count("refused:" + d.reason_code)
            template = templates.decision_template(
                event_type, team.id, team.municipality, d.rule_name, d.processing_activity,
                d.reason_code, d.legal_basis,
            )
            out.append(Record(AUDIT, batch.frame(AUDIT, _RECORD) + template.encode(values), key))
        return out

    def _rejected(
        self, event: Event, ev: Evaluation, batch: _Batch, trace_id: str
    ) -> list[Record]:
        """A dead letter and its processing record (validated: the rare path)."""
        assert ev.rejected is not None
        municipality = (
            ev.resolution.municipality.code
            if ev.resolution and ev.resolution.municipality
            else None
        )
        dead = self.dead_letters.build(
            event.message, ev.rejected, stage="router", event_id=ev.event_id, trace_id=trace_id
        )
        rec = processing_record(
            trace_id=trace_id,
            name="route-signal",
            started=batch.now,
            outcome=DecisionOutcome.DEAD_LETTERED,
            reason_code=ev.rejected.reason_code,
            reason_detail=str(ev.rejected)[:500],
            activity=INTAKE_ACTIVITY,
            subject_ref=_subject(ev.subject_ref),
            municipality_code=municipality,
            event_id=ev.event_id,
            event_type=ev.event_type,
            error=True,
        )
        batch.count(f"dead_lettered:{ev.rejected.reason_code}")
        # keyed like the record's data_subject_id: never by a BSN-shaped value
        key = _key(_subject(ev.subject_ref))
        return [dead, Record(AUDIT, self.conn.serde.encode_model(AUDIT, rec), key)]

    def consent_for(self, next_offsets: Mapping[TopicPartition, int]) -> None:
        """Bring the consent ledger up to date for a batch read up to ``next_offsets``:
        every consent change published before one of its signals is applied first, so a
        withdrawal is never missed by a signal sent after it.

        A look-up of consent.v1's end (the follower's catch-up) covers every signal that
        was in its log before the look-up was made; the signal partitions' ends the
        consumer knows from its fetches (read just before the look-up, so they are older)
        are kept, and a batch wholly below them needs no new look-up: a consent change
        acknowledged before such a signal was produced lies below the end that look-up
        saw. A router working through a backlog thus looks up once per many batches; one
        that keeps up looks up per batch, as the batch is new."""
        covers = self._consent_covers
        if covers and all(end <= covers.get(tp, 0) for tp, end in next_offsets.items()):
            return
        known = self.loop.reader.consumer.known_ends()
        self.follower.catch_up()
        self._consent_covers = known

    def _count(self, counts: dict[str, int]) -> None:
        for key, n in counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
            metrics.router_decision(key, n)

    def process(
        self, events: list[Event]
    ) -> tuple[list[Record], list[tuple[str, str | None, datetime]]]:
        """Outputs and the (event id, subject, time) list to remember, for one batch.

        Reads the state (handled ids, earlier signals) once for the whole batch; the
        batch's own signals count as earlier signals for the ones after them
        (:class:`~hub.routing.BatchHistory`). Produces and remembers nothing.
        """
        batch = _Batch(datetime.now(UTC), self.conn.serde)
        now = batch.now
        ids = []
        for e in events:
            event_id = e.record.get("event_id")
            if type(event_id) is uuid.UUID:  # as the serde decodes it: its text, once
                event_id = e.record["event_id"] = str(event_id)  # (what all readers want)
            ids.append(_text(event_id) or "")
        seen = self.state.handled(i for i in ids if i)
        history = BatchHistory(
            self.state,
            [(str(e.record.get("subject_ref")), i.lower()) for e, i in zip(events, ids, strict=True)
             if i and i not in seen],
            now,
        )
        evaluator, ledger = self.routing.evaluator, self.ledger
        records: list[Record] = []
        done: list[tuple[str, str | None, datetime]] = []
        for event, event_id in zip(events, ids, strict=True):
            if event_id and event_id in seen:
                batch.count("duplicate_ignored")
                continue
            if event_id:
                seen.add(event_id)
            event_type = _EVENT_TYPE_OF_RECORD.get(event.record_name.rsplit(".", 1)[-1])
            if event_type is None:
                exc = SignalRejected(
                    f"{event.record_name} is not a signal type", "UNKNOWN_EVENT_TYPE"
                )
                records.append(self.dead_letters.build(event.message, exc, stage="router"))
                continue
            ev = evaluator.evaluate(event_type, event.record, ledger, history, now)
            if ev.rejected is None and ev.data is not None:
                history.add(str(ev.data["subject_ref"]), str(ev.data["event_id"]))
                if event_id:
                    done.append((event_id, ev.subject_ref, now))
            records.extend(self._outputs(event, ev, batch))
        self._count(batch.counts)
        return records, done

    def step(self, timeout: float = 1.0) -> int:
        """One checkpoint of the loop: poll a batch, route it, produce the outputs and
        changelog records and commit the offsets (atomically in exactly-once mode), then
        remember the batch. Returns the messages read."""
        return self.loop.step(timeout)

    def warm(self) -> None:
        """Before the first batch: catch up with consent.v1, confirm the schema id of
        every output record type on every output topic (a remote registry answers each
        first question over HTTP: asked with the first batch, they hold it up) and have
        the loop's consumer load what writing to the output topics needs (on Kafka the
        transactional producer's metadata, one request instead of one per topic inside
        the first transaction)."""
        self.follower.catch_up()
        serde = self.conn.serde
        alerts = [alerts_topic(team.id) for team in self.config.teams]
        for topic in alerts:
            serde.schema_id(topic, _ALERT)
        serde.schema_id(AUDIT, _RECORD)
        outputs = [*alerts, AUDIT, self.state.topic or "", self.dead_letters.topic]
        self.loop.reader.consumer.prepare_outputs([t for t in outputs if t])

    def run(self, stop: threading.Event | None = None, idle_exit: float | None = None) -> None:
        """Route until ``stop`` is set (or, with ``idle_exit``, after that many idle seconds)."""
        stop = stop or threading.Event()
        self.ensure_topics()
        self.warm()
        log.info("router started", group=self.group, bus=self.conn.bus.kind,
                 guarantee=self.guarantee)
        self.loop.run(stop, idle_exit)
        log.info("router stopped", **{k.replace(":", "_"): v for k, v in self.counts.items()})

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
        if self._slot is not None:
            self._slot.release()
        self.follower.close()
        self.state.close()
        self.ledger.close()


class RouterProcessor:
    """The router as a processor on the loop: the state of a partition is restored when
    it is assigned, a batch's changelog records go with its outputs, and the state is
    written once they are committed."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def assigned(self, partitions: set[TopicPartition]) -> None:
        self.router._consent_covers = {}  # (a recreated topic would start over)
        self.router.state.assign({tp.partition for tp in partitions})

    def revoked(self, partitions: set[TopicPartition]) -> None:
        self.router._consent_covers = {}
        still = {tp.partition for tp in self.router.loop.owned}
        self.router.state.revoke({tp.partition for tp in partitions} - still)

    def process(self, events: list[Event]) -> Outcome:
        router = self.router
        if events:
            router.consent_for(router.loop.reader.next_offsets)
        records, done = router.process(events)
        partition_of = {
            str(e.record.get("event_id")): e.message.partition for e in events
        }
        changelog = router.state.remember(done, partition_of)
        outputs = len(records)

        def flush(placed: Sequence[tuple[int, int]]) -> None:
            router.state.flush(placed[outputs:])

        return Outcome([*records, *changelog], flush, router.state.abandon)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _subject(value: Any) -> str | None:
    text = _text(value)
    # a value that failed validation may be anything: never copy a BSN-shaped one (and
    # an empty one would make the processing record itself invalid)
    if not text or (text.isdigit() and len(text) in (8, 9)):
        return None
    return text


def _key(subject_ref: str | None) -> bytes | None:
    return subject_ref.encode() if subject_ref else None


class _Batch:
    """One batch's time (as the records carry it), decision counts and wire-format
    headers (the schema id of each output record type asked of the serde once per
    batch, not once per record)."""

    __slots__ = ("_frames", "_serde", "counts", "now", "now_iso", "now_ms")

    def __init__(self, now: datetime, serde: AvroSerde) -> None:
        self._serde = serde
        self._frames: dict[tuple[str, str], bytes] = {}
        self.now = now
        exact = utc_millis(now)
        self.now_ms = int(exact.timestamp()) * 1000 + exact.microsecond // 1000
        self.now_iso = exact.isoformat()
        self.counts: dict[str, int] = {}

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def frame(self, topic: str, name: str) -> bytes:
        """The wire-format header of a ``name`` body on ``topic`` (see
        :meth:`AvroSerde.encode_body`)."""
        found = self._frames.get((topic, name))
        if found is None:
            found = self._frames[(topic, name)] = self._serde.encode_body(topic, name, b"")
        return found
