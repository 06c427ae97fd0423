"""Router throughput against a pass-through baseline on the same bus, and alert latency.

Workload: ``--signals`` N synthetic signals from :mod:`hub.samples` (fictional people),
80 % debt signals, 12 % eviction risks, 8 % youth-care exits, every address inside the
areas of ``examples/hub.yaml`` (GM9999, PC4 7511-7548); one signal in ten is for a person
who had an earlier one. Half of the young people have a consent (``publish_consent``,
purpose ``youth-care-exit-support``, scope ``jeugd-18plus``) on ``consent.v1`` before
their signal arrives; the other half are refused. Eviction risks in the consent stages
(summons, judgment) have no consent and are refused; about 3 % of debt signals carry an
objection and are refused.

Throughput (one row per backend): the same N signals are put on the three signal
topics once per round (untimed), then read by two sides, each in a fresh consumer
group on the same bus, with its own connection:

router
    :class:`hub.router.Router` with ``examples/hub.yaml`` and a fresh state directory,
    ``Router.step()`` until all N are routed: decode, validate, resolve, decide, consent
    check, alerts on ``alerts.<team>.v1`` + processing records on ``audit.v1``, state,
    commit.
pass-through (the baseline)
    the same loop (:class:`hub.stream.StreamLoop`, the same guarantee, so the same
    commit) with a processor that re-encodes every decoded record with the same serde
    to one output topic, keyed as it came; no decisions.

Both sides run under the same ``processing_guarantee``: exactly-once (the default) on
both backends, and on Kafka also at-least-once; the router's exactly-once runs against
its at-least-once runs give the cost of exactly-once (target: at most 20 %).

Both sides poll batches of ``--batch`` (the router's default, 500) and are timed from
their first batch on (joining the group, the router's first consent catch-up and the
first batch are not counted; see :func:`bench.harness.drain`). Target: the router
reaches >= 60 % of pass-through, on both backends and guarantees.

Latency (after the throughput rows): a separate process feeds fresh signals, 10 per
produce call, at a quarter of the router's measured rate (``--latency-load``) for
``--latency-seconds``, while the side routes them (exactly-once; target p99 < 50 ms);
then every alert is matched to its signal by ``event_id`` and the difference of the two
bus timestamps (``Message.timestamp_ms``) is taken. Embedded: the time of the
``produce`` call (SQLite has no append time). Kafka: the bench creates the signal, alert
and pass-through topics with ``message.timestamp.type=LogAppendTime``, so both are the
broker's append times (topics that already exist on a given broker keep their own
setting). The pass-through is measured the same way as a reference: what the bus alone
costs.

Backends: embedded (a fresh SQLite file per round, ``--synchronous`` as the hub's
default FULL, throughput pinned to one CPU like ``bench/bus_throughput.py``) and kafka
(``HUB_BENCH_KAFKA_BOOTSTRAP`` / ``HUB_BENCH_REGISTRY_URL`` if set, else a LocalKafka
broker with full JIT and a LocalApicurio registry started here and stopped at the end).

Run with ``python -m bench --only router`` (see ``--help``). Reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import logging
import multiprocessing as mp
import os
import platform
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any, Literal, Protocol

from kafka.errors import KafkaError

from bench.bus_throughput import fresh_name, kafka_broker, remove_database
from bench.harness import (
    BenchError,
    Pair,
    Result,
    Target,
    drain,
    format_table,
    measure,
    pinned_to_one_core,
    text_table,
)
from hub.bus.base import Message, Record, TopicPartition, TopicSpec
from hub.config import HubConfig, load_config
from hub.connect import Connection, connect
from hub.consent import ConsentLedgerError, publish_consent
from hub.consume import Event
from hub.errors import HubError
from hub.events import ConsentChange
from hub.logging import configure_logging
from hub.router import Router
from hub.samples import sample_consent, sample_debt, sample_eviction, sample_youth_exit
from hub.serde import AvroSerde
from hub.settings import Settings
from hub.stream import Outcome as StreamOutcome
from hub.stream import StreamLoop
from hub.stream.loop import Guarantee
from hub.topics import SIGNAL_TOPICS, alerts_topic, core_topics

__all__ = ["main", "parser"]

DEFAULT_EMBEDDED_SIGNALS = 20_000
DEFAULT_KAFKA_SIGNALS = 10_000
DEFAULT_BATCH = 500
DEFAULT_REPEATS = 3
DEFAULT_LATENCY_SECONDS = 10.0
DEFAULT_LATENCY_LOAD = 0.25
FEED_BATCH = 10
PARTITIONS = 3
DRAIN_LIMIT_S = 600.0
READ_BACK_LIMIT_S = 120.0
TARGET = Target("ratio", 0.60, "pass-through")
#: exactly-once costs at most 20 % against at-least-once (router, Kafka)
EXACTLY_ONCE_TARGET = Target("ratio", 0.80, "at-least-once")
#: p99 signal -> alert at a quarter of capacity
LATENCY_P99_MS = 50.0

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"
PASS_TOPIC = "bench.pass-through.v1"
SIGNAL_TOPIC_LIST = list(SIGNAL_TOPICS.values())
#: share of each signal type in the workload (the rest of 1.0 is youth-care exits)
DEBT_SHARE = 0.80
EVICTION_SHARE = 0.12
YOUTH_CONSENT_SHARE = 0.5
REPEAT_PERSON_SHARE = 0.10
YOUTH_TEAM = "jeugd-18plus"
#: Kafka topic config that makes Message.timestamp_ms the broker's append time
LOG_APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}

Backend = Literal["embedded", "kafka"]
Offsets = dict[str, dict[int, int]]  # topic -> partition -> offset


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True, slots=True)
class Workload:
    """Encoded signals (keyed by pseudonym) and the consents to publish before them."""

    signals: list[Record]
    consents: list[ConsentChange]
    mix: Counter[str]


def make_workload(conn: Connection, events: int, seed: int) -> Workload:
    """``events`` signals in the mix of the module docstring, encoded with ``conn.serde``."""
    rng = random.Random(seed)
    signals: list[Record] = []
    consents: list[ConsentChange] = []
    people: list[str] = []
    mix: Counter[str] = Counter()
    for _ in range(events):
        subject = rng.choice(people) if people and rng.random() < REPEAT_PERSON_SHARE else None
        draw = rng.random()
        model: Any
        if draw < DEBT_SHARE:
            kind, model = "debt-signal", sample_debt(rng, subject)
        elif draw < DEBT_SHARE + EVICTION_SHARE:
            kind, model = "eviction-risk", sample_eviction(rng, subject)
        else:
            kind, model = "youth-care-exit", sample_youth_exit(rng, subject)
            if rng.random() < YOUTH_CONSENT_SHARE:
                consents.append(sample_consent(model.subject_ref, YOUTH_TEAM, rng))
                mix["youth-care-exit with consent"] += 1
        mix[kind] += 1
        people.append(model.subject_ref)
        topic = SIGNAL_TOPICS[kind]
        signals.append(Record(topic, conn.serde.encode_model(topic, model),
                              model.subject_ref.encode()))
    return Workload(signals, consents, mix)


def describe_mix(mix: Counter[str]) -> str:
    total = sum(mix[k] for k in SIGNAL_TOPICS) or 1
    parts = [f"{mix[k] / total:.0%} {k}" for k in SIGNAL_TOPICS]
    youth = mix["youth-care-exit"] or 1
    return (", ".join(parts)
            + f" ({mix['youth-care-exit with consent'] / youth:.0%} of youth with consent)")


# --------------------------------------------------------------------------- bus helpers


def ensure_bench_topics(conn: Connection, config: HubConfig) -> None:
    """The router's topics (as ``Router.ensure_topics``) plus the pass-through topic; on
    Kafka the signal, alert and pass-through topics log the broker's append time."""
    kafka = conn.bus.kind == "kafka"
    timed = {*SIGNAL_TOPIC_LIST, PASS_TOPIC, *(alerts_topic(t.id) for t in config.teams)}
    specs = [*core_topics(PARTITIONS),
             *(TopicSpec(alerts_topic(t.id), PARTITIONS) for t in config.teams),
             TopicSpec(PASS_TOPIC, PARTITIONS)]
    for spec in specs:
        if kafka and spec.name in timed:
            spec = TopicSpec(spec.name, spec.partitions, spec.cleanup_policy,
                             spec.retention_ms, {**spec.config, **LOG_APPEND_TIME})
        conn.bus.create_topic(spec)


