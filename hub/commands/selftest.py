"""`signalhub selftest`: a publish/consume round trip on the configured bus."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import click

from hub.bus.base import Record
from hub.commands.common import bus_option, open_connection, registry_option
from hub.consume import AvroConsumer
from hub.deadletters import DeadLetterWriter
from hub.events import DebtSignal, EvictionRisk, YouthCareExit
from hub.samples import sample_debt, sample_eviction, sample_youth_exit
from hub.topics import SIGNAL_TOPICS, ensure_topics


@click.command("selftest")
@bus_option
@registry_option
@click.option("--count", default=100, show_default=True, help="Signals per event type.")
def selftest(bus_url: str | None, registry_url: str | None, count: int) -> None:
    """Publish synthetic signals of every type plus one malformed message, read them
    back in a fresh consumer group, and show that the malformed one became a dead letter.

    Nothing personal is involved: every sample is fictional.
    """
    rng = random.Random()
    with open_connection(bus_url, registry_url) as conn:
        ensure_topics(conn.bus)
        started = time.perf_counter()
        records = []
        makers: dict[str, Callable[[random.Random], DebtSignal | EvictionRisk | YouthCareExit]]
        makers = {"debt-signal": sample_debt, "eviction-risk": sample_eviction,
                  "youth-care-exit": sample_youth_exit}
        for event_type, make in makers.items():
            topic = SIGNAL_TOPICS[event_type]
            for _ in range(count):
                signal = make(rng)
                records.append(Record(
                    topic, conn.serde.encode_model(topic, signal), signal.subject_ref.encode(),
                    (("ce_id", signal.event_id.encode()), ("ce_type", event_type.encode())),
                ))
        records.append(Record(SIGNAL_TOPICS["debt-signal"], b"not wire format", b"selftest"))
        conn.bus.produce(records)
        produced = time.perf_counter() - started
        click.echo(f"published {len(records)} messages on {conn.bus.kind} bus "
                   f"in {produced:.2f}s ({len(records) / produced:,.0f}/s)")

        group = "signalhub-selftest"  # commits, so each run reads only what it added
        reader = AvroConsumer(
            conn.bus.consumer(group, list(SIGNAL_TOPICS.values())), conn.serde,
            DeadLetterWriter(conn.bus, conn.serde), stage="selftest",
        )
        by_type: dict[str, int] = {}
        deadline = time.monotonic() + 60
        seen_ids = {r.headers[0][1] for r in records if r.headers}
        try:
            while seen_ids and time.monotonic() < deadline:
                for event in reader.poll(max_records=1000, timeout=1.0):
                    event_id = str(event.record["event_id"]).encode()
                    if event_id not in seen_ids:  # another producer's signal: not counted
                        continue
                    seen_ids.discard(event_id)
                    name = event.record_name.rsplit(".", 1)[-1]
                    by_type[name] = by_type.get(name, 0) + 1
            reader.commit()
        finally:
            reader.close()
        for name, n in sorted(by_type.items()):
            click.echo(f"  read back {n:>6} {name}")
        click.echo(f"  dead letters written: {reader.dead_lettered} (1 malformed message per run)")
        if seen_ids:
            raise click.ClickException(f"{len(seen_ids)} published signals were not read back")
        click.echo("selftest passed: every signal read back; the malformed message became a "
                   "dead letter on deadletter.v1")
