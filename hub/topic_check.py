"""Compare the hub's topics on the bus with what they should be, and make them so
(`signalhub topics init`).

A missing topic is created. An existing one whose settings differ is reported; with
``apply`` its ``retention.ms``, ``segment.ms`` and ``min.insync.replicas`` are changed.
Its partitions and its cleanup policy are never changed: more partitions move keys to
other partitions (the router's state and a key's order depend on them), fewer cannot
be had, and turning ``delete`` into ``compact`` would drop records. Those differences
are reported for the operator to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.bus.base import Bus, TopicSpec
from hub.errors import ConfigError

__all__ = ["TopicReport", "check_cluster", "sync_topics", "wanted_config"]

#: settings of an existing topic that ``apply`` may change
ALTERABLE = ("retention.ms", "segment.ms", "min.insync.replicas")


@dataclass
class TopicReport:
    """What :func:`sync_topics` found and did for one topic."""

    name: str
    created: bool = False
    #: setting -> (value on the bus, None: the broker's default; wanted value)
    differences: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    applied: bool = False

    @property
    def left(self) -> dict[str, tuple[str | None, str]]:
        """The differences that are still there."""
        if not self.applied:
            return self.differences
        return {k: v for k, v in self.differences.items() if k not in ALTERABLE}

    def lines(self) -> list[str]:
        if self.created:
            return [f"created {self.name}"]
        if not self.differences:
            return [f"ok {self.name}"]
        out = []
        for key, (have, want) in sorted(self.differences.items()):
            shown = "broker default" if have is None else have
            if self.applied and key in ALTERABLE:
                note = "changed"
            elif key in ALTERABLE:
                note = "run with --apply to change it"
            else:
                note = "never changed by the hub: see docs/operations.md"
            out.append(f"differs {self.name}: {key} is {shown}, wanted {want} ({note})")
        return out


def wanted_config(spec: TopicSpec, min_insync_replicas: int | None) -> dict[str, str]:
    """The topic settings ``spec`` stands for, as the broker spells them."""
    config = {"cleanup.policy": spec.cleanup_policy, **spec.config}
    if spec.retention_ms is not None:
        config["retention.ms"] = str(spec.retention_ms)
    if min_insync_replicas is not None:
        config["min.insync.replicas"] = str(min_insync_replicas)
    return config


def check_cluster(bus: Bus, replication_factor: int) -> None:
    """Raise ConfigError naming the setting when the cluster has fewer brokers than
    ``replication_factor`` (every topic creation would fail)."""
    brokers = bus.broker_count()
    if brokers < replication_factor:
        raise ConfigError(
            f"HUB_KAFKA__REPLICATION_FACTOR is {replication_factor}, but the Kafka cluster"
            f" has {brokers} broker(s): lower the setting or add brokers")


def _differences(
    bus: Bus, spec: TopicSpec, min_insync_replicas: int | None
) -> dict[str, tuple[str | None, str]]:
    found = bus.topic_spec(spec.name)
    have = wanted_config(found, None)
    if found.retention_ms is None:
        have.pop("retention.ms", None)
    out: dict[str, tuple[str | None, str]] = {}
    for key, want in wanted_config(spec, min_insync_replicas).items():
        if have.get(key) != want:
            out[key] = (have.get(key), want)
    if found.partitions != spec.partitions:
        out["partitions"] = (str(found.partitions), str(spec.partitions))
    return out


def sync_topics(
    bus: Bus, specs: Sequence[TopicSpec], *, min_insync_replicas: int | None = None,
    apply: bool = False,
) -> list[TopicReport]:
    """Create the missing topics of ``specs``; report (and with ``apply`` change) the
    settings of existing ones that differ. ``min_insync_replicas``: wanted on every topic
    (Kafka; None: not compared)."""
    existing = bus.list_topics()
    reports = []
    for spec in specs:
        report = TopicReport(spec.name)
        if spec.name not in existing:
            bus.create_topic(spec)
            report.created = True
        else:
            report.differences = _differences(bus, spec, min_insync_replicas)
            changes = {k: want for k, (_, want) in report.differences.items() if k in ALTERABLE}
            if apply and changes:
                bus.alter_topic(spec.name, changes)
                report.applied = True
        reports.append(report)
    return reports