def end_offsets(conn: Connection, topics: Sequence[str]) -> Offsets:
    return {t: conn.bus.end_offsets(t) for t in topics}


def start_group_at(conn: Connection, group: str, offsets: Offsets) -> None:
    """Commit ``offsets`` for the new ``group``, so it reads only what comes after them
    (the signal topics on Kafka keep every earlier round's signals)."""
    if conn.bus.kind == "kafka":
        from kafka import TopicPartition as KafkaTP
        from kafka.structs import OffsetAndMetadata

        admin = conn.bus.admin  # type: ignore[attr-defined]
        wanted = {KafkaTP(t, p): OffsetAndMetadata(o, "", -1)
                  for t, ends in offsets.items() for p, o in ends.items()}
        give_up = time.monotonic() + 60
        while True:  # a new broker is still electing the coordinator of __consumer_offsets
            try:
                answer = admin.alter_group_offsets(group, wanted)
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > give_up:
                    raise
                time.sleep(0.5)
                continue
            failed = {tp: err for tp, err in answer.items() if getattr(err, "errno", 0) != 0}
            if not failed:
                return
            if time.monotonic() > give_up or not all(
                getattr(err, "retriable", False) for err in failed.values()
            ):
                raise BenchError(f"could not position group {group}: {failed}")
            time.sleep(0.5)
    with conn.bus.consumer(group, list(offsets)) as consumer:
        consumer.commit({TopicPartition(t, p): o
                         for t, ends in offsets.items() for p, o in ends.items()})


