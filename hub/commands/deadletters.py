"""`signalhub deadletters list|replay`: look at dead letters and send them through again."""

from __future__ import annotations

import re
import uuid
from typing import Any

import click

from hub.bus.base import Consumer, Message, Record, TopicSpec
from hub.commands.common import bus_option, open_connection, registry_option
from hub.connect import Connection
from hub.topics import DEADLETTER, SEALED_INTAKE, SIGNAL_TOPICS

_REPLAY_GROUP = "signalhub-deadletter-replay"
_ALERT_TOPIC = re.compile(r"^alerts\.[a-z0-9][a-z0-9-]{1,62}\.v1$")


def _replayable(dl: dict[str, Any]) -> bool:
    """A signal goes back to its signal topic (a sealed one to intake.sealed.v1); an
    alert only when a sink could not deliver it (DELIVERY_FAILED), back to its team's
    alert topic."""
    if dl["topic"] in SIGNAL_TOPICS.values() or dl["topic"] == SEALED_INTAKE:
        return True
    return dl["reason_code"] == "DELIVERY_FAILED" and bool(_ALERT_TOPIC.match(dl["topic"]))


@click.group("deadletters")
def deadletters() -> None:
    """Dead letters on deadletter.v1: list them (metadata and reason only), replay them."""


def _read_all(
    conn: Connection, group: str | None, timeout: float = 3.0
) -> tuple[list[Message], Consumer | None]:
    """Every message on deadletter.v1 after ``group``'s committed offset (all of them for
    a throw-away group); the consumer stays open when a group is named, for its commit."""
    conn.bus.create_topic(TopicSpec(DEADLETTER, 1))
    consumer = conn.bus.consumer(
        group or f"signalhub-dl-browser-{uuid.uuid4().hex[:8]}", [DEADLETTER]
    )
    out: list[Message] = []
    try:
        while batch := consumer.poll(1000, timeout):
            out.extend(batch)
            timeout = 0.5
    except Exception:
        consumer.close()
        raise
    if group is not None:
        return out, consumer
    consumer.close()
    return out, None


@deadletters.command("list")
@bus_option
@registry_option
@click.option("--reason", default=None, help="Only this reason code (e.g. NO_TEAM).")
def list_deadletters(bus_url: str | None, registry_url: str | None, reason: str | None) -> None:
    """List dead letters: offset, reason, origin, error (never the original content)."""
    with open_connection(bus_url, registry_url) as conn:
        messages, _ = _read_all(conn, None)
        shown = 0
        for m in messages:
            dl = conn.serde.decode(m.value).record
            if reason and dl["reason_code"] != reason:
                continue
            shown += 1
            click.echo(
                f"{m.offset}\t{dl['reason_code']}\t{dl['topic']}/{dl['partition']}/"
                f"{dl['offset']}\tstage={dl['stage']}\t{dl['error_class']}: "
                f"{dl['error_message'][:160]}"
            )
        click.echo(f"{shown} dead letter(s)")


def _replay_record(dl: dict[str, Any], dl_offset: int) -> Record:
    """The original message of a dead letter, as it goes back to its topic."""
    headers = tuple(
        (h["key"], h["value"]) for h in dl["original_headers"] if h["key"] != "dl_replayed_from"
    )
    headers += (("dl_replayed_from", f"{DEADLETTER}/{dl_offset}".encode()),)
    return Record(dl["topic"], dl["original_value"], dl["original_key"], headers)


def replay_deadletters(conn: Connection, reason: str | None = None) -> tuple[int, int]:
    """Replay every dead letter not replayed yet (only ``reason``'s, when given); return
    (replayed, skipped). Progress is committed in the group signalhub-deadletter-replay."""
    messages, consumer = _read_all(conn, _REPLAY_GROUP)
    assert consumer is not None
    try:
        records, skipped = [], 0
        for m in messages:
            dl = conn.serde.decode(m.value).record
            if (
                not _replayable(dl)
                or dl["original_value"] is None
                or (reason and dl["reason_code"] != reason)
            ):
                skipped += 1
                continue
            records.append(_replay_record(dl, m.offset))
        if records:
            conn.bus.produce(records)
        consumer.commit()
    finally:
        consumer.close()
    return len(records), skipped


def replay_one(conn: Connection, offset: int) -> str:
    """Replay the dead letter at ``offset`` of deadletter.v1 (whether or not it was
    replayed before: the router and the sinks drop what they handled already by its
    id); return the outcome in words. Raises LookupError when there is no such dead
    letter and ValueError when it cannot be replayed."""
    messages, _ = _read_all(conn, None)
    for m in messages:
        if m.offset != offset:
            continue
        dl = conn.serde.decode(m.value).record
        if not _replayable(dl) or dl["original_value"] is None:
            raise ValueError(
                f"dead letter {offset} ({dl['reason_code']} from {dl['topic']}) cannot be "
                "replayed: only signals, and alerts a sink could not deliver, go back"
            )
        conn.bus.produce([_replay_record(dl, offset)])
        return f"replayed dead letter {offset} ({dl['reason_code']}) to {dl['topic']}"
    raise LookupError(f"no dead letter at offset {offset}")


@deadletters.command("replay")
@bus_option
@registry_option
@click.option("--reason", default=None, help="Only dead letters with this reason code.")
def replay(bus_url: str | None, registry_url: str | None, reason: str | None) -> None:
    """Send dead-lettered signals through the router again (after a config fix), and
    undelivered alerts (DELIVERY_FAILED) to their team's sinks (after a receiver fix).

    Each original message goes back to its signal topic, or alerts.<team>.v1, unchanged
    (key, value, headers, plus dl_replayed_from). Progress is kept in the consumer group
    signalhub-deadletter-replay, so a dead letter is replayed once; one that fails
    again becomes a new dead letter. Idempotency on event_id means a replay never
    forwards a signal twice; sinks and webhook receivers drop alerts by alert_id.
    """
    with open_connection(bus_url, registry_url) as conn:
        replayed, skipped = replay_deadletters(conn, reason)
        click.echo(
            f"replayed {replayed} dead letter(s) to their signal or alert topics; "
            f"skipped {skipped} (not replayable, or another reason)"
        )
