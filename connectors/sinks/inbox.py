"""The inbox sink: writes a team's alerts into the hub's team inbox.

The inbox itself (the store, the team's work on an alert, outcomes to the source) is in
the core, :mod:`hub.inbox`; this edge only consumes alerts into it. Writing is
idempotent on ``alert_id`` (one transaction per batch), so re-reading the topic after a
crash changes nothing.
"""

from __future__ import annotations

from connectors.sinks.base import BatchingSink, SinkItem
from hub.inbox import InboxStore

__all__ = ["InboxSink"]


class InboxSink(BatchingSink):
    """Writes alerts into an :class:`~hub.inbox.InboxStore` (idempotent on ``alert_id``)."""

    def __init__(self, store: InboxStore) -> None:
        super().__init__()
        self.store = store
        self.stored = 0

    def write(self, batch: list[SinkItem]) -> None:
        self.stored += self.store.add_many(item.alert for item in batch)