def read_back(conn: Connection, starts: Offsets, expected: int) -> list[Message]:
    """The ``expected`` messages appended to ``starts``' topics after ``starts``."""
    group = fresh_name("read-back")
    start_group_at(conn, group, starts)
    out: list[Message] = []
    give_up = time.monotonic() + READ_BACK_LIMIT_S
    with conn.bus.consumer(group, list(starts)) as consumer:
        while len(out) < expected:
            out += consumer.poll(2000, 1.0)
            if time.monotonic() > give_up:
                raise BenchError(f"read back {len(out)} of {expected} messages of {list(starts)}")
    return out


# --------------------------------------------------------------------------- the two sides


class Side(Protocol):
    def step(self, timeout: float = 1.0) -> int: ...
    def joined(self) -> bool: ...
    def warm(self) -> None: ...
    def close(self) -> None: ...


class CpuClock:
    """Wraps a side's ``step`` for :func:`drain`: this process's CPU time (every thread:
    kafka-python's sender and heartbeat threads too) over the same signals drain times,
    i.e. after the first batch. Less sensitive than events/s to other processes' load."""

    def __init__(self, step: Callable[[], int]) -> None:
        self.step = step
        self.started: float | None = None
        self.first = self.seen = 0

    def __call__(self) -> int:
        got = self.step()
        if got and self.started is None:
            self.started, self.first = time.process_time(), got
        self.seen += got
        return got

    def us_per_event(self) -> float:
        if self.started is None or self.seen <= self.first:
            return 0.0
        return (time.process_time() - self.started) / (self.seen - self.first) * 1e6


class _Forward:
    """The pass-through's processor: every decoded record re-encoded to one topic."""

    def __init__(self, serde: AvroSerde) -> None:
        self.encode = serde.encode

    def process(self, events: list[Event]) -> StreamOutcome:
        encode = self.encode
        return StreamOutcome([
            Record(PASS_TOPIC, encode(PASS_TOPIC, e.record_name.rsplit(".", 1)[-1], e.record),
                   e.message.key)
            for e in events
        ])

    def assigned(self, partitions: set[TopicPartition]) -> None:
        """No state."""

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """No state."""


class PassThrough:
    """The baseline: the router's loop (:class:`hub.stream.StreamLoop`, the same
    guarantee, so the same commit) with a processor that only re-encodes; no decisions."""

    def __init__(self, conn: Connection, group: str, batch: int, guarantee: Guarantee) -> None:
        self.loop = StreamLoop(
            conn.bus, conn.serde, group, SIGNAL_TOPIC_LIST, _Forward(conn.serde),
            name="bench-pass-through", guarantee=guarantee,
            transactional_id=f"signalhub-bench-{group}", batch_size=batch,
        )

    def step(self, timeout: float = 1.0) -> int:
        return self.loop.step(timeout)

    def joined(self) -> bool:
        return bool(self.loop.reader.consumer.assignment())

    def warm(self) -> None:
        """What the router's warm-up does for its outputs: the consumer loads what
        writing to the pass-through topic needs (on Kafka its metadata)."""
        self.loop.reader.consumer.prepare_outputs([PASS_TOPIC])

    def close(self) -> None:
        self.loop.close()


class RouterSide:
    """A :class:`Router` in a fresh group with a fresh state directory."""

    def __init__(self, conn: Connection, config: HubConfig, state_dir: Path, group: str,
                 batch: int, guarantee: Guarantee) -> None:
        self.router = Router(conn, config, state_dir, group=group, batch_size=batch,
                             guarantee=guarantee)
        self.router.state.ensure_topic()  # its changelog (the bench made the other topics)

    def step(self, timeout: float = 1.0) -> int:
        return self.router.step(timeout)

    def joined(self) -> bool:
        return bool(self.router.reader.consumer.assignment())

    def warm(self) -> None:
        """What ``Router.run`` does before its first batch: read consent.v1 into the
        fresh ledger and confirm the output schema ids now, not with the first signal."""
        self.router.warm()

    def close(self) -> None:
        self.router.close()
        self.router.follower.close()  # Router.close() leaves the consent follower open


# --------------------------------------------------------------------------- rounds


@dataclass
class Round:
    """One round's bus (shared by both sides), its signals and where they start."""

    settings: Settings
    filler: Connection
    workload: Workload
    signal_starts: Offsets
    alert_starts: Offsets
    pass_starts: Offsets
    workdir: Path
    db_path: Path | None
    side_conns: dict[str, Connection] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Latency:
    backend: str
    side: str
    offered_per_s: float
    fed_per_s: float
    signals: int
    matched: int
    ms: list[float]
    #: from the first signal fed until the side had read the last one
    routed_s: float

    def pct(self, q: float) -> float:
        data = sorted(self.ms)
        return data[min(len(data) - 1, max(0, round(q * len(data)) - 1))] if data else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "side": self.side,
            "offered_per_s": round(self.offered_per_s, 1), "fed_per_s": round(self.fed_per_s, 1),
            "signals": self.signals, "outputs_matched": self.matched,
            "p50_ms": self.pct(0.50), "p99_ms": self.pct(0.99),
            "max_ms": max(self.ms, default=0.0),
            "mean_ms": round(statistics.fmean(self.ms), 1) if self.ms else 0.0,
            "routed_within_s": round(self.routed_s, 2),
        }


