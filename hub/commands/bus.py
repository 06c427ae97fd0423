"""`signalhub topics ...`, `signalhub consume`: look at the bus."""

from __future__ import annotations

from pathlib import Path

import click

from hub.bus.base import TopicSpec
from hub.commands.common import (
    bus_option,
    open_connection,
    registry_option,
    settings_from,
    to_json,
)
from hub.config import load_config
from hub.connect import bus_for
from hub.consume import AvroConsumer
from hub.deadletters import DeadLetterWriter
from hub.errors import HubError
from hub.topic_check import check_cluster, sync_topics
from hub.topics import TopicPolicy


@click.group("topics")
def topics() -> None:
    """Create and inspect topics, and the lag of consumer groups."""


@topics.command("init")
@bus_option
@click.option("--partitions", default=3, show_default=True, help="Partitions per topic.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The hub's configuration file, for each topic's retention"
              " and the teams' alert topics (default: $HUB_CONFIG, else hub.yaml; when it"
              " does not exist: the core topics with the broker's default retention).")
@click.option("--apply", is_flag=True, help="Change retention.ms, segment.ms and"
              " min.insync.replicas of existing topics whose settings differ (partitions"
              " and cleanup policy are never changed).")
def init_topics(
    bus_url: str | None, partitions: int, config_path: Path | None, apply: bool
) -> None:
    """Create the hub's topics (signals, consent, audit, dead letters, sealed intake; with
    a config also outcomes and every team's alert topic) if missing, with the retention
    the policy asks for, the replication factor and min.insync.replicas of the settings.
    Existing topics whose settings differ are reported (changed with --apply)."""
    settings = settings_from(bus_url)
    path = config_path or settings.config
    try:
        config = load_config(path) if config_path or path.exists() else None
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    if config is None:
        click.echo(f"note: no {path}: the core topics only, with the broker's default"
                   " retention (pass --config for the policy's)")
    try:
        with bus_for(settings) as bus:
            kafka = bus.kind == "kafka"
            if kafka:
                check_cluster(bus, settings.kafka.replication_factor)
            policy = TopicPolicy(config)
            specs = policy.core(partitions) + (policy.team_topics(partitions) if config else [])
            reports = sync_topics(
                bus, specs, apply=apply,
                min_insync_replicas=settings.kafka.min_insync_replicas if kafka else None)
    except HubError as exc:
        raise click.ClickException(f"{exc}\nCheck --bus / HUB_BUS and the HUB_KAFKA__*"
                                   " settings.") from exc
    for report in reports:
        for line in report.lines():
            click.echo(line)
    left = sum(len(r.left) for r in reports)
    if left:
        click.echo(f"{left} difference(s) left")


@topics.command("create")
@bus_option
@click.argument("name")
@click.option("--partitions", default=3, show_default=True)
@click.option("--compact", is_flag=True, help="cleanup.policy=compact (keep latest per key).")
@click.option("--retention-ms", type=int, default=None, help="Drop records older than this.")
def create_topic(
    bus_url: str | None, name: str, partitions: int, compact: bool, retention_ms: int | None
) -> None:
    """Create topic NAME (no-op if it exists)."""
    with open_connection(bus_url) as conn:
        conn.bus.create_topic(
            TopicSpec(name, partitions, "compact" if compact else "delete", retention_ms)
        )
        click.echo(f"created {name} ({partitions} partitions)")


@topics.command("list")
@bus_option
def list_topics(bus_url: str | None) -> None:
    """List topics with their end offsets per partition."""
    with open_connection(bus_url) as conn:
        for name in sorted(conn.bus.list_topics()):
            ends = conn.bus.end_offsets(name)
            click.echo(f"{name}\tpartitions={len(ends)}\tmessages_written={sum(ends.values())}")


@topics.command("lag")
@bus_option
@click.argument("group")
@click.argument("topic")
def lag(bus_url: str | None, group: str, topic: str) -> None:
    """Show GROUP's committed offset and lag on each partition of TOPIC."""
    with open_connection(bus_url) as conn:
        total = 0
        for p in conn.bus.lag(group, topic):
            total += p.lag
            committed = "-" if p.committed is None else str(p.committed)
            click.echo(f"{topic}[{p.partition}]\tend={p.end_offset}\tcommitted={committed}"
                       f"\tlag={p.lag}")
        click.echo(f"total lag: {total}")


@click.command("consume")
@bus_option
@registry_option
@click.argument("topic_names", nargs=-1, required=True, metavar="TOPIC...")
@click.option("--group", default="signalhub-cli", show_default=True, help="Consumer group.")
@click.option("--max", "max_messages", default=10, show_default=True,
              help="Stop after this many messages.")
@click.option("--timeout", default=5.0, show_default=True,
              help="Stop after this many seconds without a message.")
@click.option("--commit/--no-commit", default=False, show_default=True,
              help="Commit the group's offsets after reading.")
def consume(
    bus_url: str | None, registry_url: str | None, topic_names: tuple[str, ...], group: str,
    max_messages: int, timeout: float, commit: bool,
) -> None:
    """Read TOPIC... and print each decoded record as one JSON line.

    Messages that do not decode become dead letters on deadletter.v1, as everywhere.
    """
    with open_connection(bus_url, registry_url) as conn:
        try:
            reader = AvroConsumer(
                conn.bus.consumer(group, list(topic_names)), conn.serde,
                DeadLetterWriter(conn.bus, conn.serde), stage="cli-consume",
            )
        except HubError as exc:
            raise click.ClickException(str(exc)) from exc
        seen = 0
        try:
            while seen < max_messages:
                events = reader.poll(max_records=max_messages - seen, timeout=timeout)
                if not events:
                    break
                for event in events:
                    m = event.message
                    click.echo(to_json({"topic": m.topic, "partition": m.partition,
                                        "offset": m.offset, "schema": event.record_name,
                                        "value": event.record}))
                seen += len(events)
            if commit:
                reader.commit()
        finally:
            reader.close()
