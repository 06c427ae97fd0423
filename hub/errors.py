"""The hub's exception tree.

Every error the hub raises on purpose derives from :class:`HubError`. Errors from
kafka-python, fastavro, sqlite3 and HTTP clients are wrapped at the boundary
(``raise ... from exc``) into the most specific class below. The branch an error sits
on says what its caller should do, and the HTTP API answers by branch
(``connectors/sources/http_errors.py``)::

    HubError                        (any other: a fault of the hub itself, HTTP 500)
    ├── ConfigError                 settings or configuration files are invalid
    │   ├── WebhookTargetRefused    a webhook's host resolves to an address it may not reach
    │   ├── BusAccessDenied         (also a BusError)
    │   └── RegistryAccessDenied    (also a RegistryError)
    ├── InvalidInput                what a caller sent is invalid; do not retry as is (422)
    │   ├── IntakeError             a payload is no valid signal or consent; ``errors``
    │   │                           name each field (never its value)
    │   ├── KeyReused               an Idempotency-Key came back with another request
    │   ├── InvalidBsn              not nine digits passing the 11-test
    │   ├── AccountError            an account change that is not allowed
    │   ├── BatchFileError          a batch file cannot be imported at all
    │   ├── ExportError             an export (the DDAS delivery) cannot be written from
    │   │                           the records given; ``errors`` name each field
    │   └── InvalidCursor           a feed cursor that this hub did not give out
    ├── Conflict                    the request clashes with an earlier one (409)
    │   ├── InFlight                a request with the same key is being processed now
    │   ├── EventIdReused           an event id came back with different content
    │   └── InboxError              an inbox action that is not allowed now
    │       ├── AlertNotFound       no such alert for this team (also a NotFound)
    │       └── CaseNotFound        no such case for this team (also a NotFound)
    ├── NotFound                    what was asked for does not exist (404)
    │   ├── AlertNotFound           (also an InboxError)
    │   ├── CaseNotFound            (also an InboxError)
    │   └── UnknownSource           (also a SourceRegistryError)
    ├── Unavailable                 a part the hub needs cannot be reached now; retry (503)
    │   ├── BusUnavailable          (also a BusError)
    │   ├── RegistryUnavailable     (also a RegistryError)
    │   ├── IdempotencyError        (also a StoreError)
    │   ├── ConsentLedgerError      (also a StoreError)
    │   ├── StoreUnavailable        (also a StoreError)
    │   └── SinkUnavailable         (also a DeliveryError)
    ├── StoreError                  an application store (SQLite, PostgreSQL) failed
    │   ├── StoreUnavailable        the store's database cannot be reached or opened
    │   ├── IdempotencyError        the idempotency store cannot be used
    │   ├── ConsentLedgerError      the consent ledger cannot be used or is out of step
    │   ├── ImportLedgerError       the import ledger failed while importing
    │   └── SourceRegistryError     the source registry cannot do that
    │       └── UnknownSource       no source with that id (also a NotFound)
    ├── DeliveryError               a sink could not hand an alert over
    │   ├── DeliveryFailed          a webhook delivery did not succeed
    │   ├── DeliveryInterrupted     stopping while waiting to retry
    │   └── SinkUnavailable         a sink's flush failed; its batch is read again
    ├── LocalKafkaError             the local broker of the dev tooling failed
    │   └── ToolMissing             java or mvn is missing or too old
    ├── LocalRegistryError          the local registry of the dev tooling failed
    ├── LocalPostgresError          the local PostgreSQL of the dev tooling failed
    ├── ContainerToolError          the container tooling (podman, debootstrap) failed
    ├── BusError                    the log (embedded SQLite or Kafka) failed
    │   ├── TopicNotFound           produce/consume on a topic that does not exist
    │   ├── BusUnavailable          the broker or database cannot be reached
    │   ├── CommitFailed            the group rebalanced; uncommitted work is redelivered
    │   ├── BusAccessDenied         the broker refused the hub's TLS or SASL settings, or an
    │   │                           ACL is missing; the message names the setting to check
    │   └── Backpressure            the bus is full for now; carries ``retry_after``
    │                               seconds (429)
    ├── RegistryError               the schema registry failed
    │   ├── RegistryUnavailable     the registry cannot be reached or answers 5xx
    │   ├── SchemaNotFound          unknown schema id or subject/version
    │   ├── RegistryAccessDenied    the registry refused the hub's credentials (401/403)
    │   └── IncompatibleSchema      a schema change breaks the compatibility rule
    ├── SignalRejected              a signal cannot be routed (carries a dead-letter
    │                               reason code: VALIDATION_FAILED, NO_TEAM, ...)
    └── SerdeError                  a value could not be encoded or decoded
        ├── NotWireFormat           bytes do not start with magic byte 0 and a schema id
        └── DecodeError             the Avro body does not decode with its writer schema

``Unavailable``, ``NotFound`` and ``ConfigError`` are second bases of the errors listed
under them: they keep their place in their own branch too. Not hub errors: the web app's
``LoginRequired`` (a control signal: show the sign-in page) and the HTTP layers'
``ApiError`` (an answer, not a failure). Control signals are not failures: a refusal by
the router is a decision with a reason code, not an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AccountError",
    "AlertNotFound",
    "BatchFileError",
    "CaseNotFound",
    "ContainerToolError",
    "DeliveryError",
    "DeliveryFailed",
    "DeliveryInterrupted",
    "SinkUnavailable",
    "ImportLedgerError",
    "InboxError",
    "LocalKafkaError",
    "LocalPostgresError",
    "LocalRegistryError",
    "NotFound",
    "SourceRegistryError",
    "ToolMissing",
    "UnknownSource",
    "Backpressure",
    "Conflict",
    "ConsentLedgerError",
    "EventIdReused",
    "ExportError",
    "FieldError",
    "IdempotencyError",
    "InFlight",
    "IntakeError",
    "InvalidBsn",
    "InvalidCursor",
    "InvalidInput",
    "KeyReused",
    "RegistryAccessDenied",
    "RegistryUnavailable",
    "StoreError",
    "StoreUnavailable",
    "Unavailable",
    "BusAccessDenied",
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


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: its dotted name and the rule it breaks (never its value)."""

    field: str
    message: str


