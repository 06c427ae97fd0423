"""Produce and consume throughput of both bus backends, each against a raw baseline.

embedded
    ``EmbeddedBus.produce`` in batches against plain ``sqlite3`` inserting the same rows
    (``executemany`` per batch, one ``BEGIN IMMEDIATE`` transaction each) into an
    equivalent ``messages`` table with the same pragmas (WAL, same ``synchronous``); and
    ``bus.consumer(...).poll`` + ``commit`` against a raw
    ``SELECT ... WHERE offset >= ? ORDER BY offset LIMIT ?`` of the same rows. Targets
    (absolute, one core): produce >= 20,000 and consume >= 50,000 events/s.
kafka
    ``KafkaBus.produce`` in batches against a raw kafka-python ``KafkaProducer`` with the
    bus producer's own settings (``send`` per record, ``flush`` per batch); and the bus
    consumer against a raw ``KafkaConsumer`` with the same group settings, both
    committing after every poll. Target: the bus reaches >= 80% of raw kafka-python.

Run with ``python -m bench`` (see ``--help`` and ``bench/README.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kafka.errors import KafkaError

from bench.harness import (
    BenchError,
    Pair,
    Result,
    Target,
    drain,
    format_table,
    measure,
    pinned_to_one_core,
    results_json,
    timed_rate,
)
from hub.bus.base import Record, TopicSpec
from hub.bus.embedded import EmbeddedBus
from hub.bus.partitioning import partition_for_key
from hub.errors import HubError

__all__ = ["main"]

DEFAULT_EMBEDDED_EVENTS = 100_000
DEFAULT_KAFKA_EVENTS = 50_000
DEFAULT_BATCH = 500
DEFAULT_REPEATS = 3
VALUE_SIZE = 200
PARTITIONS = 3
DISTINCT_KEYS = 1_000
CONSUME_LIMIT_S = 300.0

EMBEDDED_PRODUCE_TARGET = Target("rate", 20_000)
EMBEDDED_CONSUME_TARGET = Target("rate", 50_000)
KAFKA_TARGET = Target("ratio", 0.80)

Synchronous = Literal["FULL", "NORMAL", "OFF"]


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True, slots=True)
class Workload:
    """``events`` keyed records of ``VALUE_SIZE`` bytes, sent ``batch`` at a time."""

    keys: list[bytes]
    values: list[bytes]
    batch: int

    @property
    def events(self) -> int:
        return len(self.values)

    def chunks(self) -> Iterator[list[tuple[bytes, bytes]]]:
        pairs = list(zip(self.keys, self.values, strict=True))
        for start in range(0, len(pairs), self.batch):
            yield pairs[start : start + self.batch]

    def record_batches(self, topic: str) -> list[list[Record]]:
        return [[Record(topic, v, k) for k, v in chunk] for chunk in self.chunks()]


def make_workload(events: int, batch: int) -> Workload:
    """Random (incompressible) 200-byte values over ``DISTINCT_KEYS`` subject keys."""
    pool = [os.urandom(VALUE_SIZE) for _ in range(1024)]
    keys = [f"subject-{i % DISTINCT_KEYS:06d}".encode() for i in range(events)]
    return Workload(keys, [pool[i % len(pool)] for i in range(events)], batch)


def fresh_name(backend: str) -> str:
    return f"bench.{backend}.{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- embedded

#: the embedded bus's ``messages`` table and its key index (hub/bus/embedded.py)
RAW_SCHEMA = """
CREATE TABLE messages (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB,
    value BLOB,
    headers BLOB,
    ts INTEGER NOT NULL,
    compacted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE INDEX messages_by_key ON messages (topic, partition, key, offset) WHERE compacted = 1;
"""
RAW_INSERT = "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, 0)"
RAW_SELECT = (
    "SELECT offset, key, value, headers, ts FROM messages"
    " WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?"
)

Row = tuple[str, int, int, bytes, bytes, None, int]


@dataclass(frozen=True, slots=True)
class EmbeddedLog:
    """A database file holding ``events`` records in ``topic`` (written by the bus)."""

    path: Path
    topic: str
    events: int


def raw_connect(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    """A connection with the embedded bus's pragmas (WAL, ``synchronous``, busy timeout)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA busy_timeout=30000")
    return db


def raw_rows(topic: str, workload: Workload) -> list[list[Row]]:
    """The rows the bus would write: same partitioner, consecutive offsets per partition."""
    ends = [0] * PARTITIONS
    now = int(time.time() * 1000)
    out: list[list[Row]] = []
    for chunk in workload.chunks():
        rows: list[Row] = []
        for key, value in chunk:
            partition = partition_for_key(key, PARTITIONS)
            rows.append((topic, partition, ends[partition], key, value, None, now))
            ends[partition] += 1
        out.append(rows)
    return out


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class EmbeddedSuite:
    """The embedded bus against plain sqlite3, in a scratch directory."""

    def __init__(self, workdir: Path, synchronous: Synchronous, batch: int) -> None:
        self.workdir = workdir
        self.synchronous: Synchronous = synchronous
        self.batch = batch

    def _fresh_path(self) -> Path:
        return self.workdir / f"{uuid.uuid4().hex}.db"

    def _open_bus(self, path: Path) -> EmbeddedBus:
        return EmbeddedBus(path, synchronous=self.synchronous)

    # -- produce ----------------------------------------------------------------------

    def produce_pair(self) -> Pair[Workload]:
        return Pair(
            "embedded", "produce", EMBEDDED_PRODUCE_TARGET,
            prepare=lambda events: make_workload(events, self.batch),
            hub=self._hub_produce,
            baseline=self._raw_produce,
            note="baseline: sqlite3 executemany per batch into the same table and index",
        )

    def _hub_produce(self, workload: Workload) -> float:
        path, topic = self._fresh_path(), fresh_name("embedded")
        bus = self._open_bus(path)
        try:
            bus.create_topic(TopicSpec(topic, partitions=PARTITIONS))
            batches = workload.record_batches(topic)
            return timed_rate(workload.events, lambda: _produce_all(bus, batches))
        finally:
            bus.close()
            remove_database(path)

    def _raw_produce(self, workload: Workload) -> float:
        path, topic = self._fresh_path(), fresh_name("embedded")
        db = raw_connect(path, self.synchronous)
        try:
            db.executescript(RAW_SCHEMA)
            batches = raw_rows(topic, workload)
            return timed_rate(workload.events, lambda: _insert_all(db, batches))
        finally:
            db.close()
            remove_database(path)

    # -- consume ----------------------------------------------------------------------

    def consume_pair(self) -> Pair[EmbeddedLog]:
        return Pair(
            "embedded", "consume", EMBEDDED_CONSUME_TARGET,
            prepare=self._fill,
            hub=self._hub_consume,
            baseline=self._raw_consume,
            cleanup=lambda log: remove_database(log.path),
            note="bus polls and commits each batch; baseline only SELECTs (no commit)",
        )

    def _fill(self, events: int) -> EmbeddedLog:
        path, topic = self._fresh_path(), fresh_name("embedded")
        with self._open_bus(path) as bus:
            bus.create_topic(TopicSpec(topic, partitions=PARTITIONS))
            _produce_all(bus, make_workload(events, self.batch).record_batches(topic))
        return EmbeddedLog(path, topic, events)

    def _hub_consume(self, log: EmbeddedLog) -> float:
        with self._open_bus(log.path) as bus, bus.consumer(fresh_name("group"), [log.topic]) as c:

            def step() -> int:
                got = c.poll(max_records=self.batch, timeout=1.0)
                if got:
                    c.commit()
                return len(got)

            return drain(step, log.events, CONSUME_LIMIT_S)

    def _raw_consume(self, log: EmbeddedLog) -> float:
        db = raw_connect(log.path, self.synchronous)
        positions = [0] * PARTITIONS
        turns = itertools.cycle(range(PARTITIONS))

        def step() -> int:
            partition = next(turns)
            rows = db.execute(
                RAW_SELECT, (log.topic, partition, positions[partition], self.batch)
            ).fetchall()
            if rows:
                positions[partition] = rows[-1][0] + 1
            return len(rows)

        try:
            return drain(step, log.events, CONSUME_LIMIT_S)
        finally:
            db.close()


def _produce_all(bus: Any, batches: Sequence[Sequence[Record]]) -> None:
    for batch in batches:
        bus.produce(batch)


def _insert_all(db: sqlite3.Connection, batches: Sequence[Sequence[Row]]) -> None:
    for rows in batches:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(RAW_INSERT, rows)
        db.execute("COMMIT")


def run_embedded(args: argparse.Namespace, events: int) -> tuple[list[Result], list[str]]:
    """Both embedded pairs, pinned to one core; returns results and header lines."""
    with (
        tempfile.TemporaryDirectory(prefix="signalhub-bench-") as tmp,
        pinned_to_one_core() as pinning,
    ):
        suite = EmbeddedSuite(Path(tmp), args.synchronous, args.batch)
        results = [
            _measure(suite.produce_pair(), events, args),
            _measure(suite.consume_pair(), events, args),
        ]
    info = [
        f"embedded: SQLite {sqlite3.sqlite_version}, journal_mode=WAL,"
        f" synchronous={args.synchronous} on both sides; {pinning}"
    ]
    return results, info


# --------------------------------------------------------------------------- kafka

#: settings of the bus producer that the raw producer copies
PRODUCER_SETTINGS = (
    "acks", "enable_idempotence", "linger_ms", "batch_size", "compression_type",
    "max_in_flight_requests_per_connection", "request_timeout_ms", "retries",
    "delivery_timeout_ms", "max_request_size", "partitioner",
)

#: the group settings of hub.bus.kafka.KafkaBusConsumer, mirrored for the raw consumer
RAW_CONSUMER_SETTINGS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "max_poll_records": 2000,
    "fetch_max_wait_ms": 100,
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 1_000,
}


