"""The sink runner: from each team's topic ``alerts.<team>.v1`` to its configured sinks.

One consumer per team *and delivery*: group ``sinks-<team>-inbox`` feeds the inbox when
``deliveries.inbox``, group ``sinks-<team>-webhook`` the webhook when one is configured
(``deliveries.topic`` needs nothing: the topic is the delivery). Not one consumer over
every alert topic, and not one per team feeding both sinks, because a webhook that is
down retries each alert for up to ``max_attempts`` with backoff, for minutes: that must
not hold back the team's inbox, nor other teams. Each group's lag shows how far that
delivery is behind, and adding a team rebalances nothing. ``run`` gives every consumer
its own thread; ``step`` polls each once, in turn (for tests and batch jobs).

Per batch of one consumer (a :class:`SinkWorker`):

1. decode (bytes that do not decode: dead letter, by :class:`~hub.consume.AvroConsumer`);
   a record that is not a valid TeamAlert of this team: dead letter (``UNKNOWN_EVENT_TYPE``
   or ``VALIDATION_FAILED``, stage ``sinks:<team>``), never handed to a sink. Only the
   team's first consumer writes these dead letters, so one bad record gives one;
2. ``add`` each alert to the worker's sinks;
3. ``flush`` them (undeliverable webhook alerts become dead letters);
4. commit the offsets.

At-least-once: a crash or a failing flush before the commit re-reads the batch (a failed
batch is rewound at once and retried after ``retry_pause``). The inbox stores each
``alert_id`` once; the webhook receiver drops duplicates by the ``Signalhub-Alert-Id``
header. An alert that ``signalhub deadletters replay`` put back on the team's topic goes
through every sink of that team again, with the same effect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import SecretStr, ValidationError

from connectors.sinks.base import Sink
from connectors.sinks.inbox import InboxSink, InboxStore
from connectors.sinks.outcomes import ensure_outcomes_topic
from connectors.sinks.webhook import Backoff, DeliveryInterrupted, WebhookSink
from hub.bus.base import Message, Record, TopicPartition, TopicSpec
from hub.config import HubConfig, Team
from hub.connect import Connection
from hub.consume import AvroConsumer, Event
from hub.deadletters import DeadLetterWriter
from hub.errors import CommitFailed, ConfigError, SignalRejected
from hub.events import TeamAlert
from hub.topics import alerts_topic, ensure_topics

__all__ = ["SinkRunner", "SinkWorker", "webhook_secrets"]

log = structlog.get_logger(__name__)

Secret = bytes | str | SecretStr


def webhook_secrets(config: HubConfig, environ: Mapping[str, str]) -> dict[str, SecretStr]:
    """The webhook keys the configuration names (``secret_env``), taken from ``environ``.

    Called once at the edge (e.g. a command with ``os.environ``); the runner and the
    sinks only see the result. Variables that are not set are left out, and the runner
    then refuses to start for that team.
    """
    names = {
        t.deliveries.webhook.secret_env
        for t in config.teams
        if t.deliveries.webhook is not None and t.deliveries.webhook.secret_env
    }
    return {n: SecretStr(environ[n]) for n in sorted(names) if environ.get(n)}


class _Silent(DeadLetterWriter):
    """For a team's second consumer: its first one dead-letters the same bad records."""

    def send_many(
        self, failures: list[tuple[Message, BaseException]], *, stage: str, **extra: Any
    ) -> None:
        for message, _ in failures:
            log.debug("bad record left to the team's first consumer", topic=message.topic,
                      partition=message.partition, offset=message.offset)  # fmt: skip


