"""The sink interface: where a team's alerts go after ``alerts.<team>.v1``.

A sink has a small lifecycle, after quix-streams' ``BaseSink`` / ``BatchingSink``:

- ``add(alert, message)`` hands it one alert (``message`` is the bus message the alert
  was read from, kept so a sink can dead-letter the original bytes);
- ``flush()`` makes everything added so far durable (written or delivered) before it
  returns, and returns the records that must go out with the batch, such as the dead
  letters of alerts it could not deliver; the runner commits those records together
  with the topic offsets (one transaction in exactly-once mode) only after every sink
  of the team has flushed, so a crash re-delivers (at-least-once) and every sink must
  be idempotent on ``alert_id``;
- ``discard()`` drops what was added but not flushed (after another sink failed);
- ``close()`` releases resources.

Most sinks subclass :class:`BatchingSink` and write one method, ``write(batch)``.
**A new sink is one new file** in ``connectors/sinks/`` with one such class (see
``inbox.py`` and ``webhook.py``). :class:`ListSink` is an in-package test double.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from hub.bus.base import Message, Record
from hub.events import TeamAlert

__all__ = ["BatchingSink", "ListSink", "Sink", "SinkItem"]


@dataclass(frozen=True, slots=True)
class SinkItem:
    """One alert handed to a sink, with the bus message it came from (if any)."""

    alert: TeamAlert
    message: Message | None = None


class Sink(abc.ABC):
    """Takes alerts one by one; ``flush`` makes them durable."""

    @abc.abstractmethod
    def add(self, alert: TeamAlert, message: Message | None = None) -> None:
        """Accept one alert (buffer it, or deliver it at once)."""

    @abc.abstractmethod
    def flush(self) -> list[Record]:
        """Make every alert added so far durable; raise if that is not possible (the
        runner then re-reads the uncommitted alerts). Returns the records to commit
        with the batch (dead letters of undeliverable alerts; usually none)."""

    def discard(self) -> None:
        """Drop what was added but not flushed (the runner re-reads it after a failed
        flush of any of the team's sinks). The default keeps nothing, so has nothing."""

    def close(self) -> None:
        """Release resources (the default has none)."""


class BatchingSink(Sink):
    """Buffers alerts and hands them to :meth:`write` as one batch on :meth:`flush`.

    The buffer is emptied whether ``write`` succeeds or not: after a failure the runner
    re-reads the same alerts from the topic and adds them again.
    """

    def __init__(self) -> None:
        self._batch: list[SinkItem] = []

    def add(self, alert: TeamAlert, message: Message | None = None) -> None:
        self._batch.append(SinkItem(alert, message))

    def flush(self) -> list[Record]:
        batch, self._batch = self._batch, []
        return (self.write(batch) or []) if batch else []

    def discard(self) -> None:
        self._batch = []

    @abc.abstractmethod
    def write(self, batch: list[SinkItem]) -> list[Record] | None:
        """Write ``batch`` durably (idempotent on ``alert_id``), or raise; return the
        records to commit with the batch (e.g. dead letters), if any."""


class ListSink(BatchingSink):
    """Keeps what it is given in a list: a test double, and an example of a sink."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[TeamAlert] = []

    def write(self, batch: list[SinkItem]) -> None:
        self.written.extend(item.alert for item in batch)
