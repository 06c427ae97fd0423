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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog

from hub import metrics
from hub.audit import INTAKE_ACTIVITY, new_trace_id, processing_record
from hub.bus.base import Record, TopicPartition, TopicSpec
from hub.config import HubConfig
from hub.connect import Connection
from hub.consent import ConsentCheck, ConsentLedger, LedgerFollower
from hub.consume import AvroConsumer, Event
from hub.deadletters import DeadLetterWriter
from hub.directory import Resolution, TeamDirectory
from hub.errors import SignalRejected
from hub.events import AlertUrgency, AvroModel, DecisionOutcome, TeamAlert, utc_millis
from hub.policy import Decision, decide
from hub.router_state import RouterState, changelog_topic
from hub.stream import MemberSlot, Outcome, StreamLoop, claim_slot
from hub.stream.loop import Guarantee
from hub.topics import AUDIT, SIGNAL_RECORDS, SIGNAL_TOPICS, alerts_topic, ensure_topics
from hub.validation import validate_signal

_M = TypeVar("_M", bound=AvroModel)

__all__ = ["ALERT_NAMESPACE", "Evaluation", "Router", "RouterProcessor", "alert_id_for"]

log = structlog.get_logger(__name__)

#: partitions of the signal topics (and of the router's changelog)
_SIGNAL_PARTITIONS = 3
#: namespace of the deterministic alert ids
ALERT_NAMESPACE = uuid.UUID("6f1c8f0e-3b7a-4f55-9a43-5e1d2c7b9a10")
_EVENT_TYPE_OF_RECORD = {
    name: etype for etype, name in ((e, SIGNAL_RECORDS[t]) for e, t in SIGNAL_TOPICS.items())
}


def alert_id_for(event_id: str, team_id: str) -> str:
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{event_id}/{team_id}"))