class Suite:
    """Both sides of one backend; rounds share the broker and registry (kafka) or get a
    fresh database file each (embedded)."""

    def __init__(self, backend: Backend, args: argparse.Namespace, events: int, workdir: Path,
                 bootstrap: str | None = None, registry_url: str | None = None,
                 guarantee: Guarantee = "exactly-once") -> None:
        self.backend: Backend = backend
        #: the processing guarantee of both sides (the same loop, the same commit)
        self.guarantee: Guarantee = guarantee
        self.args = args
        self.events = events
        self.batch: int = args.batch
        self.workdir = workdir
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.config = load_config(EXAMPLE_CONFIG)
        self.seed = 0
        self.router_counts: list[dict[str, int]] = []
        #: CPU microseconds per signal of each timed run, per side
        self.cpu_us: dict[str, list[float]] = {"router": [], "pass-through": []}
        #: things that went wrong once and were retried (printed under the table)
        self.warnings: list[str] = []
        self.mix: Counter[str] = Counter()
        self._kafka_conns: dict[str, Connection] = {}

    # -- connections ----------------------------------------------------------------------

    def _settings(self, db_path: Path | None) -> Settings:
        if self.backend == "kafka":
            return Settings(bus=f"kafka://{self.bootstrap}", registry_url=self.registry_url)
        return Settings(bus=f"embedded:{db_path}", registry_url=None,
                        embedded={"synchronous": self.args.synchronous})

    def _conn(self, rnd: Round, role: str) -> Connection:
        """Each side has its own connection (as its own process would); on Kafka it is
        kept across rounds (warm clients and schema caches), embedded has one per file."""
        if self.backend == "kafka":
            if role not in self._kafka_conns:
                self._kafka_conns[role] = connect(rnd.settings)
            return self._kafka_conns[role]
        if role not in rnd.side_conns:
            rnd.side_conns[role] = connect(rnd.settings)
        return rnd.side_conns[role]

    def close(self) -> None:
        for conn in self._kafka_conns.values():
            with contextlib.suppress(Exception):
                conn.close()
        self._kafka_conns.clear()

    # -- rounds ---------------------------------------------------------------------------

    def prepare(self, events: int, *, fill: bool = True) -> Round:
        """A bus with the topics, the consents and (``fill``) the signals; untimed."""
        workdir = Path(tempfile.mkdtemp(prefix="round-", dir=self.workdir))
        db_path = workdir / "hub.db" if self.backend == "embedded" else None
        settings = self._settings(db_path)
        filler = self._kafka_conns.get("filler") if self.backend == "kafka" else None
        if filler is None:
            filler = connect(settings)
            if self.backend == "kafka":
                self._kafka_conns["filler"] = filler
        ensure_bench_topics(filler, self.config)
        self.seed += 1
        workload = make_workload(filler, events, self.seed)
        self.mix += workload.mix
        for change in workload.consents:
            publish_consent(filler.bus, filler.serde, change)
        rnd = Round(
            settings, filler, workload,
            signal_starts=end_offsets(filler, SIGNAL_TOPIC_LIST),
            alert_starts=end_offsets(filler, [alerts_topic(t.id) for t in self.config.teams]),
            pass_starts=end_offsets(filler, [PASS_TOPIC]),
            workdir=workdir, db_path=db_path,
        )
        if fill:
            for start in range(0, len(workload.signals), self.batch):
                filler.bus.produce(workload.signals[start : start + self.batch])
        return rnd

    def cleanup(self, rnd: Round) -> None:
        for conn in rnd.side_conns.values():
            conn.close()
        if self.backend == "embedded":
            rnd.filler.close()
            if rnd.db_path is not None:
                remove_database(rnd.db_path)
        shutil.rmtree(rnd.workdir, ignore_errors=True)

    def _side(self, rnd: Round, which: str) -> Side:
        conn = self._conn(rnd, which)
        group = fresh_name(which)
        start_group_at(conn, group, rnd.signal_starts)
        if which == "router":
            return RouterSide(conn, self.config, rnd.workdir / group, group, self.batch,
                              self.guarantee)
        return PassThrough(conn, group, self.batch, self.guarantee)

    def _drain(self, rnd: Round, which: str) -> float:
        side = self._side(rnd, which)
        try:
            self._warm(side)
            clock = CpuClock(side.step)
            rate = drain(clock, len(rnd.workload.signals), DRAIN_LIMIT_S)
            self.cpu_us[which].append(clock.us_per_event())
            if isinstance(side, RouterSide):
                self.router_counts.append(dict(side.router.counts))
            return rate
        finally:
            side.close()

    def _warm(self, side: Side) -> None:
        """``side.warm()`` (untimed: drain does not time the first batch either); once
        more after a ConsentLedgerError, which is reported, not hidden."""
        try:
            side.warm()
        except ConsentLedgerError as exc:
            warning = (f"{self.backend}: the router's consent catch-up failed and was retried"
                       f" once with a new follower consumer: {exc}")
            print(f"warning: {warning}", file=sys.stderr)
            self.warnings.append(warning)
            if isinstance(side, RouterSide):
                side.router.follower.close()
            side.warm()

    def pair(self) -> Pair[Round]:
        return Pair(
            self.backend, f"route {self.guarantee}", TARGET,
            prepare=self.prepare,
            hub=lambda rnd: self._drain(rnd, "router"),
            baseline=lambda rnd: self._drain(rnd, "pass-through"),
            cleanup=self.cleanup,
            note=f"baseline: the same StreamLoop ({self.guarantee}) with a processor that"
                 " re-encodes each decoded record to one topic; both in fresh groups on the"
                 " same signals",
        )

    # -- latency --------------------------------------------------------------------------

    def latency(self, which: str, rate: float, seconds: float) -> Latency:
        """Feed signals at ``rate``/s from another process while ``which`` routes them."""
        count = max(FEED_BATCH * 10, int(rate * seconds))
        rnd = self.prepare(count, fill=False)
        try:
            side = self._side(rnd, which)
            try:
                return self._feed_and_route(rnd, side, which, rate, count)
            finally:
                side.close()
        finally:
            self.cleanup(rnd)

    def _feed_and_route(self, rnd: Round, side: Side, which: str, rate: float,
                        count: int) -> Latency:
        ctx = mp.get_context("spawn")
        ready, go = ctx.Event(), ctx.Event()
        fed_s = ctx.Value("d", 0.0)
        payload = [(r.topic, r.value, r.key) for r in rnd.workload.signals]
        settings = {"bus": rnd.settings.bus, "registry_url": rnd.settings.registry_url,
                    "embedded": rnd.settings.embedded.model_dump()}
        feeder = ctx.Process(
            target=_feed, name="bench-feeder", daemon=True,
            args=(settings, payload, rate, ready, go, fed_s),
        )
        feeder.start()
        give_up = time.monotonic() + 120
        try:
            self._warm(side)
            while not (side.joined() and ready.is_set()):  # join the group, warm the feeder
                side.step(0.1)
                if not feeder.is_alive():
                    raise BenchError(f"the feeder process failed (exit code {feeder.exitcode})")
                if time.monotonic() > give_up:
                    raise BenchError(f"{which} joined: {side.joined()}, feeder ready:"
                                     f" {ready.is_set()}, after 120 s")
            go.set()
            started = time.monotonic()
            seen, give_up = 0, started + DRAIN_LIMIT_S
            while seen < count:
                seen += side.step(0.1)
                if time.monotonic() > give_up:
                    raise BenchError(f"{which} routed {seen} of {count} fed signals")
            routed_s = time.monotonic() - started
            feeder.join(30)
        finally:
            if feeder.is_alive():
                feeder.kill()
                feeder.join()
        if feeder.exitcode != 0:
            raise BenchError(f"the feeder process failed (exit code {feeder.exitcode})")
        if isinstance(side, RouterSide):
            outputs_starts = rnd.alert_starts
            expected = side.router.counts.get("forwarded:FORWARDED", 0)
        else:
            outputs_starts, expected = rnd.pass_starts, count
        signals = read_back(rnd.filler, rnd.signal_starts, count)
        outputs = read_back(rnd.filler, outputs_starts, expected)
        appended = {self._event_id(rnd, m): m.timestamp_ms for m in signals}
        ms = [float(m.timestamp_ms - appended[self._event_id(rnd, m)]) for m in outputs]
        return Latency(self.backend, which, rate, count / fed_s.value if fed_s.value else 0.0,
                       count, len(ms), ms, routed_s)

    @staticmethod
    def _event_id(rnd: Round, message: Message) -> str:
        return str(rnd.filler.serde.decode(message.value).record["event_id"])

    # -- profile --------------------------------------------------------------------------

    def profile(self, events: int, top: int) -> str:
        """One untimed router round under cProfile: the top functions by own time."""
        rnd = self.prepare(events)
        try:
            side = self._side(rnd, "router")
            try:
                self._warm(side)
                give_up = time.monotonic() + DRAIN_LIMIT_S
                while side.step() == 0:  # join and the first batch, outside the profile
                    if time.monotonic() > give_up:
                        raise BenchError("the router read nothing to profile")
                profiler = cProfile.Profile()
                seen = 0
                started = time.perf_counter()
                profiler.enable()
                while seen < events - self.batch:
                    seen += side.step()
                profiler.disable()
                elapsed = time.perf_counter() - started
            finally:
                side.close()
        finally:
            self.cleanup(rnd)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        head = (f"cProfile of one router run on {self.backend}: {seen:,} signals in"
                f" {elapsed:.2f} s under the profiler ({seen / elapsed:,.0f}/s)")
        return head + "\n" + _trim_pstats(out.getvalue())


