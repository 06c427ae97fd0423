"""The hub's exception tree.

Every error the hub raises on purpose derives from :class:`HubError`. Errors from
kafka-python, fastavro, sqlite3 and HTTP clients are wrapped at the boundary
(``raise ... from exc``) into the most specific class below::

    HubError
    ├── ConfigError                 settings or configuration files are invalid
    │   └── WebhookTargetRefused    a webhook's host resolves to an address it may not reach
    ├── BusError                    the log (embedded SQLite or Kafka) failed
    │   ├── TopicNotFound           produce/consume on a topic that does not exist
    │   ├── BusUnavailable          the broker or database cannot be reached
    │   ├── CommitFailed            the group rebalanced; uncommitted work is redelivered
    │   └── Backpressure            the bus is full for now; carries ``retry_after`` seconds
    ├── RegistryError               the schema registry failed
    │   ├── SchemaNotFound          unknown schema id or subject/version
    │   └── IncompatibleSchema      a schema change breaks the compatibility rule
    ├── SignalRejected              a signal cannot be routed (carries a dead-letter
    │                               reason code: VALIDATION_FAILED, NO_TEAM, ...)
    └── SerdeError                  a value could not be encoded or decoded
        ├── NotWireFormat           bytes do not start with magic byte 0 and a schema id
        └── DecodeError             the Avro body does not decode with its writer schema

Control signals are not failures: a refusal by the router is a decision with a
reason code, not an exception.
"""

from __future__ import annotations

__all__ = [
    "Backpressure",
    "BusError",
    "BusUnavailable",
    "CommitFailed",
    "ConfigError",
    "DecodeError",
    "HubError",
    "IncompatibleSchema",
    "NotWireFormat",
    "RegistryError",
    "SchemaNotFound",
    "SerdeError",
    "SignalRejected",
    "TopicNotFound",
    "WebhookTargetRefused",
]


class HubError(Exception):
    """Root of every error Signalhub raises on purpose."""


class ConfigError(HubError):
    """Settings or a configuration file are invalid; the message says where and why."""


class WebhookTargetRefused(ConfigError):
    """A webhook's host resolves (at delivery time) to an address the ``webhooks``
    allow-list does not open, or plain http would leave the machine: never retried."""


class BusError(HubError):
    """The log failed (embedded SQLite or Apache Kafka)."""


class TopicNotFound(BusError):
    """The topic does not exist; create it first (``Bus.create_topic``)."""


class BusUnavailable(BusError):
    """The broker or the database cannot be reached."""


class CommitFailed(BusError):
    """The group rebalanced before the commit; the partition's new owner re-reads the
    uncommitted messages (at-least-once), so the caller may simply go on."""


class Backpressure(BusError):
    """The bus cannot take more for now; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RegistryError(HubError):
    """The schema registry failed."""


class SchemaNotFound(RegistryError):
    """No schema with that id, or no such subject/version."""


class IncompatibleSchema(RegistryError):
    """A new schema version breaks the subject's compatibility rule."""


class SignalRejected(HubError):
    """A decoded signal cannot be routed: invalid data, no team, unknown municipality.

    ``reason_code`` is the DeadLetterReason an operator sees; the message names fields
    and rules, never their personal values.
    """

    def __init__(self, message: str, reason_code: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class SerdeError(HubError):
    """A value could not be encoded or decoded."""


class NotWireFormat(SerdeError):
    """The bytes are not Confluent wire format (magic byte 0 + 4-byte schema id)."""


class DecodeError(SerdeError):
    """The Avro body does not decode with the writer schema named by its id."""