class SinkWorker:
    """One consumer of a team's topic (group ``<prefix>-<team>-<name>``) and its sinks."""

    def __init__(
        self, conn: Connection, team_id: str, name: str, sinks: list[Sink], group: str,
        dead_letters: DeadLetterWriter, *, report_bad: bool = True,
    ) -> None:  # fmt: skip
        self.conn = conn
        self.team_id = team_id
        self.name = name
        self.topic = alerts_topic(team_id)
        self.sinks = sinks
        self.group = group
        self.dead_letters = dead_letters
        self.report_bad = report_bad
        self.stage = f"sinks:{team_id}"
        self.handled = 0
        self._reader: AvroConsumer | None = None

    @property
    def reader(self) -> AvroConsumer:
        if self._reader is None:
            writer = self.dead_letters
            if not self.report_bad:
                writer = _Silent(writer.bus, writer.serde, writer.topic)
            self._reader = AvroConsumer(
                self.conn.bus.consumer(self.group, [self.topic]), self.conn.serde,
                writer, stage=f"{self.stage}:decode",
            )  # fmt: skip
        return self._reader

    def step(self, max_records: int = 200, timeout: float = 1.0) -> int:
        """Poll one batch, hand it to every sink, flush, commit; return messages read.

        On a failing flush the batch is rewound (read again next time) and the error
        raised; nothing is committed.
        """
        reader = self.reader
        before = reader.dead_lettered
        events = reader.poll(max_records, timeout)
        dead_lettered = reader.dead_lettered - before
        if not events and not dead_lettered:
            return 0
        first: dict[TopicPartition, int] = {}
        bad: list[Record] = []
        for event in events:
            first.setdefault(TopicPartition(event.message.topic, event.message.partition),
                             event.message.offset)  # fmt: skip
            alert = self._alert(event, bad if self.report_bad else [])
            if alert is not None:
                for sink in self.sinks:
                    sink.add(alert, event.message)
        try:
            if bad:
                self.conn.bus.produce(bad)
            for sink in self.sinks:
                sink.flush()
        except BaseException:
            for sink in self.sinks:
                sink.discard()
            self._rewind(first)
            raise
        try:
            reader.commit()
        except CommitFailed as exc:
            log.warning("commit refused after a rebalance; the batch will be read again",
                        team=self.team_id, error=str(exc))  # fmt: skip
        self.handled += len(events)
        return len(events) + dead_lettered

    def _alert(self, event: Event, bad: list[Record]) -> TeamAlert | None:
        """The event as a TeamAlert of this team, or None (and a dead letter in ``bad``)."""
        message = event.message
        if event.record_name.rsplit(".", 1)[-1] != TeamAlert.avro_name:
            exc = SignalRejected(f"{event.record_name} is not a TeamAlert", "UNKNOWN_EVENT_TYPE")
            bad.append(self.dead_letters.build(message, exc, stage=self.stage))
            return None
        try:
            alert = TeamAlert.from_avro(event.record)
        except ValidationError as err:
            # field names and rules only: the values may be personal data
            where = ", ".join(sorted({".".join(map(str, e["loc"])) for e in err.errors()}))
            exc = SignalRejected(f"invalid TeamAlert: {where}", "VALIDATION_FAILED")
            bad.append(self.dead_letters.build(message, exc, stage=self.stage))
            return None
        if alert.team_id != self.team_id:
            exc = SignalRejected(
                f"alert for team {alert.team_id} on {self.topic}: not delivered",
                "VALIDATION_FAILED",
            )
            bad.append(self.dead_letters.build(
                message, exc, stage=self.stage, event_id=alert.event_id))  # fmt: skip
            return None
        return alert

    def _rewind(self, first: dict[TopicPartition, int]) -> None:
        for tp, offset in first.items():
            try:
                self.reader.consumer.seek(tp, offset)
            except Exception as exc:  # noqa: BLE001 - revoked: its new owner re-reads it
                log.warning("cannot rewind", topic=tp.topic, partition=tp.partition,
                            error=type(exc).__name__)  # fmt: skip

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        if self._reader is not None:
            self._reader.close()