def _trim_pstats(text: str) -> str:
    """pstats output without the blank lines and the repeated preamble."""
    keep = []
    for line in text.splitlines():
        if not line.strip() or line.strip().startswith(("Ordered by", "List reduced")):
            continue
        keep.append(line.replace(str(Path(sys.prefix)), "<venv>").replace(
            str(Path(__file__).resolve().parents[1]), "<repo>"))
    return "\n".join(keep)


def _feed(settings: dict[str, Any], payload: list[tuple[str, bytes, bytes | None]],
          rate: float, ready: MpEvent, go: MpEvent, fed_s: Any) -> None:
    """The feeder process: produce ``payload`` FEED_BATCH records at a time at ``rate``/s."""
    logging.getLogger("kafka").setLevel(logging.ERROR)
    configure_logging("WARNING")
    with connect(Settings(**settings)) as conn:
        if conn.bus.kind == "kafka":
            for topic in SIGNAL_TOPIC_LIST:  # load metadata before the clock
                conn.bus.producer.partitions_for(topic)  # type: ignore[attr-defined]
        ready.set()
        go.wait()
        interval = FEED_BATCH / rate
        started = next_at = time.monotonic()
        for start in range(0, len(payload), FEED_BATCH):
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            conn.bus.produce([Record(t, v, k) for t, v, k in payload[start : start + FEED_BATCH]])
            next_at += interval
        fed_s.value = time.monotonic() - started


