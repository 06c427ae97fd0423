"""The Kafka bus: kafka-python 3.x against Apache Kafka (the distributed engine).

The producer is idempotent with ``acks=all``, batches (``linger_ms``) and compresses
its batches (``compression_type``, zstd by default); ``produce``
returns only when every record of the batch is acknowledged, so a caller that commits
its input afterwards never loses a record. Consumers are real Kafka consumer groups
with auto-commit off; offsets are committed explicitly. Every consumer reads
``read_committed``: records of an open or aborted transaction are never seen.

Exactly-once (KIP-447): a consumer made with a ``transactional_id`` owns a transactional
producer of that id. ``commit_with`` sends the records and the consumed offsets (with
the consumer's group metadata, so the broker refuses a member of an older generation)
in one transaction. ``init_transactions`` at start aborts whatever an earlier instance
with the same id left open and fences it: its later commits fail.

Every wait is bounded (docs/bus.md, "Timeouts"): while no broker answers, ``produce``
raises :class:`~hub.errors.BusUnavailable` after at most about ``max_block_ms`` +
``delivery_timeout_ms`` (3 s + 5 s by default; a record not acknowledged by then *may*
still have been written, so a caller retries under the same event id), and the
producer is replaced by a new one for the next call. Kafka's
retriable errors are :class:`~hub.errors.BusUnavailable` too. Group members use a short
session (``session_timeout_ms``, 6 s: a killed member's partitions move on after that)
and leave their group at once when closed.

Every client (producers, consumers, readers, the admin client, the metadata consumer) is
made from :meth:`KafkaBus.client_options`, which adds the TLS and SASL options of
``security`` (:mod:`hub.bus.kafka_security`); a refused sign-in or TLS handshake is a
:class:`~hub.errors.BusAccessDenied` naming the setting to check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import kafka.errors as kerr
import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTP
from kafka.admin import ConfigResource
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from hub.bus.base import Bus, Consumer, Message, Record, TopicPartition, TopicSpec
from hub.bus.kafka_join_fix import keep_finished_joins
from hub.bus.kafka_security import KafkaSecurity
from hub.bus.partitioning import KeyHashPartitioner
from hub.errors import BusError, BusUnavailable, CommitFailed, ConfigError, TopicNotFound

keep_finished_joins()  # a join finished between two polls is completed, not redone

log = structlog.get_logger(__name__)

__all__ = ["TRANSACTION_TIMEOUT_MS", "KafkaBus", "KafkaBusConsumer", "KafkaReader"]

#: a transaction left open by a killed instance blocks read_committed readers of its
#: partitions until the broker aborts it after this long (or a new instance with the
#: same transactional id starts): short, as a batch's transaction takes milliseconds
TRANSACTION_TIMEOUT_MS = 10_000
#: the transactional producer's ``retry_backoff_ms`` (kafka-python's default is 100):
#: right after a commit the broker is still writing that transaction's markers and
#: answers the next transaction's first AddPartitionsToTxn with CONCURRENT_TRANSACTIONS;
#: kafka-python's sender sleeps ``retry_backoff_ms`` before each such retry, so with 100
#: ms one batch in a few waited 100-300 ms (Kafka's Java client retries this one after
#: 20 ms). A ``producer_config`` of its own wins.
TXN_RETRY_BACKOFF_MS = 20


def _wrap(exc: Exception, what: str, security: KafkaSecurity | None = None,
          since: float | None = None) -> BusError:
    """The hub error for a kafka-python error: a refused sign-in, TLS handshake or ACL
    (also when it made the client time out since ``since``) BusAccessDenied, a rebalance
    CommitFailed, a missing topic TopicNotFound, a timeout or any other retriable error
    BusUnavailable (the broker did not answer in time: retry later), anything else a
    BusError."""
    denied = (security or _PLAIN).explain(exc, what, since or time.monotonic())
    if denied is not None:
        return denied
    if isinstance(exc, kerr.CommitFailedError | kerr.RebalanceInProgressError
                  | kerr.IllegalGenerationError | kerr.UnknownMemberIdError):
        return CommitFailed(f"{what}: the group rebalanced ({type(exc).__name__}); the"
                            " uncommitted messages go to the partition's new owner")
    if isinstance(exc, kerr.UnknownTopicOrPartitionError):
        return TopicNotFound(f"{what}: {exc}")
    if isinstance(exc, kerr.KafkaTimeoutError):
        return BusUnavailable(f"{what}: Kafka did not answer in time ({exc})")
    if isinstance(exc, kerr.KafkaError) and exc.retriable:
        return BusUnavailable(f"{what}: no Kafka broker reachable ({exc})")
    return BusError(f"{what}: {type(exc).__name__}: {exc}")


_PLAIN = KafkaSecurity()


class KafkaBus(Bus):
    """A bus on Apache Kafka. ``bootstrap`` is ``host:port[,host:port...]``."""

    kind = "kafka"

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "signalhub",
        linger_ms: int = 5,
        batch_size: int = 256 * 1024,
        replication_factor: int = 1,
        min_insync_replicas: int | None = None,
        compression_type: str = "zstd",
        request_timeout_ms: int = 4_000,
        delivery_timeout_ms: int = 5_000,
        max_block_ms: int = 3_000,
        session_timeout_ms: int = 6_000,
        heartbeat_interval_ms: int = 1_000,
        producer_config: Mapping[str, Any] | None = None,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.security = security or _PLAIN
        self.replication_factor = replication_factor
        #: set on every topic this bus creates (None: the broker's default)
        self.min_insync_replicas = min_insync_replicas
        #: a produce call waits at most this long for its acknowledgements (seconds)
        self.produce_timeout = (max_block_ms + delivery_timeout_ms) / 1000 + 1.0
        #: the longest one request to a broker waits for its answer (seconds)
        self.request_timeout = request_timeout_ms / 1000
        self.group_timeouts = {"session_timeout_ms": session_timeout_ms,
                               "heartbeat_interval_ms": heartbeat_interval_ms,
                               "bootstrap_timeout_ms": max_block_ms}
        self._producer_config: dict[str, Any] = {
            **self.client_options(),
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "batch_size": batch_size,
            "compression_type": None if compression_type == "none" else compression_type,
            "max_in_flight_requests_per_connection": 5,
            "request_timeout_ms": request_timeout_ms,
            "delivery_timeout_ms": max(delivery_timeout_ms, request_timeout_ms + linger_ms),
            "max_block_ms": max_block_ms,
            "bootstrap_timeout_ms": max_block_ms,
            # murmur2 as kafka-python's default, its hash kept per key (hub/bus/partitioning.py)
            "partitioner": KeyHashPartitioner(),
            **(producer_config or {}),
        }
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()
        self._admin: KafkaAdminClient | None = None
        self._meta: KafkaConsumer | None = None
        self._partitions: dict[str, int] = {}

    # -- lazily made clients ------------------------------------------------------------

    def client_options(self, **options: Any) -> dict[str, Any]:
        """kafka-python keyword arguments for a new client of this bus: the bootstrap
        servers, the TLS and SASL options, then ``options``."""
        return {"bootstrap_servers": self.bootstrap, **self.security.options, **options}

    def wrap_error(self, exc: Exception, what: str, since: float) -> BusError:
        """The hub error for ``exc`` from an operation started at ``since`` (monotonic)."""
        return _wrap(exc, what, self.security, since)

    @property
    def producer(self) -> KafkaProducer:
        with self._producer_lock:  # request threads share one bus
            if self._producer is None:
                since = time.monotonic()
                try:
                    self._producer = KafkaProducer(**self._producer_config)
                except kerr.KafkaError as exc:
                    raise self.wrap_error(exc, "cannot start Kafka producer", since) from exc
            return self._producer

    @property
    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            since = time.monotonic()
            try:
                self._admin = KafkaAdminClient(**self.client_options(
                    client_id=f"{self.client_id}-admin",
                    bootstrap_timeout_ms=self.group_timeouts["bootstrap_timeout_ms"],
                    request_timeout_ms=self._producer_config["request_timeout_ms"],
                ))
            except kerr.KafkaError as exc:
                raise self.wrap_error(exc, "cannot reach Kafka admin API", since) from exc
        return self._admin

    @property
    def _metadata_consumer(self) -> KafkaConsumer:
        if self._meta is None:
            since = time.monotonic()
            try:
                self._meta = KafkaConsumer(**self.client_options(
                    client_id=f"{self.client_id}-meta",
                    enable_auto_commit=False,
                    isolation_level="read_committed",
                    bootstrap_timeout_ms=self.group_timeouts["bootstrap_timeout_ms"],
                ))
            except kerr.KafkaError as exc:
                raise self.wrap_error(exc, "cannot start Kafka metadata reader", since) from exc
        return self._meta

    # -- topics -------------------------------------------------------------------------

    def create_topic(self, spec: TopicSpec) -> None:
        configs = {"cleanup.policy": spec.cleanup_policy, **spec.config}
        if spec.retention_ms is not None:
            configs["retention.ms"] = str(spec.retention_ms)
        if self.min_insync_replicas is not None:
            configs.setdefault("min.insync.replicas", str(self.min_insync_replicas))
        try:
            self.admin.create_topics(
                {
                    spec.name: {
                        "num_partitions": spec.partitions,
                        "replication_factor": self.replication_factor,
                        "configs": configs,
                    }
                },
                wait_for_metadata=True,
            )
        except kerr.TopicAlreadyExistsError:
            return
        except kerr.InvalidReplicationFactorError as exc:
            raise ConfigError(
                f"cannot create topic {spec.name}: HUB_KAFKA__REPLICATION_FACTOR is"
                f" {self.replication_factor}, more than the cluster's {self.broker_count()}"
                " broker(s)") from exc
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"cannot create topic {spec.name}") from exc

    def topic_spec(self, topic: str) -> TopicSpec:
        partitions = self.partitions_for(topic)
        try:
            described = self.admin.describe_configs(
                [ConfigResource("TOPIC", topic)], config_filter="modified")
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"cannot describe the settings of topic {topic}") from exc
        entries = described.get("topic", {}).get(topic, {})
        config = {k: str(v["value"]) for k, v in entries.items() if v.get("value") is not None}
        retention = config.pop("retention.ms", None)
        policy = config.pop("cleanup.policy", "delete")
        return TopicSpec(topic, partitions, "compact" if policy == "compact" else "delete",
                         None if retention is None else int(retention), config)

    def alter_topic(self, topic: str, config: Mapping[str, str]) -> None:
        try:
            result = self.admin.alter_configs([ConfigResource("TOPIC", topic, dict(config))])
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"cannot change the settings of topic {topic}") from exc
        outcome = result.get("topic", {}).get(topic, "OK")
        if outcome != "OK":
            raise BusError(f"cannot change the settings of topic {topic}: {outcome}")

    def broker_count(self) -> int:
        try:
            return len(self.admin.describe_cluster()["brokers"])
        except kerr.KafkaError as exc:
            raise _wrap(exc, "cannot describe the Kafka cluster") from exc

    def list_topics(self) -> set[str]:
        try:
            return {t for t in self.admin.list_topics() if not t.startswith("__")}
        except kerr.KafkaError as exc:
            raise _wrap(exc, "cannot list topics") from exc

    def partitions_for(self, topic: str) -> int:
        cached = self._partitions.get(topic)
        if cached is not None:
            return cached
        try:
            described = self.admin.describe_topics([topic])
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"cannot describe topic {topic}") from exc
        for item in described:
            if item.get("error_code", 0) == 3 or not item.get("partitions"):
                raise TopicNotFound(f"topic {topic!r} does not exist; create it first")
            count = len(item["partitions"])
            self._partitions[topic] = count
            return count
        raise TopicNotFound(f"topic {topic!r} does not exist; create it first")

    # -- produce ------------------------------------------------------------------------

    def produce(self, records: Iterable[Record]) -> list[tuple[int, int]]:
        since = time.monotonic()
        producer = self.producer
        try:
            futures = [
                _send(producer, r) for r in records
            ]
            producer.flush(timeout=self.produce_timeout)
            out = []
            for fut in futures:
                meta = fut.get(timeout=self.produce_timeout)
                out.append((meta.partition, meta.offset))
            return out
        except kerr.KafkaError as exc:
            error = self.wrap_error(exc, "produce failed", since)
            if isinstance(error, BusUnavailable):
                self._drop_producer(producer)
            raise error from exc

    def _drop_producer(self, producer: KafkaProducer) -> None:
        """Forget a producer that timed out: kafka-python's producer does not recover
        from batches expired during an outage, so the next produce makes a new one."""
        with self._producer_lock:
            replaced = self._producer is not producer  # by another thread already
            if not replaced:
                self._producer = None
        if replaced:
            return
        close_producer(producer, timeout=0)

    # -- offsets ------------------------------------------------------------------------

    def end_offsets(self, topic: str) -> dict[int, int]:
        tps = [KafkaTP(topic, p) for p in range(self.partitions_for(topic))]
        try:
            ends = self._metadata_consumer.end_offsets(tps)
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"cannot read end offsets of {topic}") from exc
        return {tp.partition: int(off) for tp, off in ends.items()}

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        parts = self.partitions_for(topic)
        try:
            found = self.admin.list_group_offsets({group: None}).get(group, {})
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"cannot read offsets of group {group}") from exc
        got = {
            tp.partition: int(meta.offset)
            for tp, meta in found.items()
            if tp.topic == topic and meta.offset is not None and meta.offset >= 0
        }
        return {p: got.get(p) for p in range(parts)}

    def compact(self, topic: str) -> None:
        """Kafka's log cleaner compacts by itself; nothing to do here."""

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        *,
        auto_offset_reset: Literal["earliest", "latest"] = "earliest",
        transactional_id: str | None = None,
    ) -> KafkaBusConsumer:
        return KafkaBusConsumer(self, group, list(topics), auto_offset_reset,
                                transactional_id)

    def reader(self, partitions: Iterable[TopicPartition]) -> KafkaReader:
        return KafkaReader(self, set(partitions))

    def transactional_producer(self, transactional_id: str) -> KafkaProducer:
        """A producer of ``transactional_id`` with its transactions initialised (which
        fences any earlier producer of that id and aborts what it left open)."""
        since = time.monotonic()
        try:
            producer = KafkaProducer(**{
                "retry_backoff_ms": TXN_RETRY_BACKOFF_MS, **self._producer_config,
                "transactional_id": transactional_id,
                "transaction_timeout_ms": TRANSACTION_TIMEOUT_MS,
            })
        except kerr.KafkaError as exc:
            raise self.wrap_error(exc, f"cannot start transactional producer {transactional_id}",
                              since) from exc
        try:
            producer.init_transactions()
        except kerr.KafkaError as exc:
            close_producer(producer, timeout=0)
            raise self.wrap_error(exc, f"cannot start transactional producer {transactional_id}",
                              since) from exc
        return producer

    def close(self) -> None:
        if self._producer is not None:
            close_producer(self._producer, timeout=self.produce_timeout)
        for client in (self._admin, self._meta):
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing must not raise
                    pass
        self._producer = self._admin = self._meta = None


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Collects the partitions a group takes from this member (revoked in a rebalance,
    or lost when the group dropped it), called on the consumer's IO loop inside a poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revoked: set[TopicPartition] = set()

    def _add(self, partitions: Iterable[KafkaTP]) -> None:
        with self._lock:
            self._revoked.update(TopicPartition(tp.topic, tp.partition) for tp in partitions)

    def on_partitions_revoked(self, revoked: Iterable[KafkaTP]) -> None:
        self._add(revoked)

    def on_partitions_lost(self, lost: Iterable[KafkaTP]) -> None:
        self._add(lost)

    def on_partitions_assigned(self, assigned: Iterable[KafkaTP]) -> None:
        return None

    def take(self) -> set[TopicPartition]:
        with self._lock:
            taken, self._revoked = self._revoked, set()
        return taken