@dataclass(frozen=True, slots=True)
class KafkaLog:
    topic: str
    events: int


class KafkaSuite:
    """The Kafka bus against raw kafka-python, both talking to one broker."""

    def __init__(self, bootstrap: str, batch: int) -> None:
        from kafka import KafkaProducer

        from hub.bus.kafka import KafkaBus

        self.bootstrap = bootstrap
        self.batch = batch
        self.bus = KafkaBus(bootstrap, client_id="bench-hub")
        self.producer_settings = {k: self.bus.producer.config[k] for k in PRODUCER_SETTINGS}
        self.raw = KafkaProducer(
            bootstrap_servers=bootstrap, client_id="bench-raw", **self.producer_settings
        )
        self._topics: list[str] = []
        self._warned = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._topics:
                self.bus.admin.delete_topics(self._topics)
        self.raw.close()
        self.bus.close()

    def _fresh_topic(self, producer: Any) -> str:
        """Create a topic and load its metadata into ``producer`` (untimed)."""
        topic = fresh_name("kafka")
        self.bus.create_topic(TopicSpec(topic, partitions=PARTITIONS))
        self._topics.append(topic)
        producer.partitions_for(topic)
        return topic

    # -- produce ----------------------------------------------------------------------

    def produce_pair(self) -> Pair[Workload]:
        return Pair(
            "kafka", "produce", KAFKA_TARGET,
            prepare=lambda events: make_workload(events, self.batch),
            hub=self._hub_produce,
            baseline=self._raw_produce,
            note="baseline: KafkaProducer.send per record + flush per batch, same settings",
        )

    def _hub_produce(self, workload: Workload) -> float:
        topic = self._fresh_topic(self.bus.producer)
        batches = workload.record_batches(topic)
        return timed_rate(workload.events, lambda: _produce_all(self.bus, batches))

    def _raw_produce(self, workload: Workload) -> float:
        topic = self._fresh_topic(self.raw)
        chunks = list(workload.chunks())

        def loop() -> None:
            for chunk in chunks:
                for key, value in chunk:
                    self.raw.send(topic, value=value, key=key)
                self.raw.flush()

        return timed_rate(workload.events, loop)

    # -- consume ----------------------------------------------------------------------

    def consume_pair(self) -> Pair[KafkaLog]:
        return Pair(
            "kafka", "consume", KAFKA_TARGET,
            prepare=self._fill,
            hub=self._hub_consume,
            baseline=self._raw_consume,
            note="both poll max_records=batch and commit after every poll; group join excluded",
        )

    def _fill(self, events: int) -> KafkaLog:
        topic = self._fresh_topic(self.raw)
        workload = make_workload(events, self.batch)
        for key, value in zip(workload.keys, workload.values, strict=True):
            self.raw.send(topic, value=value, key=key)
        self.raw.flush()
        return KafkaLog(topic, events)

    def _hub_consume(self, log: KafkaLog) -> float:
        with self.bus.consumer(fresh_name("group"), [log.topic]) as c:
            self._warn_on_drift(c)

            def step() -> int:
                got = c.poll(max_records=self.batch, timeout=1.0)
                if got:
                    c.commit()
                return len(got)

            return drain(step, log.events, CONSUME_LIMIT_S)

    def _raw_consume(self, log: KafkaLog) -> float:
        from kafka import KafkaConsumer

        c = KafkaConsumer(
            log.topic,
            bootstrap_servers=self.bootstrap,
            group_id=fresh_name("group"),
            client_id="bench-raw-consumer",
            **RAW_CONSUMER_SETTINGS,
        )

        def step() -> int:
            got = sum(len(r) for r in c.poll(timeout_ms=1000, max_records=self.batch).values())
            if got:
                c.commit()
            return got

        try:
            return drain(step, log.events, CONSUME_LIMIT_S)
        finally:
            c.close(autocommit=False)

    def _warn_on_drift(self, consumer: Any) -> None:
        """Say so if the bus consumer's settings no longer match RAW_CONSUMER_SETTINGS."""
        config = getattr(getattr(consumer, "_consumer", None), "config", None)
        if self._warned or not isinstance(config, dict):
            return
        self._warned = True
        drift = {k: config.get(k) for k, v in RAW_CONSUMER_SETTINGS.items() if config.get(k) != v}
        if drift:
            print(f"warning: bus consumer settings differ from the baseline's: {drift}",
                  file=sys.stderr)