# --------------------------------------------------------------------------- backends


@contextlib.contextmanager
def schema_registry() -> Iterator[tuple[str, str]]:
    """``HUB_BENCH_REGISTRY_URL`` if set, else a LocalApicurio started (and stopped) here."""
    given = os.environ.get("HUB_BENCH_REGISTRY_URL", "").strip()
    if given:
        yield given, f"{given} (HUB_BENCH_REGISTRY_URL)"
        return
    from hub.devtools.local_registry import LocalApicurio

    registry = LocalApicurio()
    with contextlib.redirect_stdout(sys.stderr):
        url = registry.start()
    try:
        yield url, f"{url} (LocalApicurio, Apicurio Registry {registry.version}, started here)"
    finally:
        with contextlib.redirect_stdout(sys.stderr):
            registry.stop()


@dataclass
class Outcome:
    results: list[Result] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    cpu: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def _run_suite(suite: Suite, events: int, args: argparse.Namespace, out: Outcome,
               pin: bool, *, latency: bool = True) -> str:
    """Throughput, latency and (``--profile``) a profile; returns how it was pinned."""
    print(f"measuring {suite.backend} route ({suite.guarantee}): {events:,} signals x"
          f" {args.repeats} ...",
          file=sys.stderr, flush=True)
    warmup = max(4 * args.batch, events // 10)
    with pinned_to_one_core() if pin else contextlib.nullcontext("not pinned") as pinning:
        result = measure(suite.pair(), events, warmup, args.repeats)
    out.results.append(result)
    for which in suite.cpu_us:  # drop the warm-up run
        suite.cpu_us[which] = suite.cpu_us[which][1:]
    out.notes.append(_cpu_note(suite))
    out.cpu[f"{suite.backend} {suite.guarantee}"] = {k: list(v) for k, v in suite.cpu_us.items()}
    out.notes.append(_counts_note(suite))
    if latency and args.latency_seconds > 0:
        rate = max(FEED_BATCH * 10.0, round(result.rate * args.latency_load, -1))
        for which in ("router", "pass-through"):
            print(f"measuring {suite.backend} latency of {which}: {rate:,.0f} signals/s for"
                  f" {args.latency_seconds:g} s ...", file=sys.stderr, flush=True)
            out.latencies.append(suite.latency(which, rate, args.latency_seconds))
    if latency and args.profile:
        print(f"profiling {suite.backend} router ...", file=sys.stderr, flush=True)
        out.profiles.append(suite.profile(events, args.profile_top))
    out.notes += suite.warnings
    return str(pinning)


def _cpu_note(suite: Suite) -> str:
    router, base = (statistics.median(suite.cpu_us[k] or [0.0])
                    for k in ("router", "pass-through"))
    return (f"{suite.backend} {suite.guarantee} CPU per signal (this process, all threads;"
            f" median): router"
            f" {router:,.0f} us, pass-through {base:,.0f} us: pass-through/router"
            f" {base / router if router else 0:.2f} (runs: router {_runs(suite.cpu_us['router'])},"
            f" pass-through {_runs(suite.cpu_us['pass-through'])})")


def _counts_note(suite: Suite) -> str:
    """What the router wrote in its last timed run (from ``Router.counts``)."""
    if not suite.router_counts:
        return ""
    counts = suite.router_counts[-1]
    records = sum(v for k, v in counts.items() if k.startswith(("forwarded:", "refused:")))
    alerts = counts.get("forwarded:FORWARDED", 0)
    top = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return (f"{suite.backend} {suite.guarantee} router, last run: {alerts:,} alerts +"
            f" {records:,} processing"
            f" records for {suite.events:,} signals ="
            f" {(alerts + records) / suite.events:.2f} records per signal (pass-through: 1);"
            f" decisions: {top}")


def run_embedded(args: argparse.Namespace, events: int, out: Outcome) -> None:
    with tempfile.TemporaryDirectory(prefix="signalhub-bench-router-") as tmp:
        suite = Suite("embedded", args, events, Path(tmp))
        try:
            pinning = _run_suite(suite, events, args, out, pin=True)
        finally:
            suite.close()
        out.info.append(f"embedded: SQLite {sqlite3.sqlite_version}, a fresh file per round,"
                        f" synchronous={args.synchronous}, registry in the same file;"
                        f" throughput {pinning}; latency not pinned")
        out.info.append(f"embedded mix over all rounds: {describe_mix(suite.mix)}")


def run_kafka(args: argparse.Namespace, events: int, out: Outcome) -> None:
    logging.getLogger("kafka").setLevel(logging.ERROR)
    with (
        tempfile.TemporaryDirectory(prefix="signalhub-bench-router-") as tmp,
        kafka_broker() as (bootstrap, described),
        schema_registry() as (url, registry),
    ):
        mix: Counter[str] = Counter()
        by_guarantee: dict[str, Result] = {}
        runs: list[tuple[Guarantee, bool]] = [("exactly-once", True), ("at-least-once", False)]
        for guarantee, latency in runs:
            suite = Suite("kafka", args, events, Path(tmp), bootstrap, url, guarantee)
            try:
                _run_suite(suite, events, args, out, pin=False, latency=latency)
            finally:
                suite.close()
            by_guarantee[guarantee] = out.results[-1]
            mix += suite.mix
        once, least = by_guarantee["exactly-once"], by_guarantee["at-least-once"]
        out.results.append(Result(
            "kafka", "router exactly-once", events, EXACTLY_ONCE_TARGET, once.runs, least.runs,
            note="router runs of the two rows above: exactly-once against at-least-once",
        ))
        out.info.append(f"kafka: broker {described}; registry {registry}; not pinned"
                        f" ({os.cpu_count()} CPUs shared with the broker and registry JVMs)")
        out.info.append(f"kafka mix over all rounds: {describe_mix(mix)}")


# --------------------------------------------------------------------------- CLI


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench --only router",
        description=(
            "Router throughput (signals/s) against a pass-through baseline (decode,"
            " re-encode, produce, commit) on the same bus in the same run, on the"
            " embedded bus and on Kafka; then append-to-alert latency at a quarter of"
            " the router's rate. Target: router >= 60% of pass-through. Reported, never"
            " asserted."
        ),
        epilog=(
            "Kafka: HUB_BENCH_KAFKA_BOOTSTRAP (host:port) and HUB_BENCH_REGISTRY_URL (a"
            " Confluent-compatible API, e.g. http://host:8080/apis/ccompat/v7) if set,"
            " else a LocalKafka broker and a LocalApicurio registry are started here and"
            " stopped at the end. See bench/README.md."
        ),
    )
    p.add_argument("--signals", type=_positive, default=None, metavar="N",
                   help=f"signals per run (default {DEFAULT_EMBEDDED_SIGNALS:,} embedded,"
                        f" {DEFAULT_KAFKA_SIGNALS:,} kafka)")
    p.add_argument("--backend", choices=("embedded", "kafka"), default=None,
                   help="measure one backend only (default: both)")
    p.add_argument("--batch", type=_positive, default=DEFAULT_BATCH, metavar="N",
                   help=f"records per poll on both sides (default {DEFAULT_BATCH},"
                        " the router's)")
    p.add_argument("--repeats", type=_positive, default=DEFAULT_REPEATS, metavar="N",
                   help=f"timed runs per side; the median is reported (default"
                        f" {DEFAULT_REPEATS})")
    p.add_argument("--synchronous", choices=("FULL", "NORMAL", "OFF"), default="FULL",
                   help="SQLite PRAGMA synchronous of the embedded bus (default FULL)")
    p.add_argument("--latency-seconds", type=float, default=DEFAULT_LATENCY_SECONDS,
                   metavar="S", help=f"how long signals are fed for the latency rows"
                                     f" (default {DEFAULT_LATENCY_SECONDS:g}; 0 = skip)")
    p.add_argument("--latency-load", type=_fraction, default=DEFAULT_LATENCY_LOAD,
                   metavar="F", help="feed rate as a fraction of the router's measured"
                                     f" rate (default {DEFAULT_LATENCY_LOAD})")
    p.add_argument("--profile", action="store_true",
                   help="also run the router once under cProfile and print its top costs")
    p.add_argument("--profile-top", type=_positive, default=25, metavar="N",
                   help="functions listed per profile ordering (default 25)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="also write machine-readable results: to stdout after the report,"
                        " or to FILE")
    return p