class KafkaBusConsumer(Consumer):
    """A member of a real Kafka consumer group (auto-commit off, read_committed)."""

    def __init__(
        self,
        bus: KafkaBus,
        group: str,
        topics: list[str],
        auto_offset_reset: Literal["earliest", "latest"],
        transactional_id: str | None = None,
    ) -> None:
        self.group = group
        self._bus = bus
        self.transactional_id = transactional_id
        self._txn: KafkaProducer | None = None
        #: the output topics named by :meth:`prepare_outputs` (a new producer loads them too)
        self._outputs: list[str] = []
        self._revocations = _Revocations()
        if transactional_id is not None:
            self._txn = bus.transactional_producer(transactional_id)
        since = time.monotonic()
        try:
            self._consumer = KafkaConsumer(
                **bus.client_options(),
                group_id=group,
                client_id=f"{bus.client_id}-{group}",
                enable_auto_commit=False,
                auto_offset_reset=auto_offset_reset,
                max_poll_records=2000,
                fetch_max_wait_ms=100,
                isolation_level="read_committed",
                **bus.group_timeouts,
            )
            self._consumer.subscribe(topics, listener=self._revocations)
        except kerr.KafkaError as exc:
            if self._txn is not None:
                close_producer(self._txn)
            raise bus.wrap_error(exc, f"cannot join group {group}", since) from exc

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        self._fence()
        deadline = time.monotonic() + timeout
        out: list[Message] = []
        try:
            while not out:
                left = deadline - time.monotonic()
                batches = self._consumer.poll(
                    timeout_ms=max(0, int(left * 1000)), max_records=max_records
                )
                for tp, records in batches.items():
                    out.extend(
                        Message(
                            tp.topic, tp.partition, r.offset, r.key, r.value,
                            tuple(r.headers or ()), r.timestamp,
                        )
                        for r in records
                    )
                if time.monotonic() >= deadline:
                    break
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"poll failed in group {self.group}") from exc
        return out

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        try:
            if offsets is None:
                self._consumer.commit()
            elif offsets:
                self._consumer.commit(
                    {
                        KafkaTP(tp.topic, tp.partition): OffsetAndMetadata(off, "", -1)
                        for tp, off in offsets.items()
                    }
                )
        except kerr.KafkaError as exc:
            raise _wrap(exc, f"commit failed in group {self.group}") from exc

    def commit_with(
        self, records: Sequence[Record], offsets: Mapping[TopicPartition, int]
    ) -> list[tuple[int, int]]:
        if self.transactional_id is None:
            raise BusError(f"consumer of group {self.group} has no transactional id")
        self._fence()  # discarded after a failure: a new one fences the old
        assert self._txn is not None
        producer, timeout = self._txn, self._bus.produce_timeout
        try:
            producer.begin_transaction()
            futures = [_send(producer, r) for r in records]
            producer.flush(timeout=timeout)
            placed = [(m.partition, m.offset) for m in (f.get(timeout=timeout) for f in futures)]
            if offsets:
                manager = producer._transaction_manager  # noqa: SLF001 - bounded wait
                _within(manager.send_offsets_to_transaction(
                    {KafkaTP(tp.topic, tp.partition): OffsetAndMetadata(off, "", -1)
                     for tp, off in offsets.items()},
                    self._consumer.group_metadata(),
                ), producer, timeout, "offsets not added")
        except kerr.KafkaError as exc:  # not committing yet: the transaction aborts
            self._discard()
            raise _wrap(exc, f"transaction failed in group {self.group}") from exc
        try:
            result = producer._transaction_manager.begin_commit()  # noqa: SLF001
            producer._sender.wakeup()  # noqa: SLF001
            # once asked to commit, the outcome is the broker's: wait for it (an outage
            # is waited out here), never give the batch up as if it had not committed
            while not result.wait(timeout_ms=timeout * 1000):
                log.warning("transaction commit waits for the broker", group=self.group)
            return placed
        except kerr.KafkaError as exc:
            self._discard()
            raise _wrap(exc, f"transaction not committed in group {self.group}") from exc

    def _discard(self) -> None:
        """Drop the transactional producer after any failed transaction (an outage, a
        timeout, fencing): kafka-python's producer does not always recover, and its
        abort can wait forever. Its sender is stopped here and now, pending requests and
        all: a producer left retrying would reach the broker once it is back, after
        its transaction was aborted, and leave a transaction hanging on a partition
        (read_committed readers stop at it; a group's offsets stay unstable). The next
        poll makes a new producer of the same id (see :meth:`_fence`)."""
        producer, self._txn = self._txn, None
        if producer is not None:
            stop_producer_now(producer, timeout=self._bus.request_timeout + 1.0)

    def _fence(self) -> None:
        """After a discarded transaction, before reading on: a new producer of the same
        transactional id, whose ``init_transactions`` makes the coordinator abort what
        the old one left open and fences the old one, so that the group's committed
        offsets are settled before this member asks for them."""
        if self.transactional_id is not None and self._txn is None:
            self._txn = self._bus.transactional_producer(self.transactional_id)
            self._load_metadata(self._txn)

    def prepare_outputs(self, topics: Iterable[str]) -> None:
        """Load the transactional producer's metadata of every output topic now, in one
        metadata request: otherwise the first transaction asks for each topic as its
        first record for it is sent, one round trip (and metadata back-off) after the
        other, and the signals that arrive meanwhile queue up (seconds on a first
        batch). A failure is left to the first batch, which asks again."""
        self._outputs = list(dict.fromkeys([*self._outputs, *topics]))
        if self._txn is not None:
            self._load_metadata(self._txn)
        elif self.transactional_id is None:  # at-least-once: the bus's own producer writes
            try:
                self._load_metadata(self._bus.producer)
            except BusError as exc:
                log.warning("output topic metadata not loaded; the first batch asks again",
                            group=self.group, error=type(exc).__name__)

    def _load_metadata(self, producer: KafkaProducer) -> None:
        if not self._outputs:
            return
        try:
            sender = producer._sender  # noqa: SLF001 - track all topics before one refresh
            for topic in self._outputs:
                sender.add_topic(topic)
            for topic in self._outputs:
                producer.partitions_for(topic)
        except kerr.KafkaError as exc:
            log.warning("output topic metadata not loaded; the first batch asks again",
                        group=self.group, error=type(exc).__name__)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._consumer.seek(KafkaTP(tp.topic, tp.partition), offset)

    def position(self, tp: TopicPartition) -> int:
        return int(self._consumer.position(KafkaTP(tp.topic, tp.partition)))

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def take_revoked(self) -> set[TopicPartition]:
        return self._revocations.take()

    def known_ends(self) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = {}
        try:
            for ktp in self._consumer.assignment():
                highwater = self._consumer.highwater(ktp)
                if highwater is not None:
                    ends[TopicPartition(ktp.topic, ktp.partition)] = int(highwater)
        except kerr.KafkaError:  # revoked meanwhile: what is known so far is still true
            pass
        return ends

    def close(self) -> None:
        """Leave the group at once (LeaveGroup: the partitions move on now, not after
        the session timeout), without committing; bounded when no broker answers."""
        try:
            self._consumer.close(autocommit=False, timeout_ms=5_000)
        except Exception:  # noqa: BLE001 - closing must not raise
            pass
        if self._txn is not None:
            close_producer(self._txn, timeout=5)
            self._txn = None