@contextlib.contextmanager
def kafka_broker() -> Iterator[tuple[str, str]]:
    """``HUB_BENCH_KAFKA_BOOTSTRAP`` if set, else a LocalKafka started (and stopped) here."""
    given = os.environ.get("HUB_BENCH_KAFKA_BOOTSTRAP", "").strip()
    if given:
        yield given, f"{given} (HUB_BENCH_KAFKA_BOOTSTRAP)"
        return
    from hub.devtools.local_kafka import LocalKafka

    broker = LocalKafka(fast_start=False)
    with contextlib.redirect_stdout(sys.stderr):
        bootstrap = broker.start()
    try:
        yield bootstrap, f"{bootstrap} (LocalKafka, Apache Kafka {broker.version}, started here)"
    finally:
        with contextlib.redirect_stdout(sys.stderr):
            broker.stop()


def run_kafka(args: argparse.Namespace, events: int) -> tuple[list[Result], list[str]]:
    """Both Kafka pairs against one broker; returns results and header lines."""
    logging.getLogger("kafka").setLevel(logging.ERROR)
    with kafka_broker() as (bootstrap, described):
        suite = KafkaSuite(bootstrap, args.batch)
        try:
            results = [
                _measure(suite.produce_pair(), events, args),
                _measure(suite.consume_pair(), events, args),
            ]
            settings = ", ".join(f"{k}={v}" for k, v in suite.producer_settings.items())
        finally:
            suite.close()
    info = [
        f"kafka: broker {described}; not pinned (client threads and broker share the"
        f" {os.cpu_count()} CPUs)",
        f"kafka producer (bus and raw): {settings}",
        "kafka consumer (bus and raw): "
        + ", ".join(f"{k}={v}" for k, v in RAW_CONSUMER_SETTINGS.items()),
    ]
    return results, info