@dataclass
class Evaluation:
    """What the router would do with one signal (also what ``explain`` prints)."""

    event_type: str
    event_id: str | None
    subject_ref: str | None
    resolution: Resolution | None = None
    decisions: list[Decision] = field(default_factory=list)
    rejected: SignalRejected | None = None
    trace: list[str] = field(default_factory=list)
    #: the validated signal (``model_dump()``), when it validated
    data: dict[str, Any] | None = field(default=None, repr=False)


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
        self.directory = TeamDirectory(config)
        self.ledger = ConsentLedger(state_dir / "consent-ledger.db")
        self.follower = LedgerFollower(conn.bus, conn.serde, self.ledger)
        self.state = RouterState(
            state_dir / "router" / group, config.history_days, bus=conn.bus,
            topic=changelog_topic(group), partitions=_SIGNAL_PARTITIONS,
        )  # fmt: skip
        self.dead_letters = DeadLetterWriter(conn.bus, conn.serde)
        self._loop: StreamLoop | None = None
        self._slot: MemberSlot | None = None
        self.counts: dict[str, int] = {}
        #: configuration-derived output values that validated unchanged before: outputs
        #: with them are built without validating again (see _checked)
        self._valid_config: set[tuple[tuple[str, Any], ...]] = set()

    # -- set-up ---------------------------------------------------------------------------

    def ensure_topics(self) -> None:
        ensure_topics(self.conn.bus, _SIGNAL_PARTITIONS)
        for team in self.config.teams:
            self.conn.bus.create_topic(TopicSpec(alerts_topic(team.id), 3))
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
            )  # fmt: skip
        return self._loop

    @property
    def reader(self) -> AvroConsumer:
        """The loop's decoding consumer (reading it by hand bypasses the loop)."""
        return self.loop.reader

    # -- deciding ---------------------------------------------------------------------------

    def evaluate(
        self, event_type: str, record: dict[str, Any], now: datetime, *, explain: bool = True
    ) -> Evaluation:
        """Validate, resolve and decide for every team; produce nothing.

        ``explain=False`` (the routing path): the same evaluation without the trace lines
        of the signal and the decisions (only ``signalhub explain`` prints them).
        """
        ev = Evaluation(event_type, _text(record.get("event_id")), record.get("subject_ref"))
        try:
            signal = validate_signal(event_type, record)
        except SignalRejected as exc:
            ev.rejected = exc
            ev.trace.append(f"rejected: {exc}")
            return ev
        data = ev.data = signal.model_dump()
        if explain:
            ev.trace.append(f"valid {event_type} {ev.event_id}")
        postcode = data.get("postcode")
        municipality = data.get("municipality_code")
        if postcode is None:
            ev.rejected = SignalRejected("signal has no postcode to route by", "NO_TEAM")
            ev.trace.append("rejected: no postcode")
            return ev
        resolution = self.directory.resolve(
            postcode, int(data.get("house_number") or 0), event_type, municipality
        )
        ev.resolution = resolution
        if explain:
            ev.trace.extend(resolution.trace)
        if resolution.reason is not None:
            where = f"postcode area {str(postcode)[:4]}"
            ev.rejected = SignalRejected(
                f"{resolution.reason}: no configured "
                f"{'municipality' if resolution.reason == 'UNKNOWN_MUNICIPALITY' else 'team'}"
                f" covers {where} for {event_type}; fix the configuration, then replay",
                resolution.reason,
            )
            return ev
        policy = self.config.policies.get(event_type)  # type: ignore[call-overload]
        if policy is None and explain:
            ev.trace.append(f"no policy for {event_type}: nothing is forwarded")
        subject = str(data["subject_ref"])

        def consent(purpose: str, team: Any) -> ConsentCheck:
            return self.ledger.check(subject, purpose, team.id, team.municipality, now)

        for team in resolution.teams:
            if policy is None:
                continue
            decision = decide(policy, event_type, data, team, consent, now.date(), explain=explain)
            ev.decisions.append(decision)
            if explain:
                ev.trace.extend(decision.trace)
                ev.trace.append(f"=> {team.id}: {decision.reason_code}")
        return ev

    # -- producing ------------------------------------------------------------------------

    def _checked(self, model: _M, **config: Any) -> _M:
        """``model``, built with validation, after noting whether validation left the
        ``config``-derived values (team, municipality, rule, ...) unchanged: outputs with
        the same values are then built with ``model_construct`` (their other values come
        from a validated signal or are generated valid)."""
        if all(getattr(model, k) == v for k, v in config.items()):
            self._valid_config.add(tuple(config.items()))
        return model

    def _trusted(self, **config: Any) -> bool:
        return tuple(config.items()) in self._valid_config

    def _outputs(
        self, event: Event, ev: Evaluation, now: datetime, prior: int = 0
    ) -> list[Record]:
        """The alerts, processing records and dead letters for one evaluated signal;
        ``prior`` is its count of earlier signals (RouterState.earlier_signals)."""
        trace_id = new_trace_id()
        started = now
        out: list[Record] = []
        serde = self.conn.serde
        municipality = (
            ev.resolution.municipality.code
            if ev.resolution and ev.resolution.municipality
            else None
        )
        if ev.rejected is not None:
            out.append(
                self.dead_letters.build(
                    event.message,
                    ev.rejected,
                    stage="router",
                    event_id=ev.event_id,
                    trace_id=trace_id,
                )
            )
            rec = processing_record(
                trace_id=trace_id,
                name="route-signal",
                started=started,
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
            # keyed like the record's data_subject_id: never by a BSN-shaped value
            key = _key(_subject(ev.subject_ref))
            out.append(Record(AUDIT, serde.encode_model(AUDIT, rec), key))
            self._count(f"dead_lettered:{ev.rejected.reason_code}")
            return out
        assert ev.event_id is not None and ev.subject_ref is not None and ev.data is not None
        # the validated (normalised) values: what TeamAlert/ProcessingRecord validation
        # would make of the raw ones
        event_id = str(ev.data["event_id"])
        subject_ref = str(ev.data["subject_ref"])
        source = ev.data.get("source")
        created_at = utc_millis(now)
        key = _key(subject_ref)
        if not ev.decisions:
            config: dict[str, Any] = {
                "name": "route-signal",
                "reason_code": "NO_POLICY",
                "processing_activity_id": INTAKE_ACTIVITY,
                "municipality_code": municipality,
                "event_type": ev.event_type,
            }
            trusted = self._trusted(**config)
            rec = processing_record(
                trace_id=trace_id,
                name="route-signal",
                started=started,
                outcome=DecisionOutcome.REFUSED,
                reason_code="NO_POLICY",
                activity=INTAKE_ACTIVITY,
                subject_ref=subject_ref,
                municipality_code=municipality,
                event_id=event_id,
                event_type=ev.event_type,
                validate=not trusted,
            )
            if not trusted:
                self._checked(rec, **config)
            out.append(Record(AUDIT, serde.encode_model(AUDIT, rec), key))
            self._count("refused:NO_POLICY")
        for d in ev.decisions:
            alert_id = alert_id_for(ev.event_id, d.team.id) if d.forwarded else None
            if alert_id is not None:
                alert_values: dict[str, Any] = {
                    "alert_id": alert_id,
                    "event_id": event_id,
                    "event_type": ev.event_type,
                    "team_id": d.team.id,
                    "municipality_code": d.team.municipality,
                    "subject_ref": subject_ref,
                    "urgency": AlertUrgency.URGENT if d.urgent else AlertUrgency.NORMAL,
                    "due_date": d.due_date,
                    "fields": d.fields,
                    "prior_signals_180d": prior,
                    "legal_basis": d.legal_basis or "",
                    "created_at": created_at,
                    "trace_id": trace_id,
                    "source": source,
                }
                config = {
                    "event_type": ev.event_type,
                    "team_id": d.team.id,
                    "municipality_code": d.team.municipality,
                    "legal_basis": d.legal_basis or "",
                }
                if self._trusted(**config):
                    alert = TeamAlert.model_construct(**alert_values)
                else:
                    alert = self._checked(TeamAlert(**alert_values), **config)
                topic = alerts_topic(d.team.id)
                out.append(
                    Record(
                        topic,
                        serde.encode_model(topic, alert),
                        key,
                        _alert_headers(alert),
                    )
                )
            name = f"route-signal:{d.team.id}"
            outcome = DecisionOutcome.FORWARDED if d.forwarded else DecisionOutcome.REFUSED
            config = {
                "name": name,
                "reason_code": d.reason_code,
                "processing_activity_id": d.processing_activity,
                "legal_basis": d.legal_basis,
                "team_id": d.team.id,
                "municipality_code": d.team.municipality,
                "event_type": ev.event_type,
            }
            trusted = self._trusted(**config)
            rec = processing_record(
                trace_id=trace_id,
                name=name,
                started=started,
                outcome=outcome,
                reason_code=d.reason_code,
                activity=d.processing_activity,
                subject_ref=subject_ref,
                legal_basis=d.legal_basis,
                team_id=d.team.id,
                municipality_code=d.team.municipality,
                event_id=event_id,
                event_type=ev.event_type,
                alert_id=alert_id,
                reason_detail=f"rule {d.rule_name}",
                validate=not trusted,
            )
            if not trusted:
                self._checked(rec, **config)
            out.append(Record(AUDIT, serde.encode_model(AUDIT, rec), key))
            self._count(("forwarded:" if d.forwarded else "refused:") + d.reason_code)
        return out

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        metrics.router_decision(key)

    def process(
        self, events: list[Event]
    ) -> tuple[list[Record], list[tuple[str, str | None, datetime]]]:
        """Outputs and the (event id, subject, time) list to remember, for one batch."""
        now = datetime.now(UTC)
        ids = [_text(e.record.get("event_id")) or "" for e in events]
        seen = self.state.handled(i for i in ids if i)
        records: list[Record] = []
        done: list[tuple[str, str | None, datetime]] = []
        # evaluate the batch first, then look up the earlier signals of all its routed
        # subjects at once (the state changes only after the batch: same counts as one
        # lookup per signal), then build the outputs in input order
        evaluated: list[tuple[Event, str, Evaluation | Record]] = []
        for event, event_id in zip(events, ids, strict=True):
            if event_id and event_id in seen:
                self._count("duplicate_ignored")
                continue
            if event_id:
                seen.add(event_id)
            event_type = _EVENT_TYPE_OF_RECORD.get(event.record_name.rsplit(".", 1)[-1])
            if event_type is None:
                exc = SignalRejected(
                    f"{event.record_name} is not a signal type", "UNKNOWN_EVENT_TYPE"
                )
                evaluated.append(
                    (event, event_id, self.dead_letters.build(event.message, exc, stage="router"))
                )
                continue
            ev = self.evaluate(event_type, event.record, now, explain=False)
            evaluated.append((event, event_id, ev))
        routed = [
            (str(ev.subject_ref), str(ev.event_id))
            for _, _, ev in evaluated
            if isinstance(ev, Evaluation) and ev.rejected is None
        ]
        priors = iter(self.state.earlier_signals_many(routed, now))
        for event, event_id, out in evaluated:
            if not isinstance(out, Evaluation):
                records.append(out)
                continue
            prior = next(priors) if out.rejected is None else 0
            records.extend(self._outputs(event, out, now, prior))
            if event_id and out.rejected is None:
                done.append((event_id, out.subject_ref, now))
        return records, done

    def step(self, timeout: float = 1.0) -> int:
        """One checkpoint of the loop: poll a batch, route it, produce the outputs and
        changelog records and commit the offsets (atomically in exactly-once mode), then
        remember the batch. Returns the messages read."""
        return self.loop.step(timeout)

    def run(self, stop: threading.Event | None = None, idle_exit: float | None = None) -> None:
        """Route until ``stop`` is set (or, with ``idle_exit``, after that many idle seconds)."""
        stop = stop or threading.Event()
        self.ensure_topics()
        self.follower.catch_up()
        log.info("router started", group=self.group, bus=self.conn.bus.kind,
                 guarantee=self.guarantee)  # fmt: skip
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
        self.router.state.assign({tp.partition for tp in partitions})

    def revoked(self, partitions: set[TopicPartition]) -> None:
        still = {tp.partition for tp in self.router.loop.reader.consumer.assignment()}
        self.router.state.revoke({tp.partition for tp in partitions} - still)

    def process(self, events: list[Event]) -> Outcome:
        router = self.router
        if events:
            router.follower.catch_up()
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


def _alert_headers(alert: TeamAlert) -> tuple[tuple[str, bytes], ...]:
    return (
        ("ce_specversion", b"1.0"),
        ("ce_id", alert.alert_id.encode()),
        ("ce_source", b"urn:signalhub:router"),
        ("ce_type", b"nl.signalhub.team-alert.v1"),
        ("ce_time", alert.created_at.isoformat().encode()),
        ("ce_trace_id", alert.trace_id.encode()),
    )