class KafkaReader(Consumer):
    """Partitions assigned by hand, outside any group, read_committed (state restore)."""

    def __init__(self, bus: KafkaBus, partitions: set[TopicPartition]) -> None:
        since = time.monotonic()
        try:
            self._consumer = KafkaConsumer(**bus.client_options(
                group_id=None, enable_auto_commit=False,
                client_id=f"{bus.client_id}-reader", max_poll_records=5000,
                isolation_level="read_committed", auto_offset_reset="earliest",
            ))
            self._consumer.assign([KafkaTP(tp.topic, tp.partition) for tp in partitions])
        except kerr.KafkaError as exc:
            raise bus.wrap_error(exc, "cannot start a reader", since) from exc

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000),
                                          max_records=max_records)
        except kerr.KafkaError as exc:
            raise _wrap(exc, "reader poll failed") from exc
        return [
            Message(tp.topic, tp.partition, r.offset, r.key, r.value,
                    tuple(r.headers or ()), r.timestamp)
            for tp, records in batches.items() for r in records
        ]

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        raise BusError("a reader outside any group commits nothing")

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._consumer.seek(KafkaTP(tp.topic, tp.partition), offset)

    def position(self, tp: TopicPartition) -> int:
        try:
            return int(self._consumer.position(KafkaTP(tp.topic, tp.partition)))
        except kerr.KafkaError as exc:
            raise _wrap(exc, "reader position failed") from exc

    def end_offsets(self) -> dict[TopicPartition, int]:
        """The last stable offset of each assigned partition."""
        tps = self._consumer.assignment()
        try:
            ends = self._consumer.end_offsets(list(tps))
        except kerr.KafkaError as exc:
            raise _wrap(exc, "reader end offsets failed") from exc
        return {TopicPartition(tp.topic, tp.partition): int(o) for tp, o in ends.items()}

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        try:
            self._consumer.close(autocommit=False)
        except Exception:  # noqa: BLE001 - closing must not raise
            pass