# --------------------------------------------------------------------------- CLI


def _measure(pair: Pair[Any], events: int, args: argparse.Namespace) -> Result:
    print(f"measuring {pair.backend} {pair.operation}: {events:,} events x {args.repeats} ...",
          file=sys.stderr, flush=True)
    warmup = max(4 * args.batch, events // 10)
    return measure(pair, events, warmup, args.repeats)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Produce and consume throughput of Signalhub's bus backends (embedded SQLite "
            "and Apache Kafka) with 200-byte keyed events, each next to a baseline "
            "measured in the same run with the raw library (sqlite3, kafka-python). "
            "Each pair is warmed up once and run --repeats times; medians are reported "
            "with the ratio bus/baseline and PASS/MISS against the issue's targets. "
            "Targets are reported, never asserted."
        ),
        epilog=(
            "Kafka: uses the broker in HUB_BENCH_KAFKA_BOOTSTRAP (host:port) if set, "
            "else starts a local broker with hub.devtools.local_kafka (Java 17+, and "
            "Maven on first use) and stops it at the end. Embedded measurements run "
            "pinned to one CPU where os.sched_setaffinity exists. See bench/README.md."
        ),
    )
    p.add_argument("--events", type=_positive, default=None, metavar="N",
                   help=f"events per measurement (default {DEFAULT_EMBEDDED_EVENTS:,} "
                        f"embedded, {DEFAULT_KAFKA_EVENTS:,} kafka)")
    p.add_argument("--only", choices=("embedded", "kafka", "router", "consent"), default=None,
                   help="measure one backend only (default: both); router and consent are"
                        " benchmarks of their own with their own options (python -m bench"
                        " --only router --help; bench/router_throughput.py,"
                        " bench/consent_ledger.py)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="also write machine-readable results: to stdout after the table, "
                        "or to FILE")
    p.add_argument("--batch", type=_positive, default=DEFAULT_BATCH, metavar="N",
                   help=f"records per produce call and per poll (default {DEFAULT_BATCH})")
    p.add_argument("--repeats", type=_positive, default=DEFAULT_REPEATS, metavar="N",
                   help=f"timed runs per measurement; the median is reported "
                        f"(default {DEFAULT_REPEATS})")
    p.add_argument("--synchronous", choices=("FULL", "NORMAL", "OFF"), default="FULL",
                   help="SQLite PRAGMA synchronous for the embedded bus and its baseline "
                        "(default FULL, the hub's default)")
    return p


