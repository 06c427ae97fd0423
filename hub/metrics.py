"""Prometheus metrics of the hub, in a registry of their own (not the global one).

Names follow Prometheus' conventions: ``signalhub_`` first, snake_case, base units with
the unit as suffix (``_seconds``, ``_messages``; counters end in ``_total``). One label
name per meaning across all families (``reason`` is always a reason code). Every label
is a topic, a consumer group, a partition, a reason code, an outcome, a stage, a route
template, a method (one of :data:`HTTP_METHODS`) or a status: never a subject_ref, a
postcode, an event or alert id or anything a source sent. The registry also holds
prometheus-client's process and Python (platform, GC) collectors. ``docs/operations.md``
lists every family; ``tests/test_metrics_docs.py`` checks that list against a scrape.

- counters are incremented where the router consumes and produces, the ingest API
  publishes and a dead letter is built;
- consumer lag is read from the bus at scrape time (:class:`LagCollector`);
- :class:`HttpMetricsMiddleware` times HTTP requests by route template.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.bus.base import Bus, Record
from hub.config import HubConfig
from hub.topics import SEALED_INTAKE, SIGNAL_TOPICS, alerts_topic

__all__ = [
    "CONTENT_TYPE",
    "DEAD_LETTERS",
    "DECISIONS",
    "EVENTS_CONSUMED",
    "EVENTS_PRODUCED",
    "HTTP_DURATION",
    "HTTP_METHODS",
    "LAG",
    "REGISTRY",
    "HttpMetricsMiddleware",
    "LagCollector",
    "consumed",
    "consumer_groups",
    "dead_letter",
    "exposition",
    "instrument_publisher",
    "produced",
    "router_decision",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: the hub's own registry: tests and several hubs in one process do not share the global one
REGISTRY = CollectorRegistry(auto_describe=True)
#: the standard ``process_*``, ``python_info`` and ``python_gc_*`` families: the
#: collectors prometheus-client puts in its global registry, registered in ours too
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)
#: the consumer lag gauge, in messages (see :class:`LagCollector`)
LAG = "signalhub_consumer_lag_messages"

EVENTS_CONSUMED = Counter(
    "signalhub_events_consumed_total",
    "Events read from a topic, by component (router) and topic.",
    ["component", "topic"],
    registry=REGISTRY,
)
EVENTS_PRODUCED = Counter(
    "signalhub_events_produced_total",
    "Events written to a topic, by component (ingest, router) and topic.",
    ["component", "topic"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "signalhub_router_decisions_total",
    "Router decisions per team and signal: outcome (forwarded, refused, dead_lettered,"
    " duplicate_ignored) and reason code.",
    ["outcome", "reason"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "signalhub_dead_letters_total",
    "Dead letters written, by reason code and stage.",
    ["reason", "stage"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "signalhub_http_request_duration_seconds",
    "HTTP request duration, by app (ingest, web), route template, method and status.",
    ["app", "route", "method", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


# -- instrumentation calls ------------------------------------------------------------------


def _topic_of(item: Any) -> str:
    return str(getattr(item, "topic", None)
               or getattr(getattr(item, "message", None), "topic", "unknown"))


def _topics(items: Iterable[Any]) -> dict[str, int]:
    """Items (records, or decoded events with their ``message``) per topic."""
    counts: dict[str, int] = {}
    for item in items:
        topic = getattr(item, "topic", None)  # a record
        if type(topic) is not str or not topic:
            message = getattr(item, "message", None)  # an event
            topic = getattr(message, "topic", None)
            if type(topic) is not str or not topic:
                topic = _topic_of(item)
        counts[topic] = counts.get(topic, 0) + 1
    return counts


def consumed(component: str, events: Iterable[Any]) -> None:
    """Count messages (or decoded events) read by ``component``, per topic."""
    for topic, n in _topics(events).items():
        EVENTS_CONSUMED.labels(component, topic).inc(n)


def produced(component: str, records: Iterable[Record]) -> None:
    """Count records written by ``component``, per topic."""
    for topic, n in _topics(records).items():
        EVENTS_PRODUCED.labels(component, topic).inc(n)


def router_decision(key: str, n: int = 1) -> None:
    """``n`` router counts of one key, as the router keeps them: ``outcome:REASON`` or
    ``outcome``."""
    outcome, _, reason = key.partition(":")
    DECISIONS.labels(outcome, reason or "").inc(n)


def dead_letter(reason: str, stage: str) -> None:
    DEAD_LETTERS.labels(reason, stage).inc()


def instrument_publisher(publisher: Any, component: str = "ingest") -> None:
    """Count what a :class:`hub.intake.SignalPublisher` publishes, per signal topic."""
    publish = publisher.publish

    def counted(signals: Sequence[tuple[str, Any]]) -> Any:
        result = publish(signals)
        for event_type, _ in signals:
            EVENTS_PRODUCED.labels(component, SIGNAL_TOPICS.get(event_type, "unknown")).inc()
        return result

    publisher.publish = counted


# -- consumer lag ------------------------------------------------------------------------


def consumer_groups(config: HubConfig) -> list[tuple[str, str]]:
    """(group, topic) of the consumer groups that matter: the router on every signal
    topic, the sealed intake on ``intake.sealed.v1``, and ``sinks-<team>-inbox`` /
    ``sinks-<team>-webhook`` on the team's topic."""
    groups = [("router", topic) for topic in SIGNAL_TOPICS.values()]
    groups.append(("sealed-intake", SEALED_INTAKE))
    for team in config.teams:
        if team.deliveries.inbox:
            groups.append((f"sinks-{team.id}-inbox", alerts_topic(team.id)))
        if team.deliveries.webhook is not None:
            groups.append((f"sinks-{team.id}-webhook", alerts_topic(team.id)))
    return groups


