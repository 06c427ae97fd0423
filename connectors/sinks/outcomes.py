"""Team feedback to the source: was the alert picked up or not, and nothing more.

When a team closes an alert in the inbox as ``PICKED_UP`` or ``NOT_PICKED_UP``, an
:class:`~hub.events.AlertOutcome` goes to ``outcomes.v1``, keyed by the source's URN (the
``source`` of the signal, carried on the alert). One topic for all sources, because a
URN (``urn:nld:oin:...``) is no topic name; a relay or a source's consumer selects its
own outcomes by key. The record has no reason and no note field: a team's free text never
leaves the inbox. ``outcome_id`` is deterministic (uuid5 of the alert id), so publishing
again after a failure gives the same id and consumers drop the duplicate.
"""

from __future__ import annotations

# The logic lives in the core (hub.inbox.outcomes); these names stay importable here.
from hub.inbox.outcomes import (
    OUTCOME_NAMESPACE,
    ensure_outcomes_topic,
    outcome_id_for,
    publish_outcome,
)
from hub.topics import OUTCOMES

__all__ = ["OUTCOMES", "OUTCOME_NAMESPACE", "ensure_outcomes_topic", "outcome_id_for",
           "publish_outcome"]  # fmt: skip