def _environment(args: argparse.Namespace, out: Outcome) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "kafka_python": version("kafka-python"),
        "fastavro": version("fastavro"),
        "pydantic": version("pydantic"),
        "config": str(EXAMPLE_CONFIG.relative_to(EXAMPLE_CONFIG.parents[1])),
        "batch": args.batch,
        "repeats": args.repeats,
        "synchronous": args.synchronous,
        "latency_seconds": args.latency_seconds,
        "latency_load": args.latency_load,
        "feed_batch": FEED_BATCH,
        "notes": out.info,
    }


def _latency_table(latencies: list[Latency]) -> str:
    rows = [[
        lat.backend, lat.side, f"{lat.offered_per_s:,.0f}", f"{lat.fed_per_s:,.0f}",
        f"{lat.signals:,}", f"{lat.routed_s:,.1f}", f"{lat.matched:,}", f"{lat.pct(0.5):,.0f}",
        f"{lat.pct(0.99):,.0f}", f"{max(lat.ms, default=0):,.0f}",
        ("PASS" if lat.pct(0.99) < LATENCY_P99_MS else "MISS") if lat.side == "router" else "",
    ] for lat in latencies]
    header = ["backend", "side", "offered/s", "fed/s", "signals", "all read after s",
              "outputs", "p50 ms", "p99 ms", "max ms", f"p99 < {LATENCY_P99_MS:g} ms"]
    return text_table(header, rows, {2, 3, 4, 5, 6, 7, 8, 9})


