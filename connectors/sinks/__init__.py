"""Sinks: where a team's alerts go after its topic ``alerts.<team>.v1``.

- :mod:`~connectors.sinks.base`: the ``Sink`` / ``BatchingSink`` interface (a new sink is
  one new file beside it);
- :mod:`~connectors.sinks.inbox`: the sink that fills the hub's team inbox
  (:mod:`hub.inbox`);
- :mod:`~connectors.sinks.webhook`: signed HTTP POST to a team's case system;
- :mod:`~connectors.sinks.runner`: one consumer per team feeding its configured sinks;

See ``docs/sinks.md``.
"""

from __future__ import annotations

from connectors.sinks.base import BatchingSink, ListSink, Sink, SinkItem
from connectors.sinks.inbox import InboxSink
from connectors.sinks.runner import SinkRunner, webhook_secrets
from connectors.sinks.webhook import Backoff, WebhookSink, verify_signature

__all__ = [
    "Backoff",
    "BatchingSink",
    "InboxSink",
    "ListSink",
    "Sink",
    "SinkItem",
    "SinkRunner",
    "WebhookSink",
    "verify_signature",
    "webhook_secrets",
]
