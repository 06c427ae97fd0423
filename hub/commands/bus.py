"""`signalhub topics ...`, `signalhub consume`: look at the bus."""

from __future__ import annotations

import click

from hub.bus.base import TopicSpec
from hub.commands.common import bus_option, open_connection, registry_option, to_json
from hub.consume import AvroConsumer
from hub.deadletters import DeadLetterWriter
from hub.errors import HubError
from hub.topics import ensure_topics


@click.group("topics")
def topics() -> None:
    """Create and inspect topics, and the lag of consumer groups."""


@topics.command("init")
@bus_option
@click.option("--partitions", default=3, show_default=True, help="Partitions per topic.")
def init_topics(bus_url: str | None, partitions: int) -> None:
    """Create the hub's core topics (signals, consent, audit, dead letters) if missing."""
    with open_connection(bus_url) as conn:
        ensure_topics(conn.bus, partitions)
        click.echo("topics: " + ", ".join(sorted(conn.bus.list_topics())))


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