def _print_report(out: Outcome, env: dict[str, Any], failures: list[str]) -> None:
    print(f"Signalhub router throughput: router vs pass-through on the same bus,"
          f" {env['config']}, batches of {env['batch']}, median of {env['repeats']} runs"
          f" after one warm-up")
    print(f"python {env['python']}, kafka-python {env['kafka_python']}, fastavro"
          f" {env['fastavro']}, pydantic {env['pydantic']}, {env['platform']},"
          f" {env['cpus']} CPUs")
    for line in env["notes"]:
        print(line)
    print()
    if out.results:
        print(format_table(out.results))
        print()
        for r in out.results:
            print(f"  {r.backend} {r.operation}: {r.note}; runs/s {_runs(r.runs)} vs"
                  f" {r.target.baseline} {_runs(r.baseline_runs)}")
        for note in filter(None, out.notes):
            print(f"  {note}")
    if out.latencies:
        print()
        print("Latency: signal appended -> its output appended (bus timestamps, matched by"
              f" event_id; every alert counts), signals fed {env['feed_batch']} per produce"
              f" by a separate process at {env['latency_load']:.0%} of the router's rate"
              f" for {env['latency_seconds']:g} s (all read after more than that: the side"
              " fell behind); pass-through as the bus-only reference")
        print(_latency_table(out.latencies))
    for profile in out.profiles:
        print()
        print(profile)
    for failure in failures:
        print(f"NOT MEASURED: {failure}")


def _runs(rates: list[float]) -> str:
    return "[" + ", ".join(f"{x:,.0f}" for x in rates) + "]"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the router benchmark; 0 when every measurement ran (PASS or MISS), else 1."""
    args = parser().parse_args(argv)
    load_before = os.getloadavg()
    configure_logging("WARNING")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    out = Outcome()
    failures: list[str] = []
    runs: list[tuple[str, Callable[[argparse.Namespace, int, Outcome], None], int]] = [
        ("embedded", run_embedded, DEFAULT_EMBEDDED_SIGNALS),
        ("kafka", run_kafka, DEFAULT_KAFKA_SIGNALS),
    ]
    for name, run, default_events in runs:
        if args.backend not in (None, name):
            continue
        events = args.signals or default_events
        if events < 4 * args.batch:
            parser().error(f"--signals must be at least four times --batch ({4 * args.batch})")
        try:
            run(args, events, out)
        except (BenchError, HubError, KafkaError, OSError, sqlite3.Error) as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    out.info.append(
        "load average (1, 5, 15 min) of the machine: at start "
        + ", ".join(f"{x:.1f}" for x in load_before) + "; at end "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        + f" (over {os.cpu_count()} CPUs: other processes share them)"
    )
    env = _environment(args, out)
    _print_report(out, env, failures)
    _write_json(args.json, out, env)
    return 1 if failures else 0


def _write_json(target: str | None, out: Outcome, env: dict[str, Any]) -> None:
    if target is None:
        return
    import json

    text = json.dumps({
        "environment": env,
        "results": [r.as_dict() for r in out.results],
        "latency": [lat.as_dict() for lat in out.latencies],
        "cpu_us_per_signal": out.cpu,
        "notes": out.notes,
    }, indent=2)
    if target == "-":
        print()
        print(text)
    else:
        Path(target).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
