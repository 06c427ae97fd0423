"""Team feedback to the source: was the alert picked up or not, and nothing more.

The core decides what is told (:mod:`hub.inbox.workflow`) and publishes it on the bus
with :func:`publish_outcome`.

When a team closes an alert in the inbox as ``PICKED_UP`` or ``NOT_PICKED_UP``, an
:class:`~hub.events.AlertOutcome` goes to ``outcomes.v1`` (:data:`hub.topics.OUTCOMES`),
keyed by the source's URN (the ``source`` of the signal, carried on the alert and on the
outcome). One topic for all sources, because a URN (``urn:nld:oin:...``) is no topic
name; each source reads only its own through ``GET /v1/outcomes``
(:mod:`hub.outcome_feed`). The record has no reason and no note field: a team's free text never
leaves the inbox. ``outcome_id`` is deterministic (uuid5 of the alert id), so publishing
again after a failure gives the same id and consumers drop the duplicate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog

from hub import cloudevents
from hub.bus.base import Bus, TopicSpec
from hub.events import AlertOutcome, PickUpOutcome, TeamAlert
from hub.serde import AvroSerde
from hub.topics import OUTCOMES

__all__ = ["OUTCOME_NAMESPACE", "ensure_outcomes_topic", "outcome_id_for", "publish_outcome"]

log = structlog.get_logger(__name__)

#: namespace of the deterministic outcome ids
OUTCOME_NAMESPACE = uuid.UUID("0b6d3c52-8f1e-4a8e-9d4c-2a7f5e3b1c90")


def outcome_id_for(alert_id: str) -> str:
    return str(uuid.uuid5(OUTCOME_NAMESPACE, f"{alert_id}/outcome"))


def ensure_outcomes_topic(bus: Bus, partitions: int = 3) -> None:
    bus.create_topic(TopicSpec(OUTCOMES, partitions))


def publish_outcome(
    bus: Bus,
    serde: AvroSerde,
    alert: TeamAlert,
    outcome: PickUpOutcome,
    source: str,
    *,
    recorded_at: datetime | None = None,
    topic: str = OUTCOMES,
) -> AlertOutcome:
    """Produce the coarse outcome of ``alert`` for ``source`` (durably) and return it.

    ``source`` is the signal's source URN (``alert.source``, or the inbox's record of
    it); ``recorded_at`` defaults to now. The topic must exist
    (:func:`ensure_outcomes_topic`).
    """
    record = AlertOutcome(
        outcome_id=outcome_id_for(alert.alert_id),
        alert_id=alert.alert_id,
        event_id=alert.event_id,
        team_id=alert.team_id,
        outcome=outcome,
        recorded_at=recorded_at or datetime.now(UTC),
        source=source,
    )
    headers = cloudevents.headers(
        id=record.outcome_id, source="urn:signalhub:inbox",
        type="nl.signalhub.alert-outcome.v1", time=record.recorded_at,
    )
    partition, offset = bus.produce_one(
        topic, serde.encode_model(topic, record), source.encode(), headers
    )
    log.info(
        "alert outcome published", topic=topic, partition=partition, offset=offset,
        alert_id=alert.alert_id, outcome=outcome.value,
    )
    return record