class LagCollector(Collector):
    """``signalhub_consumer_lag_messages`` per group, topic and partition, read from the bus at
    scrape time. A topic that does not exist yet is left out."""

    def __init__(self, bus: Bus, groups: Sequence[tuple[str, str]]) -> None:
        self.bus = bus
        self.groups = list(groups)

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            LAG,
            "Messages not yet committed by a consumer group, per topic and partition.",
            labels=["group", "topic", "partition"],
        )
        existing = self.bus.list_topics()
        for group, topic in self.groups:
            if topic not in existing:
                continue
            for p in self.bus.lag(group, topic):
                lag.add_metric([group, topic, str(p.partition)], float(p.lag))
        yield lag


def exposition(bus: Bus | None = None, groups: Sequence[tuple[str, str]] = ()) -> bytes:
    """The Prometheus text format of the hub's metrics (plus consumer lag over ``bus``)."""
    text = generate_latest(REGISTRY)
    if bus is not None and groups:
        extra = CollectorRegistry(auto_describe=False)
        extra.register(LagCollector(bus, groups))
        text += generate_latest(extra)
    return text


# -- HTTP --------------------------------------------------------------------------------

_Scope = dict[str, Any]
_ASGI = Callable[..., Any]
#: the values of the ``method`` label; any other method a client sends counts as ``other``
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


class HttpMetricsMiddleware:
    """ASGI middleware: request duration by route *template* (``/v1/consents/{consent_id}``,
    never the id), method and status; requests that match no route count as
    ``<unmatched>``, methods outside :data:`HTTP_METHODS` as ``other``: every label value
    comes from a fixed set, none from what the client sends. Install with
    ``app.add_middleware(HttpMetricsMiddleware, app_name=...)``.
    """

    def __init__(self, app: _ASGI, app_name: str) -> None:
        self.app = app
        self.app_name = app_name

    async def __call__(self, scope: _Scope, receive: _ASGI, send: _ASGI) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = str(scope.get("method", "")).upper()
            HTTP_DURATION.labels(self.app_name, route,
                                 method if method in HTTP_METHODS else "other",
                                 str(status[0])).observe(time.perf_counter() - started)
