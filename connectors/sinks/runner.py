"""The sink runner: from each team's topic ``alerts.<team>.v1`` to its configured sinks.

One consumer per team *and delivery*: group ``sinks-<team>-inbox`` feeds the inbox when
``deliveries.inbox``, group ``sinks-<team>-webhook`` the webhook when one is configured
(``deliveries.topic`` needs nothing: the topic is the delivery). Not one consumer over
every alert topic, and not one per team feeding both sinks, because a webhook that is
down retries each alert for up to ``max_attempts`` with backoff, for minutes: that must
not hold back the team's inbox, nor other teams. Each group's lag shows how far that
delivery is behind, and adding a team rebalances nothing. ``run`` gives every consumer
its own thread; ``step`` polls each once, in turn (for tests and batch jobs).

Each consumer is a :class:`SinkWorker`, a processor on the one stream loop
(:class:`~hub.stream.StreamLoop`, docs/stream.md), at-least-once. Per batch:

1. the loop polls and decodes (bytes that do not decode: a dead letter, stage
   ``sinks:<team>:decode``); the worker turns a record that is not a valid TeamAlert of
   this team into a dead letter (``UNKNOWN_EVENT_TYPE`` or ``VALIDATION_FAILED``, stage
   ``sinks:<team>``) that goes out with the batch, never handed to a sink. Only the
   team's first consumer writes these dead letters, so one bad record gives one;
2. ``add`` each alert to the worker's sinks and ``flush`` them (undeliverable webhook
   alerts become dead letters) — inside ``process``, before the loop produces the
   dead letters and commits the offsets (the checkpoint order: sinks first);
3. the loop produces the dead letters and commits.

A failing flush discards what the sinks hold and raises
:class:`~hub.errors.SinkUnavailable`; the loop rewinds the batch and reads it again
after ``retry_pause`` (doubling up to 5 s). A crash before the commit re-reads the
batch too: the inbox stores each ``alert_id`` once; the webhook receiver drops
duplicates by the ``webhook-id`` header. An alert that ``signalhub deadletters
replay`` put back on the team's topic goes through every sink of that team again, with
the same effect.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import structlog
from pydantic import SecretStr, ValidationError

from connectors.sinks.base import Sink
from connectors.sinks.inbox import InboxSink
from connectors.sinks.webhook import Backoff, DeliveryInterrupted, WebhookSink
from hub.bus.base import Record, TopicPartition
from hub.config import HubConfig, Team
from hub.connect import Connection
from hub.consume import Event
from hub.deadletters import DeadLetterWriter
from hub.errors import BusError, ConfigError, SignalRejected, SinkUnavailable, Unavailable
from hub.events import TeamAlert
from hub.inbox import InboxStore
from hub.stream import Outcome, StreamLoop
from hub.topics import alerts_topic, ensure_topics
from hub.values import field_errors

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


class SinkWorker:
    """One consumer of a team's topic (group ``<prefix>-<team>-<name>``) and its sinks:
    a processor on its own :class:`~hub.stream.StreamLoop`."""

    def __init__(
        self, conn: Connection, team_id: str, name: str, sinks: list[Sink], group: str,
        dead_letters: DeadLetterWriter, *, report_bad: bool = True, batch_size: int = 200,
        retry_pause: float = 1.0,
    ) -> None:
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
        self.loop = StreamLoop(
            conn.bus, conn.serde, group, [self.topic], self, name="sinks",
            guarantee="at-least-once", batch_size=batch_size, dead_letters=dead_letters,
            decode_stage=f"{self.stage}:decode", report_bad=report_bad,
            retry_pause=retry_pause,
        )

    # -- the processor ----------------------------------------------------------------------

    def assigned(self, partitions: set[TopicPartition]) -> None:
        """Nothing to restore: the sinks keep no state of the topic."""

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Nothing to drop."""

    def process(self, events: list[Event]) -> Outcome:
        """Hand the batch's alerts to every sink and flush them; the dead letters of
        records that are not this team's alerts and of alerts a sink could not deliver
        go out with the batch (committed with its offsets)."""
        bad: list[Record] = []  # not this team's alerts (reported by one runner)
        undelivered: list[Record] = []  # dead letters of the sinks
        try:
            for event in events:
                alert = self._alert(event, bad)
                if alert is not None:
                    for sink in self.sinks:
                        sink.add(alert, event.message)
            for sink in self.sinks:
                undelivered.extend(sink.flush())
        except BaseException as exc:
            for sink in self.sinks:
                sink.discard()
            if isinstance(exc, (DeliveryInterrupted, BusError, Unavailable)) or not isinstance(
                exc, Exception
            ):
                raise  # stopping, or the bus itself: the loop's own rules
            raise SinkUnavailable(
                f"sink {self.name} of team {self.team_id} failed to flush"
                f" ({type(exc).__name__}: {str(exc)[:200]}); the batch is read again"
            ) from exc
        count = len(events)

        def flush(placed: Sequence[tuple[int, int]]) -> None:
            self.handled += count

        return Outcome([*(bad if self.report_bad else []), *undelivered], flush)

    # -- running ----------------------------------------------------------------------------

    def step(self, timeout: float = 1.0) -> int:
        """One checkpoint of the loop: poll, deliver, commit; return messages read. A
        failing flush rewinds the batch and raises; nothing is committed."""
        return self.loop.step(timeout)

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
            where = ", ".join(sorted({e.field for e in field_errors(err)}))
            exc = SignalRejected(f"invalid TeamAlert: {where}", "VALIDATION_FAILED")
            bad.append(self.dead_letters.build(message, exc, stage=self.stage))
            return None
        if alert.team_id != self.team_id:
            exc = SignalRejected(
                f"alert for team {alert.team_id} on {self.topic}: not delivered",
                "VALIDATION_FAILED",
            )
            bad.append(self.dead_letters.build(
                message, exc, stage=self.stage, event_id=alert.event_id))
            return None
        return alert

    def close(self) -> None:
        self.loop.close()
        for sink in self.sinks:
            sink.close()


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
                    self.dead_letters, report_bad=index == 0, batch_size=batch_size,
                    retry_pause=retry_pause,
                )

    def _sinks_for(
        self, team: Team, secrets: Mapping[str, Secret], backoff: Backoff | None,
        timeout: float, proxy: str | None,
    ) -> list[tuple[str, Sink]]:
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
            )))
        return sinks

    def handled(self, team_id: str) -> dict[str, int]:
        """Messages read so far per delivery of ``team_id``."""
        return {w.name: w.handled for w in self.workers.values() if w.team_id == team_id}

    def ensure_topics(self) -> None:
        """The core topics, every team's alert topic and ``outcomes.v1``."""
        ensure_topics(self.conn.bus, config=self.config)

    def step(self, timeout: float = 1.0) -> int:
        """Poll every consumer once (in turn); return the messages read in all."""
        return sum(w.step(timeout) for w in self.workers.values())

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
        try:
            worker.loop.run(self.stopping, idle_exit)
        except DeliveryInterrupted:  # stopping during a webhook retry: left uncommitted
            log.info("sink stopped during a retry", group=worker.group)

    def close(self) -> None:
        """Close the consumers and the sinks (not the inbox store: the caller owns it)."""
        for worker in self.workers.values():
            worker.close()