def _within(result: Any, producer: KafkaProducer, timeout: float, what: str) -> None:
    """Wait for a transaction step at most ``timeout`` seconds (kafka-python's own
    methods wait without a limit while the coordinator is away)."""
    producer._sender.wakeup()  # noqa: SLF001
    if not result.wait(timeout_ms=timeout * 1000):
        raise kerr.KafkaTimeoutError(f"{what} within {timeout:.0f} s")


def close_producer(producer: KafkaProducer, timeout: float = 1.0) -> None:
    """Close ``producer`` within ``timeout`` seconds, whatever the broker does.

    kafka-python's ``close`` first flushes, and when batches cannot be delivered in time
    (the broker is away) it raises before stopping its sender thread, so the producer
    stays half open and raises again from ``__del__``. Here the sender is then forced
    down, which fails the pending batches (their callers already gave up on them), and
    the close completes. Never raises."""
    try:
        producer.close(timeout=timeout)
        return
    except Exception:  # noqa: BLE001 - the flush timed out; force it below
        pass
    sender = getattr(producer, "_sender", None)
    try:
        if sender is not None:
            sender.force_close()
            sender.join(timeout)
        producer.close(timeout=0)
    except Exception:  # noqa: BLE001 - closing must not raise
        producer._closed = True  # noqa: SLF001 - nothing left to flush or stop


def stop_producer_now(producer: KafkaProducer, timeout: float) -> None:
    """Stop ``producer`` without sending anything it still holds (records, transaction
    requests): its sender is forced down and waited for at most ``timeout`` seconds
    (it may be inside one network wait). Never raises."""
    sender = getattr(producer, "_sender", None)
    try:
        if sender is not None:
            sender.force_close()
            sender.join(timeout)
            if sender.is_alive():
                log.warning("a discarded producer's sender is still running",
                            client=str(getattr(producer, "config", {}).get("transactional_id")))
    except Exception:  # noqa: BLE001 - stopping must not raise
        pass
    close_producer(producer, timeout=0)


def _send(producer: KafkaProducer, r: Record) -> Any:
    return producer.send(
        r.topic, value=r.value, key=r.key, headers=list(r.headers) or None,
        partition=r.partition,
    )
