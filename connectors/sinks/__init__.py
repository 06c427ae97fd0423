"""Sinks: where a team's alerts go after its topic ``alerts.<team>.v1``.

- :mod:`~connectors.sinks.base`: the ``Sink`` / ``BatchingSink`` interface (a new sink is
  one new file beside it);
- :mod:`~connectors.sinks.inbox`: the hub's team inbox (SQLite) and its sink;
- :mod:`~connectors.sinks.webhook`: signed HTTP POST to a team's case system;
- :mod:`~connectors.sinks.runner`: one consumer per team feeding its configured sinks;
- :mod:`~connectors.sinks.outcomes`: picked up or not, told back to the source.

See ``docs/sinks.md``.
"""

from __future__ import annotations

from connectors.sinks.base import BatchingSink, ListSink, Sink, SinkItem
from connectors.sinks.inbox import CloseOutcome, InboxSink, InboxStatus, InboxStore
from connectors.sinks.outcomes import publish_outcome
from connectors.sinks.runner import SinkRunner, webhook_secrets
from connectors.sinks.webhook import Backoff, WebhookSink, verify_signature

__all__ = [
    "Backoff",
    "BatchingSink",
    "CloseOutcome",
    "InboxSink",
    "InboxStatus",
    "InboxStore",
    "ListSink",
    "Sink",
    "SinkItem",
    "SinkRunner",
    "WebhookSink",
    "publish_outcome",
    "verify_signature",
    "webhook_secrets",
]