def _environment(args: argparse.Namespace, info: list[str]) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "kafka_python": version("kafka-python"),
        "value_bytes": VALUE_SIZE,
        "partitions": PARTITIONS,
        "batch": args.batch,
        "repeats": args.repeats,
        "synchronous": args.synchronous,
        "notes": info,
    }


def _print_report(results: list[Result], env: dict[str, Any], failures: list[str]) -> None:
    print(
        f"Signalhub bus throughput: {VALUE_SIZE}-byte values, {DISTINCT_KEYS:,} keys,"
        f" {PARTITIONS} partitions, batches of {env['batch']}, median of"
        f" {env['repeats']} runs after one warm-up"
    )
    print(f"python {env['python']}, kafka-python {env['kafka_python']}, {env['platform']},"
          f" {env['cpus']} CPUs")
    for line in env["notes"]:
        print(line)
    print()
    if results:
        print(format_table(results))
        print()
        for r in results:
            print(f"  {r.backend} {r.operation}: {r.note}; runs/s hub "
                  f"{_runs(r.runs)} vs baseline {_runs(r.baseline_runs)}")
    for failure in failures:
        print(f"NOT MEASURED: {failure}")


def _runs(rates: list[float]) -> str:
    return "[" + ", ".join(f"{x:,.0f}" for x in rates) + "]"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 when every measurement ran (PASS or MISS), 1 otherwise."""
    args = parser().parse_args(argv)
    if args.only in ("router", "consent"):
        parser().error(f"--only {args.only} is run by `python -m bench`, not by this module")
    results: list[Result] = []
    info: list[str] = []
    failures: list[str] = []
    runs = [("embedded", run_embedded, DEFAULT_EMBEDDED_EVENTS),
            ("kafka", run_kafka, DEFAULT_KAFKA_EVENTS)]
    for name, run, default_events in runs:
        if args.only not in (None, name):
            continue
        events = args.events or default_events
        if events < 2 * args.batch:
            parser().error(f"--events must be at least twice --batch ({2 * args.batch})")
        try:
            got, lines = run(args, events)
        except (BenchError, HubError, KafkaError, OSError, sqlite3.Error) as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        results += got
        info += lines
    env = _environment(args, info)
    _print_report(results, env, failures)
    _write_json(args.json, results, env)
    return 1 if failures else 0


def _write_json(target: str | None, results: list[Result], env: dict[str, Any]) -> None:
    if target is None:
        return
    text = results_json(results, env)
    if target == "-":
        print()
        print(text)
    else:
        Path(target).write_text(text + "\n", encoding="utf-8")