class InvalidInput(HubError):
    """What the caller sent is invalid; sending it again will not help."""


class InvalidBsn(InvalidInput):
    """The value is not a valid BSN (nine digits passing the 11-test)."""


class AccountError(InvalidInput):
    """An account change that is not allowed (unknown role, user exists, ...)."""


class BatchFileError(InvalidInput):
    """A batch file cannot be imported at all (unreadable, wrong encoding, a required
    column missing, a bad mapping); the message says what to do; nothing was published."""


class InvalidCursor(InvalidInput):
    """A feed cursor (``after`` of ``GET /v1/outcomes``) that this hub did not give out."""


class IntakeError(InvalidInput):
    """A payload is not a valid signal or consent; ``errors`` name each field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


class ExportError(InvalidInput):
    """An export (such as the DDAS delivery) cannot be written from the records given;
    ``errors`` name each field by its place in the export (never its value)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


class KeyReused(InvalidInput):
    """A request's Idempotency-Key came back with a different request."""

    def __init__(self, key: str) -> None:
        super().__init__("Idempotency-Key was used before for a different request")
        self.key = key


class Conflict(HubError):
    """The request clashes with an earlier one."""


class NotFound(HubError):
    """What was asked for does not exist (or is not the caller's to see)."""


class InboxError(Conflict):
    """An inbox action that is not allowed now (e.g. claiming a closed alert)."""


class AlertNotFound(InboxError, NotFound):
    """No such alert (for this team)."""


class CaseNotFound(InboxError, NotFound):
    """No such case (for this team), or an alert that belongs to no case."""


class InFlight(Conflict):
    """Another request with the same key is being processed right now."""

    def __init__(self, key: str) -> None:
        super().__init__(f"a request with the same {key.split(':', 1)[0]} key is in progress")
        self.key = key


class EventIdReused(Conflict):
    """An event id this source sent before (or earlier in the same request) came back
    with different content; ``index`` is its position in a batch."""

    def __init__(self, event_id: str, index: int | None = None) -> None:
        super().__init__(f"event_id {event_id} was sent before with different content;"
                         " send new events with new ids")
        self.event_id, self.index = event_id, index


class Unavailable(HubError):
    """A part the hub needs (bus, registry, a store) cannot be reached now; retry later."""


class StoreError(HubError):
    """An application store (SQLite or PostgreSQL, ``hub.store``) failed."""


class StoreUnavailable(StoreError, Unavailable):
    """The application database cannot be reached or opened (connection refused, wrong
    password, locked too long, a file that cannot be made); the message names the
    database without its password."""


class IdempotencyError(StoreError, Unavailable):
    """The idempotency store cannot be used."""


class ConsentLedgerError(StoreError, Unavailable):
    """The consent ledger cannot be used (unreadable, another version, out of step)."""


class ImportLedgerError(StoreError):
    """The import ledger (in the application database) failed while importing."""


class SourceRegistryError(StoreError):
    """The source registry cannot do that (invalid id or URN, duplicate source, bad file)."""


class UnknownSource(SourceRegistryError, NotFound):
    """No source with that id."""


class DeliveryError(HubError):
    """A sink could not hand an alert over."""


class DeliveryFailed(DeliveryError):
    """A webhook delivery did not succeed (the dead letter's error class)."""

    def __init__(self, message: str, *, attempts: int, permanent: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.permanent = permanent


class DeliveryInterrupted(DeliveryError):
    """Stopping while waiting to retry; the runner leaves the batch uncommitted."""


class SinkUnavailable(DeliveryError, Unavailable):
    """A sink could not flush a batch (its store or target failed); the batch is rewound
    and read again after a pause."""


class LocalKafkaError(HubError):
    """The project's local broker (test and development tooling) could not be prepared,
    started or reached."""


class ToolMissing(LocalKafkaError):
    """A required tool (java, mvn) is missing or too old; the message says what to install."""


class LocalRegistryError(HubError):
    """The project's local schema registry (test and development tooling) could not be
    fetched, started or reached."""


class LocalPostgresError(HubError):
    """The project's local PostgreSQL server (test and development tooling) could not be
    found, prepared, started or reached; the message says what to install."""
class ContainerToolError(HubError):
    """The project's container tooling could not make the Debian base or the hub's image,
    or run it (podman or debootstrap missing or failing); the message says which command
    failed and its last lines of output."""


class BusError(HubError):
    """The log failed (embedded SQLite or Apache Kafka)."""


class TopicNotFound(BusError):
    """The topic does not exist; create it first (``Bus.create_topic``)."""


class BusUnavailable(BusError, Unavailable):
    """The broker or the database cannot be reached."""


class BusAccessDenied(BusError, ConfigError):
    """The broker refused the hub: a failed TLS handshake (an untrusted certificate, a
    host name it does not name), a refused SASL sign-in or a missing ACL. The message
    says which ``HUB_KAFKA__*`` setting to check and never holds a secret."""


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


class RegistryUnavailable(RegistryError, Unavailable):
    """The registry cannot be reached, or answers with a server error."""


class RegistryAccessDenied(RegistryError, ConfigError):
    """The schema registry answered 401 or 403: the credentials in ``HUB_REGISTRY__*``
    are missing or wrong, or lack the right; the message never holds a secret."""


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