class SinkRunner:
    """Delivers every team's alerts to its configured sinks (see the module docstring)."""

    def __init__(
        self,
        conn: Connection,
        config: HubConfig,
        inbox_store: InboxStore | None,
        secrets: Mapping[str, Secret] | None = None,
        *,
        group_prefix: str = "sinks",
        batch_size: int = 200,
        backoff: Backoff | None = None,
        webhook_timeout: float = 10.0,
        proxy: str | None = None,
        retry_pause: float = 1.0,
    ) -> None:
        """``secrets`` maps the variable names of the teams' ``secret_env`` to the keys
        (see :func:`webhook_secrets`). Raise ConfigError when a team needs the inbox and
        there is no store, or its webhook key is missing."""
        self.conn = conn
        self.config = config
        self.inbox_store = inbox_store
        self.batch_size = batch_size
        self.retry_pause = retry_pause
        self.stopping = threading.Event()
        self.dead_letters = DeadLetterWriter(conn.bus, conn.serde)
        #: every consumer, by "<team>/<delivery>" (e.g. "wijkteam-noord/inbox")
        self.workers: dict[str, SinkWorker] = {}
        for team in config.teams:
            sinks = self._sinks_for(team, secrets or {}, backoff, webhook_timeout, proxy)
            for index, (name, sink) in enumerate(sinks):
                self.workers[f"{team.id}/{name}"] = SinkWorker(
                    conn, team.id, name, [sink], f"{group_prefix}-{team.id}-{name}",
                    self.dead_letters, report_bad=index == 0,
                )  # fmt: skip

    def _sinks_for(
        self, team: Team, secrets: Mapping[str, Secret], backoff: Backoff | None,
        timeout: float, proxy: str | None,
    ) -> list[tuple[str, Sink]]:  # fmt: skip
        sinks: list[tuple[str, Sink]] = []
        if team.deliveries.inbox:
            if self.inbox_store is None:
                raise ConfigError(f"team {team.id} delivers to the inbox, but no inbox store")
            sinks.append(("inbox", InboxSink(self.inbox_store)))
        if team.deliveries.webhook is not None:
            sinks.append(("webhook", WebhookSink.for_delivery(
                team.id, team.deliveries.webhook, secrets, self.dead_letters,
                backoff=backoff, timeout=timeout, proxy=proxy, stop=self.stopping,
                targets=self.config.webhooks.policy(),
            )))  # fmt: skip
        return sinks

    def handled(self, team_id: str) -> dict[str, int]:
        """Messages read so far per delivery of ``team_id``."""
        return {w.name: w.handled for w in self.workers.values() if w.team_id == team_id}

    def ensure_topics(self) -> None:
        """The core topics, every team's alert topic and ``outcomes.v1``."""
        ensure_topics(self.conn.bus)
        for team in self.config.teams:
            self.conn.bus.create_topic(TopicSpec(alerts_topic(team.id), 3))
        ensure_outcomes_topic(self.conn.bus)

    def step(self, timeout: float = 1.0) -> int:
        """Poll every consumer once (in turn); return the messages read in all."""
        return sum(w.step(self.batch_size, timeout) for w in self.workers.values())

    def run(self, stop: threading.Event | None = None, idle_exit: float | None = None) -> None:
        """Deliver until ``stop`` is set, one thread per consumer (with ``idle_exit``: a
        thread ends after that many idle seconds, and ``run`` when all have ended)."""
        stop = stop or threading.Event()
        self.stopping.clear()
        self.ensure_topics()
        threads = [
            threading.Thread(target=self._loop, args=(w, idle_exit), name=w.group, daemon=True)
            for w in self.workers.values()
        ]
        log.info("sinks started", consumers=len(threads), bus=self.conn.bus.kind)
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads) and not stop.wait(0.2):
            pass
        self.stopping.set()
        for thread in threads:
            thread.join()
        log.info("sinks stopped", handled=sum(w.handled for w in self.workers.values()))

    def _loop(self, worker: SinkWorker, idle_exit: float | None) -> None:
        idle_since = time.monotonic()
        while not self.stopping.is_set():
            try:
                read = worker.step(self.batch_size, 0.5)
            except DeliveryInterrupted:
                break
            except Exception as exc:  # noqa: BLE001 - the batch is rewound; try again
                log.error("sink batch failed; it will be retried", group=worker.group,
                          error=type(exc).__name__, detail=str(exc)[:300])  # fmt: skip
                self.stopping.wait(self.retry_pause)
                continue
            if read:
                idle_since = time.monotonic()
            elif idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                break

    def close(self) -> None:
        """Close the consumers and the sinks (not the inbox store: the caller owns it)."""
        for worker in self.workers.values():
            worker.close()
